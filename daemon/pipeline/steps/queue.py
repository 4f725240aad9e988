"""Step: the new ticket's place in the queue of its level (§2.1), for its
acknowledgement, when `[answer] show_queue_position` is on."""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.pipeline.context import Letter
from daemon.tickets.queue import queue_position


def run(letter: Letter, session: Session, app: App) -> None:
    ticket, msg = letter.ticket, letter.message
    if not app.config.answer.show_queue_position or ticket is None or msg is None \
            or not letter.new_ticket or msg.kind != "client" or letter.robot \
            or letter.staff is not None:
        return
    session.flush()
    letter.advice = dataclasses.replace(letter.advice,
                                        queue_position=queue_position(session, ticket))
