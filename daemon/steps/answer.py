"""Step: the letters this letter causes, queued in the same transaction.

A client letter gets its acknowledgement (§5.4, §5.5) and the assignee a
notification; a staff reply is relayed to the client and meets the reaction
clock; automatic letters get nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.pipeline import Letter
from daemon.staff_reply import handle_staff_letter


def run(letter: Letter, session: Session, app: App) -> None:
    ticket, msg = letter.ticket, letter.message
    assert ticket is not None and msg is not None
    if msg.kind == "client":
        if not app.notifier.acknowledge(session, ticket, letter):
            letter.notes.append("ack not sent: hourly cap or no address")
        app.notifier.notify_staff(session, ticket, letter)
    elif msg.kind == "staff":
        handle_staff_letter(letter, session, app)
