"""The IMAP edge: letters taken from a mailbox, marked only after their ticket is committed.

One `ImapPoller` runs in its own thread (`run`) and watches one folder, with
IDLE when the server offers it and polling otherwise. For every candidate
message it calls `ingest_now`, which spools and processes the letter at once;
only when that returns (the transaction committed) is the message marked on the
server — flagged ``\\Seen`` + ``$SupportdDone``, or moved to `processed_folder`.
A crash between the commit and the mark leaves a message whose `Inbound` row
already exists: the next poll recognises it by its source key (or, after a
UIDVALIDITY change renumbered the mailbox, by the SHA-256 of its bytes) and
only marks it. So a letter is never lost and never makes two tickets.

Where polling stands (UIDVALIDITY and the last UID done) is kept per mailbox in
`MailboxState`; the marker is what really decides, the last UID only narrows
the search. A database that is away leaves the message untouched and backs
off; any connection error is logged, waited out (1 s doubling to 60 s) and
followed by a fresh connection. The thread never dies of an exception.
"""

from __future__ import annotations

import contextlib
import imaplib
import time
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr
from hashlib import sha256
from typing import Any

import structlog
from imapclient import IMAPClient
from imapclient.util import to_bytes
from sqlalchemy import select

from daemon.app import App
from daemon.config.schema import ImapConfig, parse_duration
from daemon.intake.imap_login import open_mailbox
from daemon.intake.ingest import Refused, ingest_now
from daemon.outbound.oauth2 import OAuthError, TokenSettings, TokenSource, uses_oauth
from daemon.pipeline.runner import TemporaryFailure
from daemon.storage import db
from daemon.storage.models import Inbound, MailboxState
from daemon.storage.spool import Envelope

log = structlog.get_logger("supportd.imap")

MARKER = "$SupportdDone"
SEEN, DELETED = b"\\Seen", b"\\Deleted"
# RFC 2177: a client should re-issue IDLE at least every 29 minutes, or be logged off.
IDLE_RENEW = 25 * 60.0
IDLE_SLICE = 2.0  # seconds per idle_check, so a stop request is noticed quickly
SLEEP_SLICE = 0.5
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 60.0
BATCH = 100  # letters per poll; the loop polls again at once when there were more


def envelope_sender(raw: bytes) -> str | None:
    """The envelope sender, as far as a letter fetched over IMAP still knows it.

    IMAP has no envelope. The delivery agent recorded the reverse-path in the
    topmost Return-Path header ("" for the null sender <> of a bounce); without
    one the sender is unknown (None), which is not the same as a bounce."""
    head = BytesHeaderParser(policy=compat32).parsebytes(raw, headersonly=True)
    paths = head.get_all("Return-Path") or []
    return parseaddr(str(paths[0]))[1] if paths else None


class ImapPoller:
    def __init__(self, app: App, stop_requested: Callable[[], bool],
                 wake_outbox: Callable[[], None]) -> None:
        self.app = app
        self.stop_requested = stop_requested
        self.wake_outbox = wake_outbox
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self.last_uid = 0
        self.keywords = True  # the server keeps our keyword (PERMANENTFLAGS)
        self.more = False  # the last poll stopped at BATCH with letters left
        self.log = log.bind(mailbox=self.mailbox_key)
        # OAuth2: one token source for the poller's life ([imap] needs a restart anyway).
        self.tokens = TokenSource(TokenSettings.of("imap", self.cfg),
                                  on_refusal=app.token_alarm("imap")) \
            if uses_oauth(self.cfg) else None

    @property
    def cfg(self) -> ImapConfig:
        return self.app.config.imap

    @property
    def mailbox_key(self) -> str:
        cfg = self.cfg
        return f"{cfg.username}@{cfg.host}:{cfg.port}/{cfg.folder}"

    # ------------------------------------------------------------ the loop

    def run(self) -> None:
        """Take letters until `stop_requested()`; never raises."""
        delay = BACKOFF_FIRST
        self.log.info("imap.started", idle=self.cfg.idle, folder=self.cfg.folder,
                      processed_folder=self.cfg.processed_folder or None)
        while not self.stop_requested():
            try:
                self.poll_once()
                delay = BACKOFF_FIRST
                if not self.more:
                    self.wait_for_mail()
            except TemporaryFailure as exc:
                self.log.warning("imap.deferred", error=_first_line(exc), retry_in=delay)
                self._sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
            except Exception as exc:
                # A network or server trouble is one line; anything else is a bug, with
                # its traceback.
                expected = isinstance(exc, OSError | imaplib.IMAP4.error | OAuthError)
                self.log.error("imap.error", error=_first_line(exc), kind=type(exc).__name__,
                               retry_in=delay, exc_info=not expected)
                self.disconnect(graceful=False)
                self._sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
        self.disconnect()
        self.log.info("imap.stopped")

    def poll_once(self) -> int:
        """Take what waits in the folder now; returns how many messages were marked.

        Raises TemporaryFailure when the database is away (the message stays as it
        is) and the client library's errors when the connection fails."""
        self._ensure_connected()
        client = self._client()
        self._select()
        uids = self._candidates()
        self.more = len(uids) > BATCH
        taken = 0
        done = self.last_uid
        try:
            for uid in uids[:BATCH]:
                if self.stop_requested():
                    self.more = False
                    break
                if self._take(client, uid):
                    taken += 1
                done = uid
        finally:
            if done != self.last_uid:
                self._save_last_uid(done)
            if taken:
                self.wake_outbox()
        return taken

    def wait_for_mail(self) -> None:
        """IDLE until the server reports new mail, or sleep `poll_interval`."""
        client = self.client
        if client is not None and _news(client):
            return  # a letter arrived while we were busy; the server won't say it again
        if client is not None and self.cfg.idle and client.has_capability("IDLE"):
            self._idle(client)
        else:
            self._sleep(parse_duration(self.cfg.poll_interval).total_seconds())

    def _idle(self, client: IMAPClient) -> None:
        client.idle()
        started = time.monotonic()
        hollow = 0  # wake-ups with nothing to read: how imapclient shows a closed socket
        try:
            while not self.stop_requested():
                before = time.monotonic()
                responses = client.idle_check(timeout=IDLE_SLICE)
                if any(_is_bye(r) for r in responses):
                    raise ConnectionError("the server said BYE during IDLE")
                if any(_is_new_mail(r) for r in responses):
                    break
                if not responses and time.monotonic() - before < IDLE_SLICE / 2:
                    hollow += 1
                    if hollow >= 3:
                        raise ConnectionError("the server closed the connection during IDLE")
                    continue
                hollow = 0
                if time.monotonic() - started >= IDLE_RENEW:
                    break
        except BaseException:
            self.disconnect(graceful=False)  # no DONE on a connection that is gone
            raise
        client.idle_done()

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop_requested():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(SLEEP_SLICE, left))

    # ------------------------------------------------------------ the connection

    def _client(self) -> IMAPClient:
        if self.client is None:
            raise ConnectionError("not connected")
        return self.client

    def _ensure_connected(self) -> None:
        if self.client is not None:
            try:
                self.client.noop()
                return
            except Exception as exc:  # a restarted server: start over
                self.log.info("imap.reconnecting", error=_first_line(exc))
                self.disconnect(graceful=False)
        self.connect()

    def connect(self) -> None:
        cfg = self.cfg
        client = open_mailbox(cfg, self.tokens)
        try:
            if cfg.processed_folder and not client.folder_exists(cfg.processed_folder):
                try:
                    client.create_folder(cfg.processed_folder)
                    self.log.info("imap.folder_created", folder=cfg.processed_folder)
                except Exception:
                    # Another daemon may have just created it; anything else shows up
                    # when the first MOVE fails.
                    if not client.folder_exists(cfg.processed_folder):
                        raise
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        self.client = client
        self.app.spool.ensure()
        self.log.info("imap.connected", host=cfg.host, port=cfg.port, tls=cfg.ssl or cfg.starttls,
                      auth=cfg.auth,
                      idle=cfg.idle and client.has_capability("IDLE"),
                      move=client.has_capability("MOVE"))

    def disconnect(self, graceful: bool = True) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        if graceful:
            with contextlib.suppress(Exception):
                client.logout()
                return
        with contextlib.suppress(Exception):
            client.shutdown()

    # ------------------------------------------------------------ the folder

    def _select(self) -> None:
        """(Re)select the folder: a fresh view, and a UIDVALIDITY check every poll."""
        client = self._client()
        info = client.select_folder(self.cfg.folder)
        _news(client, forget=True)  # what SELECT reported is in this poll's view
        self.uidvalidity = int(info[b"UIDVALIDITY"])
        permanent = {bytes(f).lower() for f in info.get(b"PERMANENTFLAGS", ())}
        self.keywords = b"\\*" in permanent or MARKER.lower().encode() in permanent
        key = self.mailbox_key
        with self._db() as session:
            state = session.scalar(select(MailboxState).where(MailboxState.mailbox == key))
            if state is None:
                state = MailboxState(mailbox=key, uidvalidity=self.uidvalidity, last_uid=0)
                session.add(state)
            elif state.uidvalidity != self.uidvalidity:
                # The server renumbered the folder (restored, migrated, rebuilt). Start
                # from UID 1; the marker, the source key and the SHA-256 check keep
                # letters taken before from being taken again.
                self.log.warning("imap.uidvalidity_changed", old=state.uidvalidity,
                                 new=self.uidvalidity, last_uid=state.last_uid)
                state.uidvalidity, state.last_uid = self.uidvalidity, 0
            self.last_uid = state.last_uid

    def _candidates(self) -> list[int]:
        criteria: list[Any] = ["UID", f"{self.last_uid + 1}:*"]
        if self.keywords:
            criteria += ["UNKEYWORD", MARKER]
        elif not self.cfg.processed_folder:
            criteria += ["UNSEEN"]  # a server without keywords: \Seen is all we have
        else:
            criteria += ["UNDELETED"]
        # "N:*" always matches the highest UID, even below N (RFC 3501 6.4.8).
        return sorted(int(u) for u in self._client().search(criteria) if u > self.last_uid)

    def _save_last_uid(self, uid: int) -> None:
        try:
            with self._db() as session:
                state = session.scalar(
                    select(MailboxState).where(MailboxState.mailbox == self.mailbox_key))
                if state is not None and state.uidvalidity == self.uidvalidity:
                    state.last_uid = max(state.last_uid, uid)
            self.last_uid = uid
        except Exception as exc:  # it only narrows the next search; no harm done
            self.log.warning("imap.state_not_saved", error=_first_line(exc))

    @contextlib.contextmanager
    def _db(self) -> Any:
        try:
            with db.unit_of_work(self.app.sessions) as session:
                yield session
        except Exception as exc:
            if db.is_temporary(exc):
                raise TemporaryFailure(str(exc)) from exc
            raise

    # ------------------------------------------------------------ one letter

    def _take(self, client: IMAPClient, uid: int) -> bool:
        """Ingest (or recognise) one message, then mark it. False: it vanished."""
        fetched = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
        raw = fetched.get(b"BODY[]") if fetched else None
        if raw is None:
            return False  # expunged meanwhile by someone else
        source_key = f"imap:{self.mailbox_key}:{self.uidvalidity}:{uid}"
        bound = self.log.bind(uid=uid, source_key=source_key, size=len(raw))
        earlier = self._committed_before(source_key, raw)
        if earlier is not None:
            bound.info("imap.letter_recovered", spool_id=earlier)
            self._mark(client, uid)
            return True
        envelope = Envelope(source="imap", mail_from=envelope_sender(raw), source_key=source_key)
        try:
            result = ingest_now(self.app, raw, envelope)
        except Refused as exc:
            # Recorded nowhere else: keep the bytes with the reason, then let go.
            spooled = self.app.spool.accept(raw, envelope, claim=True, now=self.app.now())
            kept = self.app.spool.shunt(spooled.path, f"refused from IMAP: {exc}\n")
            bound.warning("imap.letter_refused", reason=str(exc), kept=str(kept))
            self._mark(client, uid)
            return True
        # A shunted letter is kept in the spool with its trace for a person to see;
        # leaving it on the server would only shunt another copy on every poll.
        report = bound.warning if result.outcome == "shunted" else bound.info
        report("imap.letter_taken", outcome=result.outcome, tid=result.tid,
               spool_id=result.spool_id)
        self._mark(client, uid)
        return True

    def _committed_before(self, source_key: str, raw: bytes) -> str | None:
        """The spool id of this message's earlier `Inbound` row, if it has one."""
        digest = sha256(raw).hexdigest()
        this_box = f"imap:{self.mailbox_key}:"
        this_validity = f"{this_box}{self.uidvalidity}:"
        with self._db() as session:
            same_key = session.scalar(
                select(Inbound.spool_id).where(Inbound.source_key == source_key))
            if same_key is not None:
                return same_key
            # Under an earlier UIDVALIDITY the same message had another UID: the same
            # bytes taken from this folder then are this letter.
            rows = session.execute(select(Inbound.spool_id, Inbound.source_key).where(
                Inbound.sha256 == digest, Inbound.source == "imap"))
            for spool_id, key in rows:
                if key and key.startswith(this_box) and not key.startswith(this_validity):
                    return str(spool_id)
        return None

    def _mark(self, client: IMAPClient, uid: int) -> None:
        folder = self.cfg.processed_folder
        if not folder:
            flags = [SEEN, MARKER.encode()] if self.keywords else [SEEN]
            client.add_flags([uid], flags, silent=True)
        elif client.has_capability("MOVE"):
            client.move([uid], folder)
        else:
            client.copy([uid], folder)
            # The marker too, so a move half done (copied, not expunged) is not retaken.
            flags = [DELETED, MARKER.encode()] if self.keywords else [DELETED]
            client.add_flags([uid], flags, silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge([uid])
            else:
                client.expunge()


def _news(client: IMAPClient, forget: bool = False) -> bool:
    """Whether EXISTS/RECENT came in as a side note to an earlier command.

    A server reports a new message once, with whatever command it answers next
    (our SEARCH, FETCH or MOVE); imaplib files such notes away, and IDLE started
    afterwards would wait for news that was already given."""
    stash = getattr(getattr(client, "_imap", None), "untagged_responses", None)
    if not isinstance(stash, dict):
        return False
    if forget:
        for key in ("EXISTS", "RECENT"):
            stash.pop(key, None)
        return False
    return bool(stash.get("EXISTS") or stash.get("RECENT"))


def _is_new_mail(response: tuple[Any, ...]) -> bool:
    return len(response) >= 2 and isinstance(response[0], int) and \
        response[1] in (b"EXISTS", b"RECENT")


def _is_bye(response: tuple[Any, ...]) -> bool:
    head = response[0] if response else None
    return isinstance(head, bytes | str) and to_bytes(head).upper() == b"BYE"


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text.splitlines() else text
