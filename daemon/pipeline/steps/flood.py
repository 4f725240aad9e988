"""Step: an unknown sender's flood folds into its newest ticket (issue 21).

Past `[abuse] new_tickets_per_hour` new tickets in an hour from one sender the
registry does not know (and who is not staff), a new letter from it opens no new
ticket: it joins the sender's newest ticket as a follow-up, kept whole and seen by
staff there, so a thousand letters make a long ticket rather than a thousand
tickets, a thousand clocks and a thousand notifications.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from daemon.app import App
from daemon.pipeline.context import Letter
from daemon.storage import db
from daemon.storage.models import Ticket


@cache
def _recent() -> Any:  # a Select of (count, newest id)
    t = Ticket.__table__.c
    return (select(func.count(), func.max(t.id))
            .where(t.requester == bindparam("requester"), t.received_at >= bindparam("since")))


def run(letter: Letter, session: Session, app: App) -> None:
    if letter.ticket is not None or letter.staff is not None or letter.robot:
        return
    if not letter.requester or (letter.identification and letter.identification.org):
        return
    since = letter.spooled.received_at - timedelta(hours=1)
    count, newest = db.rows(session, _recent(), requester=letter.requester, since=since)[0]
    if count < app.config.abuse.new_tickets_per_hour or newest is None:
        return
    ticket = session.get(Ticket, newest)
    if ticket is None:
        return
    letter.ticket = ticket
    letter.sla_level = ticket.sla_level
    letter.notes.append(f"flood: {count} new tickets from {letter.requester} in an hour; "
                        f"joined {ticket.tid}")
