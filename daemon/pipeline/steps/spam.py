"""Step: a letter judged spam is held, not answered (regulation §5.11).

The verdict the `scan` step got is decided on here (`daemon.scan.verdict.decide`),
once the letter's ticket (a follow-up) and its sender (the registry) are known: a
proven registered client is never held below `[spam] reject_score`. A held letter
becomes no ticket and is not appended to one, and it gets no acknowledgement: an
answer to spam goes to whoever its forged From names (backscatter). It is kept whole
in the quarantine (`daemon.storage.quarantine`) for staff to release or delete,
and its arrival is accounted as "held". A letter that passes keeps its verdict,
flagged for staff when the backend thought it spam.
"""

from __future__ import annotations

import structlog
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.pipeline.context import Letter, Stop
from daemon.scan.verdict import HOLD, PASS, decide
from daemon.storage.quarantine import expiry

log = structlog.get_logger("supportd.spam")


def proven_client(letter: Letter) -> bool:
    """DMARC (or an aligned pass) proves the From, and the registry knows the address
    or the ticket it writes on belongs to a registered organisation."""
    if not letter.auth.proven or letter.demoted:
        return False
    if letter.identification is not None and letter.identification.entitled:
        return True
    t = letter.ticket
    return bool(t is not None and t.org_id is not None and t.identified_by in ("email", "domain")
                and letter.sender in (t.requester, *(t.participants or [])))


def run(letter: Letter, session: Session, app: App) -> None:
    verdict = letter.spam
    if verdict is None or letter.spooled.envelope.held:
        return  # the check is off, or staff released it
    if letter.staff is not None and (letter.auth.proven
                                     or letter.auth.submitted_by(letter.sender)):
        return  # a staff member's own letter, proven: theirs to send
    # (a From naming a staff member is only a claim: unproven, it is judged like any)
    cfg = app.config.spam
    proven = proven_client(letter)
    level = decide(verdict, cfg.hold_score, cfg.reject_score, proven_client=proven)
    if level == PASS:
        if verdict.is_spam or (verdict.score is not None and verdict.score >= cfg.hold_score):
            letter.flags.append(f"похоже на спам ({verdict.backend}: {verdict.score}), но "
                                "отправитель — подтверждённый клиент: письмо принято")
        return
    now = app.now()
    p = letter.parsed
    qid = app.quarantine.hold(letter.spooled, {
        "reason": "spam", "level": level, "held_at": now.isoformat(),
        "expires_at": expiry(level, now, cfg.keep_days),
        "verdict": verdict.as_dict(), "from": letter.shown_from,
        "subject": p.subject if p is not None else "",
        "ticket": letter.ticket.tid if letter.ticket is not None else None,
        "proven_client": proven})
    log.info("spam.held", spool_id=letter.spooled.spool_id, quarantine=qid, level=level,
             score=verdict.score, backend=verdict.backend,
             ticket=letter.ticket.tid if letter.ticket is not None else None)
    letter.ticket = None  # a follow-up judged spam is not appended either
    raise Stop("held", f"{'spam' if level == HOLD else 'spam, reject level'} "
                       f"{verdict.score} ({verdict.backend}); quarantine {qid}")
