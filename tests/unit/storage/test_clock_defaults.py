"""Rows written without an explicit time take the App's clock (issue 19, item 8):
`created_at`, `updated_at` and the like, through the ORM and through `db.insert_*`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from daemon.storage import db
from daemon.storage.models import Ticket

MOMENT = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 9, 9, 30, tzinfo=UTC)


def test_column_defaults_read_the_engines_clock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/t.db"
    db.upgrade(url)
    engine = db.make_engine(url)
    now = [MOMENT]
    db.use_clock(engine, lambda: now[0])
    sessions = db.make_sessionmaker(engine)
    with db.unit_of_work(sessions) as s:
        s.add(Ticket(tid="SD-000013", sla_level="consultation", requester="a@b.example",
                     received_at=MOMENT))
        db.insert_now(s, Ticket(tid="SD-000021", sla_level="consultation",
                                requester="c@d.example", received_at=MOMENT))
    with sessions() as s:
        assert [(t.created_at, t.updated_at) for t in s.scalars(select(Ticket))] == \
            [(MOMENT, MOMENT)] * 2
    now[0] = LATER
    with db.unit_of_work(sessions) as s:
        s.scalars(select(Ticket).where(Ticket.tid == "SD-000013")).one().status = "open"
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.tid == "SD-000013")).one()
        assert (t.created_at, t.updated_at) == (MOMENT, LATER)
    engine.dispose()
