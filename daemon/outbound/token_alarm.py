"""One letter to the admins when an OAuth2 refresh token is refused, not one per poll.

A `TokenSource` calls its `TokenAlarm` the first time it meets a refusal of the
token now in the file. The alarm queues the letter (`Notifier.token_refused`) and
writes `FILE.refused` beside the refresh-token file, holding the refusal's
fingerprint: the IMAP poller and the outbox sharing one token, a second daemon, a
restart — all find the marker and stay silent. A new token in the file is another
fingerprint (and a successful renewal removes the marker), so the next refusal is
told again. The marker is checked and written under the token's lock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy.orm import Session, sessionmaker

from daemon.outbound.notifier import Notifier
from daemon.outbound.oauth2 import OAuthError, TokenSettings, file_lock, write_atomically
from daemon.storage import db

log = structlog.get_logger("supportd.oauth")


class TokenAlarm:
    def __init__(self, settings: TokenSettings, server: str, sections: tuple[str, ...],
                 sessions: sessionmaker[Session], notifier: Callable[[], Notifier],
                 now: Callable[[], datetime]) -> None:
        self.settings = settings
        self.server = server  # "imap.example.com:993", for the letter
        self.sections = sections  # what stops with this token: "imap", "outbound" or both
        self.sessions = sessions
        self.notifier = notifier
        self.now = now  # the App's clock

    def __call__(self, refusal: OAuthError) -> None:
        s = self.settings
        with file_lock(s.lock_file):
            if self._already_told(refusal.fingerprint):
                return
            with db.unit_of_work(self.sessions) as session:
                told = self.notifier().token_refused(
                    session, sections=self.sections, account=s.username, server=self.server,
                    token_url=s.token_url, token_file=s.refresh_token_file, error=str(refusal))
            try:
                write_atomically(s.refused_marker, json.dumps({
                    "fingerprint": refusal.fingerprint, "error": str(refusal),
                    "told": told, "at": self.now().astimezone(UTC).isoformat()}) + "\n")
            except OSError as exc:  # the letter is queued; a restart may queue another
                log.warning("oauth.marker_not_written", file=str(s.refused_marker),
                            error=str(exc))
        log.info("oauth.admins_told", section=s.section, to=told)

    def _already_told(self, fingerprint: str) -> bool:
        try:
            marker = json.loads(self.settings.refused_marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(marker, dict) and marker.get("fingerprint") == fingerprint
