"""The composition root: one `App` holds what the parts need, built once from config.

Nothing in supportd is a module-level singleton; the CLI and the service build
an App and pass it down. Only the edges take an App (the pipeline's steps and
runner, intake, service, CLI); the parts below them take the values they use:
the notifier its config, SLA policy and clock, the outbox its sessions, spool
and config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from daemon.config import sla_config
from daemon.config.schema import Config, ImapConfig, OutboundConfig, parse_duration
from daemon.outbound.notifier import Notifier
from daemon.sla.policy import SlaPolicy
from daemon.storage import blobs, db
from daemon.storage.spool import Spool, SpooledLetter
from daemon.trust.check import Checker, Settings

if TYPE_CHECKING:
    from daemon.outbound.oauth2 import OAuthError
    from daemon.outbound.outbox import Outbox
    from daemon.scan.scanners import Scanners
    from daemon.storage.quarantine import Quarantine
    from daemon.tickets.knowledge import Knowledge
    from daemon.tickets.scope import Classifier


class App:
    def __init__(self, config: Config, *, clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self._clock = clock or (lambda: datetime.now(UTC))
        self.spool = Spool(config.spool_dir)
        self.sla: SlaPolicy = sla_config.build_policy(config)

    def reconfigure(self, config: Config) -> None:
        """Switch to a new, already validated config (SIGHUP)."""
        self.config, self.sla = config, sla_config.build_policy(config)
        # All read anew from the config.
        for derived in ("notifier", "outbox", "trust", "scanners", "scope", "knowledge"):
            self.__dict__.pop(derived, None)

    def now(self) -> datetime:
        return self._clock()

    @cached_property
    def engine(self) -> Engine:
        engine = db.make_engine(self.config.storage.url)
        db.use_clock(engine, self.now)
        return engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return db.make_sessionmaker(self.engine)

    @cached_property
    def notifier(self) -> Notifier:
        return Notifier(self.config, self.sla, self.now)

    @cached_property
    def trust(self) -> Checker:
        auth = self.config.auth
        return Checker(Settings(
            trusted_ids=(*auth.trusted_ids, *self.config.security.trusted_authserv_ids),
            internal_hosts=auth.internal_hosts, verify=auth.verify,
            dns_servers=auth.dns_servers,
            dns_timeout=parse_duration(auth.dns_timeout).total_seconds()))

    @cached_property
    def scope(self) -> Classifier:
        """The topic rules (issue 13), compiled on first use: words lemmatised once."""
        from daemon.config.rule_files import load_topics
        from daemon.tickets.scope import Classifier

        cfg = self.config.scope
        return Classifier(load_topics("scope.rules", self.config.scope_rules_path),
                          cfg.min_score, cfg.margin, cfg.out_of_scope_score)

    @cached_property
    def knowledge(self) -> Knowledge:
        """The knowledge base (§1.2, §5.9): empty when `[knowledge] folder` is unset."""
        from daemon.config.rule_files import load_entries
        from daemon.tickets.knowledge import Knowledge

        folder = self.config.knowledge.folder
        return Knowledge(load_entries("knowledge.folder", Path(folder)) if folder else (),
                         self.config.knowledge.min_score)

    @cached_property
    def scanners(self) -> Scanners:
        """The spam backend and clamd (`[spam]`, `[antivirus]`)."""
        from daemon.scan.scanners import Scanners

        return Scanners(self.config.spam, self.config.antivirus, self.config.auth.internal_hosts)

    @cached_property
    def quarantine(self) -> Quarantine:
        from daemon.storage.quarantine import Quarantine

        return Quarantine(self.spool)

    @cached_property
    def outbox(self) -> Outbox:
        # Imported here: `supportd ingest` never sends, and the outbox brings smtplib
        # and ssl with it (the start-up budget, tests/unit/cli/test_startup_imports.py).
        from daemon.outbound.outbox import Outbox

        out = self.config.outbound
        sign = None
        if out.dkim_selector:
            from daemon.outbound.dkim_sign import Signer

            sign = Signer(out.dkim_selector, out.dkim_domain or self.config.service.domain,
                          out.dkim_key_file)
        return Outbox(self.config, self.sessions, self.spool, self.now, sign)

    def token_alarm(self, section: str) -> Callable[[OAuthError], None]:
        """What tells the admins, once, that `[imap]` or `[outbound]` has lost its
        OAuth2 refresh token (a letter and a marker beside the token's file)."""
        from daemon.outbound.oauth2 import TokenSettings, uses_oauth
        from daemon.outbound.token_alarm import TokenAlarm

        boxes: dict[str, ImapConfig | OutboundConfig] = {
            "imap": self.config.imap, "outbound": self.config.outbound}
        box = boxes[section]
        # One file may serve both (one token granted both scopes): both stop with it.
        sharing = tuple(name for name, other in boxes.items() if name == section or (
            uses_oauth(other) and other.oauth_refresh_token_file == box.oauth_refresh_token_file))
        return TokenAlarm(TokenSettings.of(section, box), f"{box.host}:{box.port}", sharing,
                          self.sessions, lambda: self.notifier, self.now)

    def stored_path(self, letter: SpooledLetter) -> Path:
        return self.spool.store_path(letter.spool_id, letter.received_at)

    def recorded_path(self, letter: SpooledLetter) -> str:
        """Where the database says the stored letter is: relative to the spool folder."""
        return self.spool.relative(self.stored_path(letter))

    # Where raw letters and attachments are kept for good (`[storage] blobs`,
    # daemon/storage/blobs.py): the spool folder, or the database's blobs table in
    # the transaction of the letter's rows (the local copy goes after the commit).

    @property
    def blobs_in_database(self) -> bool:
        return self.config.storage.blobs == "database"

    def raw_locator(self, letter: SpooledLetter) -> str:
        """What the letter's rows name as its raw bytes."""
        if self.blobs_in_database:
            return blobs.locator_of(letter.sha256)
        return self.recorded_path(letter)

    def keep_raw(self, session: Session, letter: SpooledLetter) -> None:
        """The raw letter into the database in `session`'s transaction (if it goes there)."""
        if self.blobs_in_database:
            blobs.put(session, letter.raw, letter.sha256)

    def keep_attachment(self, session: Session, content: bytes | Iterator[bytes],
                        digest: str | None) -> tuple[str, str]:
        """An attachment kept for good: (its sha256, its locator)."""
        if not self.blobs_in_database:
            digest, path = self.spool.put_attachment(content, digest)
            return digest, self.spool.relative(path)  # the database's paths: spool-relative
        data = content if isinstance(content, bytes) else b"".join(content)
        locator = blobs.put(session, data, digest)
        return locator[len(blobs.DB):], locator

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
