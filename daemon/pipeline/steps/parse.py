"""Step: read the raw bytes into a ParsedLetter, or note why they can't be read.

An unreadable letter is not an error here: it goes on, opens a ticket flagged for
staff, and its sender (from the envelope) still gets an acknowledgement.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.letter import Unparseable, parse
from daemon.pipeline.context import Letter


def run(letter: Letter, session: Session, app: App) -> None:
    try:
        letter.parsed = parse(letter.spooled.raw)
    except Unparseable as exc:
        letter.parse_error = str(exc)
        letter.notes.append(f"unparseable: {exc}")
