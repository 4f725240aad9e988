"""Step: ask the scanners before the letter's transaction (regulation §5.11).

The `[spam] backend` gives the letter a verdict (`daemon.scan`) and clamd looks at
every attachment (`[antivirus] clamd`). Both are network calls, so this runs with
parsing, before the database's write lock is taken; what the verdict means is the
`spam` step's business, later. A scanner that is away makes the letter wait in the
spool (`Wait`: the listener already said 250, the raw letter is safe) and be tried
again, until `[spam] max_wait` has passed since it arrived; then it goes through
flagged "not checked", so no client waits long for the registration letter.
A letter staff released from the quarantine is not asked about again: their
judgement stands, and its old verdict goes with it.
"""

from __future__ import annotations

import structlog
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.config.schema import parse_duration
from daemon.pipeline.context import Letter, Wait
from daemon.pipeline.steps.authenticate import _outside_client
from daemon.scan.scanners import Envelope
from daemon.scan.sockets import ScannerAway
from daemon.scan.verdict import SpamVerdict, not_checked

log = structlog.get_logger("supportd.scan")

NOT_CHECKED_RU = {"spam": "письмо не проверено на спам: {why}",
                  "malware": "вложения не проверены антивирусом: {why}"}


def _released(letter: Letter, app: App) -> None:
    env = letter.spooled.envelope
    record = app.quarantine.released_record(env.held) or {}
    verdict = SpamVerdict.from_dict(record.get("verdict") or {"backend": "released"})
    letter.spam = verdict.with_extra(
        quarantine=env.held, arrived_at=env.arrived_at,
        released_at=letter.spooled.received_at.isoformat(),
        released_by=record.get("released_by", ""))
    letter.notes.append(f"released from the quarantine ({env.held})")


def _attachments(letter: Letter) -> list[tuple[str, object]]:
    p = letter.parsed
    if p is None:
        return []
    return [(a.filename or "(без имени)",
             [a.content] if isinstance(a.content, bytes) else a.content.blocks())
            for a in p.attachments]


def _give_up_or_wait(letter: Letter, app: App, what: str, exc: ScannerAway) -> None:
    waited = app.now() - letter.spooled.received_at
    max_wait = parse_duration(app.config.spam.max_wait)
    if waited < max_wait:
        # One warning a real attempt; letters not even tried while the scanner rests
        # say so at debug level (a long outage would repeat each one every pass).
        say = log.debug if exc.rested else log.warning
        say("scan.waiting", spool_id=letter.spooled.spool_id, scanner=what,
            error=str(exc)[:300], waited=int(waited.total_seconds()))
        raise Wait(f"{what}: {exc}")
    log.error("scan.not_checked", spool_id=letter.spooled.spool_id, scanner=what,
              error=str(exc)[:300], waited=int(waited.total_seconds()))
    letter.flags.append(NOT_CHECKED_RU[what].format(why="сканер недоступен"))
    letter.notes.append(f"{what} not checked: {str(exc)[:200]}")


def run(letter: Letter, session: Session, app: App) -> None:
    env = letter.spooled.envelope
    p = letter.parsed
    if env.held:
        _released(letter, app)
    elif app.config.spam.backend != "off":
        scanners = app.scanners
        try:
            letter.spam = scanners.spam(
                letter.spooled.raw, p.message.raw_items() if p is not None else [],
                Envelope(env.mail_from, _outside_client(env.peer, app.config.auth.internal_hosts),
                         env.helo, env.rcpt_to))
        except ScannerAway as exc:
            _give_up_or_wait(letter, app, "spam", exc)
            letter.spam = not_checked(app.config.spam.backend, str(exc)[:300])
    if app.config.antivirus.clamd and p is not None and p.attachments:
        try:
            letter.infections = app.scanners.infections(_attachments(letter))  # type: ignore[arg-type]
        except ScannerAway as exc:
            _give_up_or_wait(letter, app, "malware", exc)
