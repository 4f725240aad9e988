"""The receiving edge: a letter in, durably spooled, and an answer for its sender.

Three ways in share this module. The SMTP/LMTP listener calls `accept`, which
only writes the spool and says 250 once the bytes are fsync'd (the runner picks
the letter up). `supportd ingest` (an MTA pipe transport) and the IMAP poller
call `ingest_now`, which spools the letter into this worker's own claim and
runs it through the pipeline at once, because their sender must learn the
outcome before it lets go of the letter: exit 75 (EX_TEMPFAIL) makes the MTA
retry, and IMAP leaves the message where it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from daemon.app import App
from daemon.intake.thin_pipe import envelope_from_environment as envelope_from_environment
from daemon.intake.thin_pipe import refusal
from daemon.pipeline.runner import Result, TemporaryFailure, process
from daemon.storage.spool import Envelope, Receiving, SpooledLetter

log = structlog.get_logger("supportd.ingest")

EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75


class Refused(Exception):
    """The letter is refused for good (too big, empty): tell the sender, keep nothing."""


@dataclass(frozen=True)
class Accepted:
    spool_id: str


def check_acceptable(app: App, raw: bytes) -> None:
    why = refusal(raw, app.config.smtp.max_message_size)
    if why is not None:
        raise Refused(why)


def accept(app: App, raw: bytes, envelope: Envelope) -> SpooledLetter:
    """Spool a letter for the runner. Raises OSError when the spool can't take it."""
    check_acceptable(app, raw)
    spooled = app.spool.accept(raw, envelope, now=app.now())
    log.info("letter.accepted", spool_id=spooled.spool_id, source=envelope.source,
             size=len(raw), mail_from=envelope.mail_from)
    return spooled


def accept_received(app: App, receiving: Receiving, blank: bool) -> str:
    """Accept a letter the listener wrote as it arrived (a big one): its spool id.
    Its size was held to the limit while it was read."""
    if blank:
        receiving.abort()
        raise Refused("5.6.0 Empty message")
    try:
        spool_id, _ = receiving.commit(app.now())
    except BaseException:
        receiving.abort()
        raise
    log.info("letter.accepted", spool_id=spool_id, source=receiving.envelope.source,
             size=receiving.size, mail_from=receiving.envelope.mail_from)
    return spool_id


def ingest_now(app: App, raw: bytes, envelope: Envelope) -> Result:
    """Spool and process at once. Raises Refused, or TemporaryFailure (nothing kept)."""
    check_acceptable(app, raw)
    try:
        spooled = app.spool.accept(raw, envelope, claim=True, now=app.now())
    except OSError as exc:
        raise TemporaryFailure(f"spool: {exc}") from exc
    try:
        return process(app, spooled.path, spooled)
    except TemporaryFailure:
        # The sender keeps the letter and retries; ours must not be processed too.
        app.spool.discard(spooled.path)
        raise


def exit_code_for(app: App, raw: bytes, envelope: Envelope) -> tuple[int, str]:
    """`supportd ingest`: (sysexits code, one line for stderr/stdout)."""
    try:
        app.spool.ensure()
        result = ingest_now(app, raw, envelope)
    except Refused as exc:
        return EX_DATAERR, f"refused: {exc}"
    except (TemporaryFailure, OSError) as exc:
        return EX_TEMPFAIL, f"temporary failure, try again later: {str(exc).splitlines()[0]}"
    # The TID first: Postfix's delivery log keeps only the start of a pipe's output
    # ("delivered via supportd service (SD-000123 ticket new)").
    return EX_OK, " ".join(filter(None, (result.tid, result.outcome, result.reason)))
