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
So is a failure of the installation rather than of the letter (`is_environment`: a
template folder that is gone, a file the service may not read): every letter
would fail alike, so each waits (451, `ingest` exit 75) until it is fixed.
If the move to the store fails after the commit, the letter goes back to
incoming/ too; the next pass finds its spool id committed and only moves it.
Every pass first takes back the claims of dead workers on this host, so a
daemon sharing the spool finishes the letters of one that was killed.
"""

from __future__ import annotations

import contextlib
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail import complaints
from daemon.mail.loops import auto_reply_reason
from daemon.pipeline.context import Letter, Stop, Wait
from daemon.pipeline.order import (
    BEFORE_TRANSACTION,
    FALLBACK,
    STEP_NOTE,
    STEPS,
    by_name,
    failed_step,
)
from daemon.pipeline.steps.screen import LOCK_SOURCE_KEY, lock_keys, serialize_all, serialize_on
from daemon.storage import db
from daemon.storage.models import Inbound
from daemon.storage.spool import Spool, SpooledLetter, is_disk_full

log = structlog.get_logger("supportd.runner")

PARSE = by_name("parse")
EARLY = tuple(by_name(name) for name in BEFORE_TRANSACTION)


class TemporaryFailure(Exception):
    """Try again later: the database (or the disk) is away. Nothing was lost."""


class SpoolFull(TemporaryFailure):
    """Try again later: the spool's disk is full. Nothing was lost."""


class Misconfigured(TemporaryFailure):
    """Try again later: the configuration or the host fails every letter alike (a
    template folder that is gone, a broken template, a file the service may not read,
    a module missing from the install). Nothing was lost; a person must act."""


def is_environment(exc: BaseException) -> bool:
    """Not the letter's fault but the installation's: the letter waits, never shunted."""
    import jinja2  # loaded with the notifier anyway

    return isinstance(exc, jinja2.TemplateNotFound | jinja2.TemplateSyntaxError
                      | PermissionError | ImportError)


@dataclass(frozen=True)
class Result:
    spool_id: str
    # ticket | threaded | duplicate | suppressed | bounce | held | already | shunted |
    # waiting (a scanner is away: back in incoming/, tried again on a later pass)
    outcome: str
    reason: str
    tid: str | None


def _account(letter: Letter, session: Session, app: App, outcome: str, reason: str) -> None:
    s = letter.spooled
    p = letter.parsed
    app.keep_raw(session, s)  # with `[storage] blobs = "database"`: in this transaction
    db.insert_row(session, Inbound.__table__, dict(  # type: ignore[arg-type]
        spool_id=s.spool_id, source=s.envelope.source, source_key=s.envelope.source_key,
        envelope_from=s.envelope.mail_from or "", envelope_to=list(s.envelope.rcpt_to),
        received_at=s.received_at, processed_at=app.now(), size=len(s.raw), sha256=s.sha256,
        raw_path=app.raw_locator(s), message_id_header=p.message_id if p else None,
        outcome=outcome, reason=reason[:4000],
        ticket_id=letter.ticket.id if letter.ticket else None,
        spam=letter.spam.as_dict() if letter.spam is not None else None))


def run_pipeline(letter: Letter, session: Session, app: App, skip: tuple[str, ...] = ()
                 ) -> tuple[str, str]:
    outcome, reason = "", ""
    for step in STEPS:
        if step.name in skip:
            continue
        try:
            step.run(letter, session, app)
        except Stop as stop:
            outcome, reason = stop.outcome, f"{step.name}: {stop.reason}"
            break
        except Exception as exc:
            exc.add_note(STEP_NOTE + step.name)  # the fallback will not run it again
            raise
    if not outcome:
        outcome = "ticket" if letter.new_ticket else "threaded"
        reason = letter.thread_note or ("new" if letter.new_ticket else "")
    if letter.notes:
        reason = "; ".join(filter(None, [reason, *letter.notes]))
    return outcome, reason


def already_done(session: Session, spooled: SpooledLetter,
                 known: set[str] | None = None) -> Inbound | None:
    """The letter's `Inbound` row, if it was committed before: under its spool id,
    or, for a letter taken from a mailbox, under its source key (two daemons
    polling one mailbox may both take one message; the second copy waits for the
    first one's commit, then finds it here)."""
    row = None
    if known is None or spooled.spool_id in known:  # `known`: the batch's ids looked up at once
        row = session.scalar(select(Inbound).where(Inbound.spool_id == spooled.spool_id))
    key = spooled.envelope.source_key
    if row is None and key:
        serialize_on(session, LOCK_SOURCE_KEY, key)
        row = session.scalar(select(Inbound).where(Inbound.source_key == key))
    return row


# A batch shares one commit (one fsync of the database) but each letter has its own
# savepoint, so a bug in one letter rolls back only that letter. Big letters go in
# small batches: the letters of a batch are parsed before its transaction opens.
BATCH_LETTERS = 32
BATCH_BYTES = 4 << 20


@dataclass
class _Item:
    claimed: Path
    letter: Letter
    result: Result | None = None
    error: Exception | None = None
    trace: str = ""
    redundant: bool = False  # a second copy of a letter already stored: dropped

    @property
    def spooled(self) -> SpooledLetter:
        return self.letter.spooled


def process(app: App, claimed: Path, spooled: SpooledLetter | None = None) -> Result:
    """Process one claimed spool file. Raises TemporaryFailure when it must wait.
    `spooled`: the letter as just spooled, so a big one is not read back (and held
    twice) by its own writer (`ingest`)."""
    return process_batch(app, [claimed], {claimed: spooled} if spooled else None)[0]


def _read(app: App, claimed: Path) -> SpooledLetter | Result:
    try:
        return Spool.read(claimed)
    except OSError as exc:
        raise TemporaryFailure(f"spool: {exc}") from exc
    except ValueError as exc:  # not a spool file (or a damaged head): keep it aside
        log.error("letter.unreadable_spool_file", path=str(claimed), error=repr(exc))
        app.spool.shunt(claimed, f"not a readable spool file: {exc!r}")
        return Result(claimed.name, "shunted", repr(exc), None)


def process_batch(app: App, claimed: list[Path],
                  in_hand: dict[Path, SpooledLetter] | None = None) -> list[Result]:
    """Process claimed spool files, in order, in one transaction with a savepoint per
    letter. Raises TemporaryFailure (the caller releases what was not done) when the
    database or the disk is away; nothing of the batch is committed then."""
    results: dict[Path, Result] = {}
    items: list[_Item] = []
    for path in claimed:
        read = (in_hand or {}).get(path) or _read(app, path)
        if isinstance(read, Result):
            results[path] = read
            continue
        letter = Letter(spooled=read, now=app.now())
        item = _Item(path, letter)
        # Parsing, authentication and the scanners need no database: done before the
        # transaction.
        try:
            with complaints.collecting(letter.complaints):
                for step in EARLY:
                    try:
                        step.run(letter, None, app)  # type: ignore[arg-type]
                    except Wait:
                        raise
                    except Exception as exc:
                        exc.add_note(STEP_NOTE + step.name)
                        raise
        except Wait as wait:  # a scanner is away: the letter waits in incoming/
            app.spool.release(path)
            results[path] = Result(read.spool_id, "waiting", str(wait)[:300], None)
            continue
        except Exception as exc:  # a bug: this letter takes the fallback
            if is_environment(exc):
                _misconfigured(exc, 1)
            item.error, item.trace = exc, traceback.format_exc()
            log.error("letter.failed", spool_id=read.spool_id, error=repr(exc),
                      trace=item.trace)
        items.append(item)
    if items:
        try:
            _run_batch(app, items)
        except Exception as exc:
            if is_disk_full(exc):
                log.warning("letter.deferred", error=str(exc).splitlines()[0], disk_full=True,
                            letters=len(items))
                raise SpoolFull(str(exc)) from exc
            if is_environment(exc):
                _misconfigured(exc, len(items))
            if db.is_temporary(exc) and not (db.is_conflict(exc) and len(items) > 1):
                log.warning("letter.deferred", error=str(exc).splitlines()[0],
                            letters=len(items))
                raise TemporaryFailure(str(exc)) from exc
            if len(items) == 1:
                item = items[0]
                log.error("letter.failed", spool_id=item.spooled.spool_id, error=repr(exc))
                _say_complaints(item.letter)
                results[item.claimed] = _shunt(app, item.claimed, item.spooled, exc,
                                               traceback.format_exc())
                return [results[p] for p in claimed]
            # The batch failed as a whole (at its commit, or it met another daemon's
            # transaction in a deadlock): each letter on its own.
            log.warning("batch.split", error=repr(exc), letters=len(items))
            for item in items:
                results[item.claimed] = process(app, item.claimed, item.spooled)
            return [results[p] for p in claimed]
        _finish_many(app, [i for i in items if i.error is None and not i.redundant])
        for item in items:
            if item.redundant:
                app.spool.discard(item.claimed)
            if item.error is not None:
                item.result = _shunt(app, item.claimed, item.spooled, item.error, item.trace)
            assert item.result is not None
            r = item.result
            _say_complaints(item.letter)
            if item.error is None:
                log.info("letter.processed", spool_id=r.spool_id,
                         source=item.spooled.envelope.source, outcome=r.outcome,
                         reason=r.reason, tid=r.tid)
            results[item.claimed] = r
    return [results[p] for p in claimed]


def _misconfigured(exc: BaseException, letters: int) -> None:
    error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    log.error("letter.deferred", error=error, misconfigured=True, letters=letters,
              hint="every letter would fail alike: they wait in the spool; "
                   "run `supportd check-config`")
    raise Misconfigured(f"configuration or installation: {error}") from exc


def _say_complaints(letter: Letter) -> None:
    """What libraries said while the letter was in hand, in one line."""
    if letter.complaints:
        log.warning("letter.library_complaints", spool_id=letter.spooled.spool_id,
                    complaints=letter.complaints.as_fields(), more=letter.complaints.more)


def _run_batch(app: App, items: list[_Item]) -> None:
    with db.unit_of_work(app.sessions) as session:
        if len(items) > 1 and session.get_bind().dialect.name == "postgresql":
            serialize_all(session, [k for i in items for k in lock_keys(i.letter, app)])
        known = set(session.scalars(select(Inbound.spool_id).where(
            Inbound.spool_id.in_([i.spooled.spool_id for i in items]))))
        for item in items:
            if item.error is not None:
                continue  # failed before the transaction: the fallback takes it
            try:
                with session.begin_nested(), complaints.collecting(item.letter.complaints):
                    item.result = _one(app, session, item, known)
            except Exception as exc:  # a bug: only this letter's savepoint is rolled back
                if is_disk_full(exc) or db.is_temporary(exc) or is_environment(exc):
                    raise
                # Its rows were written around the unit of work (db.insert_now), so the
                # session still holds objects for rows that are gone, under keys SQLite
                # will give out again. Letters share no objects: forget them all.
                session.expunge_all()
                item.error, item.trace = exc, traceback.format_exc()
                log.error("letter.failed", spool_id=item.spooled.spool_id, error=repr(exc),
                          trace=item.trace)


def _one(app: App, session: Session, item: _Item, known: set[str]) -> Result:
    s = item.spooled
    done = already_done(session, s, known)
    if done is None:
        letter = item.letter
        outcome, reason = run_pipeline(letter, session, app, skip=BEFORE_TRANSACTION)
        _account(letter, session, app, outcome, reason)
        return Result(s.spool_id, outcome, reason, letter.ticket.tid if letter.ticket else None)
    if done.spool_id != s.spool_id:
        # Another copy of one mailbox message, already a ticket under its own spool
        # id: this copy is redundant (the stored one is the record).
        item.redundant = True
        return Result(s.spool_id, "already", f"{done.outcome} as {done.spool_id}", None)
    return Result(s.spool_id, "already", done.outcome, None)


def _finish_many(app: App, items: list[_Item]) -> None:
    """Move committed letters to the store. If a move fails (a full or broken disk),
    that letter goes back to incoming/: its spool id is committed, so the next pass
    only moves it, and no claim is left behind in a live worker's folder."""
    if app.blobs_in_database:  # committed with their rows: the local copies go
        app.spool.drop_many([i.claimed for i in items])
        return
    moved = app.spool.finish_many([(i.claimed, app.stored_path(i.spooled)) for i in items])
    for item, error in zip(items, moved, strict=True):
        if error is not None:
            log.error("letter.store_failed", spool_id=item.spooled.spool_id, error=str(error),
                      stored=str(app.stored_path(item.spooled)),
                      hint="committed; the move to the store is retried on the next pass")
            app.spool.release(item.claimed)


def _robot(letter: Letter, app: App) -> bool:
    """Even after a bug, never answer a robot."""
    if letter.parsed is None:
        return False
    try:
        return auto_reply_reason(letter.parsed.message, letter.spooled.envelope.mail_from,
                                 app.config.our_addresses()) is not None
    except Exception:
        return True  # unsure: silence is the safe side of a mail loop


def _unscanned(letter: Letter, app: App) -> None:
    """No antivirus verdict in the fallback: no attachment is stored on its own (the
    raw letter keeps them all), as one might carry malware."""
    if app.config.antivirus.clamd and letter.parsed is not None and letter.parsed.attachments:
        letter.parsed = replace(letter.parsed, attachments=[])
        letter.flags.append("вложения не проверены антивирусом и не сохранены отдельно; "
                            "исходное письмо с ними сохранено целиком")


def _fallback(letter: Letter, session: Session, app: App, failed: str) -> None:
    """Open a ticket flagged for staff from what can be had (`order.FALLBACK`)."""
    try:
        PARSE.run(letter, session, app)  # to know the sender from From, if it reads
    except Exception as exc:  # the bug is in parsing: the letter goes as unreadable
        letter.parsed, letter.parse_error = None, f"{type(exc).__name__}: {exc}"[:300]
    robot = _robot(letter, app)
    for name in FALLBACK:
        if (robot and name == "answer") or (name == failed and name != "store"):
            if name == "scan":
                _unscanned(letter, app)
            continue
        if name == "store":  # classify may have failed: the ticket still needs a level
            letter.sla_level = letter.sla_level or app.config.sla.default_level
        try:
            with session.begin_nested():
                by_name(name).run(letter, session, app)
        except Exception as exc:
            if is_disk_full(exc) or db.is_temporary(exc) or is_environment(exc):
                raise
            if name != "store":
                letter.notes.append(f"fallback: {name} failed too: {exc!r}")
                if name == "scan":
                    _unscanned(letter, app)
                continue
            # The ticket is what a person needs: stored again without the attachments
            # (the raw letter, with them, is kept whole in the store).
            session.expunge_all()
            letter.ticket, letter.message, letter.new_ticket = None, None, False
            if letter.parsed is not None:
                letter.parsed = replace(letter.parsed, attachments=[])
            letter.verdicts = []
            letter.flags.append("вложения не сохранены отдельно из-за ошибки; "
                                "исходное письмо с ними сохранено целиком")
            with session.begin_nested():
                by_name("store").run(letter, session, app)


def _shunt(app: App, claimed: Path, spooled: SpooledLetter, exc: Exception, trace: str
           ) -> Result:
    """A bug stopped the pipeline: keep the letter, and get it before a person."""
    try:
        # Read again: what libraries say now was said the first time, and logged then.
        with db.unit_of_work(app.sessions) as session, \
                complaints.collecting(complaints.Complaints()):
            letter = Letter(spooled=spooled, now=app.now())
            letter.internal_error = f"{type(exc).__name__}: {exc}"[:300]
            _fallback(letter, session, app, failed_step(exc))
            _account(letter, session, app, "ticket", f"flagged after error: {exc!r}")
            tid = letter.ticket.tid if letter.ticket else None
    except Exception as second:
        if is_disk_full(second):
            raise SpoolFull(str(second)) from second
        if is_environment(second):
            _misconfigured(second, 1)
        if db.is_temporary(second):
            raise TemporaryFailure(str(second)) from second
        app.spool.shunt(claimed, trace)
        log.error("letter.shunted", spool_id=spooled.spool_id, error=repr(second))
        return Result(spooled.spool_id, "shunted", repr(exc), None)
    _finish_many(app, [_Item(claimed, letter)])
    return Result(spooled.spool_id, "ticket", f"flagged after error: {exc!r}", tid)


def drain(app: App, limit: int | None = None) -> list[Result]:
    """Claim and process waiting letters in arrival order, until none is left, in
    batches of up to `BATCH_LETTERS` letters or `BATCH_BYTES` bytes.

    Stops at the first temporary failure (the batch goes back to incoming/).
    First takes back what dead workers on this host had claimed."""
    results: list[Result] = []
    recovered = app.spool.recover(others=True)
    if recovered:
        log.warning("spool.recovered", count=len(recovered), from_dead_worker=True)
    batch: list[Path] = []
    size = 0

    def run_batch() -> None:
        nonlocal size
        try:
            results.extend(process_batch(app, batch))
        except TemporaryFailure:
            for claimed in batch:
                app.spool.release(claimed)
            raise
        finally:
            batch.clear()
            size = 0

    for path in app.spool.pending():
        if limit is not None and len(results) + len(batch) >= limit:
            break
        claimed = app.spool.claim(path)
        if claimed is None:
            continue
        with contextlib.suppress(OSError):
            size += claimed.stat().st_size
        batch.append(claimed)
        if len(batch) >= BATCH_LETTERS or size >= BATCH_BYTES:
            run_batch()
    if batch:
        run_batch()
    return results
