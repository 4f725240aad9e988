"""Step: a staff member asking the desk (`#list`, `#list all`, `#show TID`, `#find …`).

A letter from a staff address whose command lines only look (issue 12) is a
question, not a reply: when the letter is proven to be from that staff member
it is answered to them (`daemon/staff/views.py`) and ends here, on no ticket. A
letter not proven goes on as any other letter from that address would (flagged
on its ticket, or a new ticket), so a forger learns nothing; a client writing
these words is a client letter like any other.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.mail.reply_text import new_text_of_reply
from daemon.pipeline.context import Letter, Stop
from daemon.staff import views
from daemon.staff.commands import is_view_request, read_staff_letter
from daemon.staff.reply import believed


def run(letter: Letter, session: Session, app: App) -> None:
    p, member = letter.parsed, letter.staff
    if member is None or p is None or letter.robot:
        return
    asked = read_staff_letter(new_text_of_reply(p.text or ""))
    if not is_view_request(asked) or not believed(letter.auth, letter.sender, app.config):
        return
    views.answer(session, app.notifier, member, asked.commands, letter.incoming(), letter.now)
    raise Stop("staff-query", " ".join(f"#{c.name} {c.arg}".strip() for c in asked.commands))
