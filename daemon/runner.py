"""The runner: one spooled letter through the pipeline in one transaction.

The order is what makes a letter impossible to lose or double:
1. the letter is already durable in the spool (claimed by rename);
2. the pipeline runs inside one database transaction, which also writes the
   letter's `Inbound` row keyed by its spool id (unique);
3. after the commit the spool file moves to the store.
A crash before 2 commits leaves the file to be retried; a crash between 2 and 3
leaves a file whose spool id the database already has, which `process` then
only moves. A database that is away releases the letter for a later retry.
A bug in a step shunts the letter aside with the reason (Mailman's "shunt"),
after trying to open a ticket flagged for staff so a person still sees it.
A full disk (an attachment that can't be stored) is temporary like a database
that is away: the letter goes back to incoming/ and waits, it is never shunted.
If the move to the store fails after the commit, the letter goes back to
incoming/ too; the next pass finds its spool id committed and only moves it.
Every pass first takes back the claims of dead workers on this host, so a
daemon sharing the spool finishes the letters of one that was killed.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon import db
from daemon.app import App
from daemon.models import Inbound
from daemon.pipeline import Letter, Stop, steps
from daemon.spool import Spool, SpooledLetter, is_disk_full
from daemon.steps.screen import LOCK_SOURCE_KEY, serialize_on

log = structlog.get_logger("supportd.runner")


class TemporaryFailure(Exception):
    """Try again later: the database (or the disk) is away. Nothing was lost."""


class SpoolFull(TemporaryFailure):
    """Try again later: the spool's disk is full. Nothing was lost."""


@dataclass(frozen=True)
class Result:
    spool_id: str
    outcome: str  # ticket | threaded | duplicate | suppressed | bounce | already | shunted
    reason: str
    tid: str | None


def _account(letter: Letter, session: Session, app: App, outcome: str, reason: str) -> Inbound:
    s = letter.spooled
    p = letter.parsed
    row = Inbound(spool_id=s.spool_id, source=s.envelope.source,
                  source_key=s.envelope.source_key, envelope_from=s.envelope.mail_from or "",
                  envelope_to=list(s.envelope.rcpt_to), received_at=s.received_at,
                  processed_at=app.now(), size=len(s.raw), sha256=s.sha256,
                  raw_path=str(app.stored_path(s)),
                  message_id_header=p.message_id if p else None, outcome=outcome,
                  reason=reason[:4000], ticket_id=letter.ticket.id if letter.ticket else None)
    session.add(row)
    return row


def run_pipeline(letter: Letter, session: Session, app: App) -> tuple[str, str]:
    outcome, reason = "", ""
    for step in steps():
        try:
            step.run(letter, session, app)
        except Stop as stop:
            outcome, reason = stop.outcome, f"{step.name}: {stop.reason}"
            break
    if not outcome:
        outcome = "ticket" if letter.new_ticket else "threaded"
        reason = letter.thread_note or ("new" if letter.new_ticket else "")
    if letter.notes:
        reason = "; ".join(filter(None, [reason, *letter.notes]))
    return outcome, reason


def already_done(session: Session, spooled: SpooledLetter) -> Inbound | None:
    """The letter's `Inbound` row, if it was committed before: under its spool id,
    or, for a letter taken from a mailbox, under its source key (two daemons
    polling one mailbox may both take one message; the second copy waits for the
    first one's commit, then finds it here)."""
    row = session.scalar(select(Inbound).where(Inbound.spool_id == spooled.spool_id))
    key = spooled.envelope.source_key
    if row is None and key:
        serialize_on(session, LOCK_SOURCE_KEY, key)
        row = session.scalar(select(Inbound).where(Inbound.source_key == key))
    return row


def process(app: App, claimed: Path) -> Result:
    """Process one claimed spool file. Raises TemporaryFailure when it must wait."""
    spool: Spool = app.spool
    try:
        spooled: SpooledLetter = Spool.read(claimed)
    except OSError as exc:
        raise TemporaryFailure(f"spool: {exc}") from exc
    except ValueError as exc:  # not a spool file (or a damaged head): keep it aside
        log.error("letter.unreadable_spool_file", path=str(claimed), error=repr(exc))
        spool.shunt(claimed, f"not a readable spool file: {exc!r}")
        return Result(claimed.name, "shunted", repr(exc), None)
    stored = app.stored_path(spooled)
    bound = log.bind(spool_id=spooled.spool_id, source=spooled.envelope.source)
    try:
        with db.unit_of_work(app.sessions) as session:
            done = already_done(session, spooled)
            if done is None:
                letter = Letter(spooled=spooled, now=app.now())
                outcome, reason = run_pipeline(letter, session, app)
                _account(letter, session, app, outcome, reason)
                tid = letter.ticket.tid if letter.ticket else None
            else:
                outcome, reason, tid = "already", done.outcome, None
    except Exception as exc:
        if is_disk_full(exc):
            bound.warning("letter.deferred", error=str(exc).splitlines()[0], disk_full=True)
            raise SpoolFull(str(exc)) from exc
        if db.is_temporary(exc):
            bound.warning("letter.deferred", error=str(exc).splitlines()[0])
            raise TemporaryFailure(str(exc)) from exc
        return _shunt(app, claimed, spooled, exc)
    if done is not None and done.spool_id != spooled.spool_id:
        # Another copy of one mailbox message, already a ticket under its own spool
        # id: this copy is redundant (the stored one is the record).
        spool.discard(claimed)
        reason = f"{done.outcome} as {done.spool_id}"
    else:
        _finish(app, claimed, stored, bound)
    bound.info("letter.processed", outcome=outcome, reason=reason, tid=tid)
    return Result(spooled.spool_id, outcome, reason, tid)


def _finish(app: App, claimed: Path, stored: Path, bound: structlog.typing.FilteringBoundLogger
            ) -> None:
    """Move a committed letter to the store. If that fails (a full or broken disk),
    the letter goes back to incoming/: its spool id is committed, so the next pass
    only moves it, and no claim is left behind in a live worker's folder."""
    try:
        app.spool.finish(claimed, stored)
    except OSError as exc:
        bound.error("letter.store_failed", error=str(exc), stored=str(stored),
                    hint="committed; the move to the store is retried on the next pass")
        app.spool.release(claimed)


def _robot(letter: Letter, app: App) -> bool:
    """Even after a bug, never answer a robot."""
    if letter.parsed is None:
        return False
    try:
        from daemon.loops import auto_reply_reason

        return auto_reply_reason(letter.parsed.message, letter.spooled.envelope.mail_from,
                                 app.config.our_addresses()) is not None
    except Exception:
        return True  # unsure: silence is the safe side of a mail loop


def _shunt(app: App, claimed: Path, spooled: SpooledLetter, exc: Exception) -> Result:
    """A bug stopped the pipeline: keep the letter, and get it before a person."""
    trace = traceback.format_exc()
    log.error("letter.failed", spool_id=spooled.spool_id, error=repr(exc), trace=trace)
    try:
        with db.unit_of_work(app.sessions) as session:
            letter = Letter(spooled=spooled, now=app.now())
            letter.internal_error = f"{type(exc).__name__}: {exc}"[:300]
            from daemon.steps import answer, classify, identify, parse, store

            parse.run(letter, session, app)  # to know the sender from From, if it reads
            robot = _robot(letter, app)
            steps_to_run = (identify.run, classify.run, store.run) if robot else \
                (identify.run, classify.run, store.run, answer.run)
            for run in steps_to_run:
                run(letter, session, app)
            _account(letter, session, app, "ticket", f"flagged after error: {exc!r}")
            tid = letter.ticket.tid if letter.ticket else None
    except Exception as second:
        if is_disk_full(second):
            raise SpoolFull(str(second)) from second
        if db.is_temporary(second):
            raise TemporaryFailure(str(second)) from second
        app.spool.shunt(claimed, trace)
        log.error("letter.shunted", spool_id=spooled.spool_id, error=repr(second))
        return Result(spooled.spool_id, "shunted", repr(exc), None)
    _finish(app, claimed, app.stored_path(spooled), log.bind(spool_id=spooled.spool_id))
    return Result(spooled.spool_id, "ticket", f"flagged after error: {exc!r}", tid)


def drain(app: App, limit: int | None = None) -> list[Result]:
    """Claim and process waiting letters in arrival order, until none is left.

    Stops at the first temporary failure (the letter goes back to incoming/).
    First takes back what dead workers on this host had claimed."""
    results: list[Result] = []
    recovered = app.spool.recover(others=True)
    if recovered:
        log.warning("spool.recovered", count=len(recovered), from_dead_worker=True)
    for path in app.spool.pending():
        if limit is not None and len(results) >= limit:
            break
        claimed = app.spool.claim(path)
        if claimed is None:
            continue
        try:
            results.append(process(app, claimed))
        except TemporaryFailure:
            app.spool.release(claimed)
            raise
    return results
