"""Staff commands about the quarantine, in a reply on any ticket (issue 18).

`#spam` lists the letters held as spam; `#release QID` lets one through: it is
written back into the spool as if it had just arrived clean, so it opens its
ticket (or joins its own) with an acknowledgement, and the reaction clock starts
now, when it was accepted (§5.11); `#spam TID` says a ticket that slipped through
was spam: it is closed without a letter to its sender (no backscatter). Where the
backend learns (rspamd's controller, spamd's TELL), a release teaches it ham and
`#spam TID` spam. The staff member gets one letter saying what
was done and, for `#spam`, the list.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daemon.mail.threading_tid import parse_tid
from daemon.staff.commands import Command
from daemon.storage import blobs
from daemon.storage.models import Inbound, Message, Ticket
from daemon.storage.quarantine import Quarantine

QUARANTINE_COMMANDS = frozenset({"spam", "release"})
LISTED = 50  # entries in one `#spam` answer, the newest


def problems(commands: tuple[Command, ...], quarantine: Quarantine | None, session: Session,
             prefix: str) -> list[str]:
    out = []
    for c in commands:
        if c.name == "release":
            record = quarantine.get(c.arg) if quarantine is not None else None
            if record is None:
                out.append(f"#release {c.arg}: в карантине нет письма с таким номером "
                           "(список: #spam)")
            elif record.get("reason") != "spam":
                out.append(f"#release {c.arg}: это письмо с вредоносным вложением; "
                           "обращение по нему уже создано без вложения")
        elif c.name == "spam" and c.arg:
            number = parse_tid(c.arg.strip("[]"), prefix)
            if number is None or session.get(Ticket, number) is None:
                out.append(f"#spam {c.arg}: обращения с таким номером нет")
    return out


def _first_letter(session: Session, ticket_id: int, spool_root: Path) -> bytes | None:
    """The ticket's first letter as received, wherever it is kept (storage/blobs.py),
    checked against its hash (a mismatch is logged, and nothing is learnt from it)."""
    row = session.execute(
        select(Message.raw_path, Inbound.sha256)
        .outerjoin(Inbound, Inbound.raw_path == Message.raw_path)
        .where(Message.ticket_id == ticket_id, Message.direction == "in",
               Message.raw_path.is_not(None)).order_by(Message.id).limit(1)).first()
    locator, digest = row if row is not None else (None, None)
    if locator is None:
        return None
    try:
        if digest:
            return blobs.read(session, locator, digest, f"ticket {ticket_id}'s first letter",
                              spool_root)
        return blobs.fetch(session, locator, spool_root)
    except (blobs.Missing, blobs.HashMismatch, OSError):
        return None


def run(commands: tuple[Command, ...], quarantine: Quarantine, learn: Any, now: datetime,
        session: Session, prefix: str, actor: str
        ) -> tuple[list[str], list[dict[str, Any]] | None]:
    """Do the quarantine commands: (what was done, in Russian; the list for `#spam`,
    None when it was not asked for)."""
    done: list[str] = []
    listing: list[dict[str, Any]] | None = None
    for c in commands:
        if c.name == "release":
            released = quarantine.release(c.arg, now, actor)
            if released is None:
                done.append(f"#release {c.arg}: письма уже нет в карантине")
                continue
            learned = learn(released.raw, False) if learn else ""
            done.append(f"#release {c.arg}: письмо выпущено и будет зарегистрировано как "
                        f"обычное; клиент получит подтверждение{_said(learned)}")
        elif c.name == "spam" and c.arg:
            number = parse_tid(c.arg.strip("[]"), prefix)
            ticket = session.get(Ticket, number) if number is not None else None
            raw = _first_letter(session, ticket.id, quarantine.spool.root) \
                if ticket is not None else None
            learned = learn(raw, True) if learn and raw is not None else ""
            closed = ""
            if ticket is not None and ticket.status != "closed":
                # Closed without the closing letter: an answer to spam is backscatter.
                ticket.status, ticket.closed_at, ticket.awaiting_reaction = "closed", now, False
                closed = "; обращение закрыто без письма отправителю"
            done.append(f"#spam {c.arg}: отмечено как спам{closed}{_said(learned)}")
        elif c.name == "spam":
            listing = [r for r in quarantine.entries() if r.get("reason") == "spam"][-LISTED:]
    return done, listing


def _said(learned: str) -> str:
    if not learned:
        return ""
    if learned in ("learned", "learned before"):
        return "; фильтр спама дообучен"
    return f"; фильтр спама не дообучен ({learned})"
