"""`supportd tickets list --queue`: the open tickets in the order the desk serves them.

§2.1: tickets are handled in the order they arrive, within the reaction time of
their level; emergencies (operational support, confirmed or proposed) go out of
turn. So the queue is: emergencies first, then by the reaction deadline the ticket
shows (§2.3: its earliest unanswered clock), then by arrival. Tickets waiting for
the client (`pending`) and closed ones are not in it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from daemon.cli.common import EX_USAGE, _app, _print_json

QUEUED = ("new", "open")


def cmd_tickets_queue(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from daemon.cli.views import ticket_summary
    from daemon.storage.models import Ticket

    if args.status is not None and args.status not in QUEUED:
        print(f"--queue holds {' and '.join(QUEUED)} tickets, not {args.status} ones",
              file=sys.stderr)
        return EX_USAGE
    app = _app(args)
    limit = None if args.all else args.limit
    with app.sessions() as session:
        q = (select(Ticket).where(Ticket.status.in_(QUEUED))
             .order_by(Ticket.emergency.desc(), Ticket.reaction_due.is_(None),
                       Ticket.reaction_due, Ticket.received_at, Ticket.id))
        rows = list(session.scalars(q))
        # Positions are in the whole queue; --status shows only its own tickets there.
        tickets = [{**ticket_summary(t), "position": i + 1, "emergency": t.emergency}
                   for i, t in enumerate(rows) if args.status in (None, t.status)]
    total = len(tickets)
    shown = tickets[args.offset:] if limit is None else tickets[args.offset:args.offset + limit]
    if args.json:
        _print_json({"total": total, "offset": args.offset, "limit": limit,
                     "queue": True, "tickets": shown})
        return 0
    print(f"{total} ticket{'' if total == 1 else 's'}"
          + (f" {args.status}" if args.status else "") + " in the queue"
          + ("" if len(shown) == total else f"; shown: {len(shown)}"))
    for t in shown:
        print(queue_line(t, app.config.tz))
    return 0


def queue_line(t: dict[str, Any], tz: Any) -> str:
    due = (datetime.fromisoformat(t["reaction_due"]).astimezone(tz).strftime("%d.%m.%Y %H:%M")
           if t["reaction_due"] else "-")
    mark = "!" if t["emergency"] else " "
    return (f"{t['position']:>4} {mark} {t['tid']}  {t['status']:<6} {t['sla_level']:<22} "
            f"{due:<17} {t['requester']}  {t['subject']}")
