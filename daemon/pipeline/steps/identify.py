"""Step: who wrote, and what the letter lacks (regulation §5.2, §5.8).

The requester is the From address (the envelope sender when the letter could not
be read). The registry names the organisation: by a registered address or
domain (which entitles it to its commercial level), else by an INN, OGRN or
login in the letter (which names it, but per §5.8 entitles nothing).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.pipeline.context import Letter
from daemon.tickets.completeness import missing_information
from daemon.tickets.registry import identify


def run(letter: Letter, session: Session, app: App) -> None:
    if letter.ticket is not None:
        letter.requester = letter.ticket.requester
        letter.requester_name = letter.ticket.requester_name
        return
    letter.requester = letter.sender
    p = letter.parsed
    if p is None:
        return
    if p.reply_to and "@" in p.reply_to and p.reply_to not in app.config.our_addresses():
        # Answers go where the client asked (a shared helpdesk box, a colleague);
        # the From address keeps its right to write to the ticket as a participant.
        letter.requester = p.reply_to
    letter.requester_name = p.from_name
    if letter.staff is None and not letter.robot:
        letter.missing = missing_information(p.text, p.subject)
        letter.identification = identify(session, letter.sender, f"{p.subject}\n{p.text}")
