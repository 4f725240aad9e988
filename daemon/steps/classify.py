"""Step: the SLA level of a new ticket, and whether an emergency was asked for.

Unidentified senders get `[sla].default_level` (consultation, §3.8). A follow-up
keeps its ticket's level. An emergency request is recorded; only entitled
senders (partners and licensees, once the registry says so) get an operational
level from it, and staff confirm or downgrade it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.completeness import urgency_requested
from daemon.pipeline import Letter


def run(letter: Letter, session: Session, app: App) -> None:
    p = letter.parsed
    if p is not None and not letter.robot:
        headers = {k.lower(): str(v) for k, v in p.message.items()}
        letter.emergency_requested = urgency_requested(
            headers, p.subject, p.text, app.config.screen.urgent_words)
    if letter.ticket is not None:
        letter.sla_level = letter.ticket.sla_level
        return
    letter.sla_level = app.config.sla.default_level
