"""Who gets a new ticket (§5.1): the agent with the fewest open tickets, ties by config order.

The count runs for every new ticket, so it must read the open tickets only, through
the partial index ix_tickets_open_assignee, whatever the number of closed ones
(issue 5: 496 ms per new ticket at a million tickets when it read them all).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from daemon.pipeline.steps.store import pick_assignee
from daemon.storage import db
from daemon.storage.models import Ticket
from tests.conftest import Desk

AGENT1, AGENT2 = "agent1@example.ru", "agent2@example.ru"  # config order: agent1 first
WHEN = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def desk(desk_on_each_db: Desk) -> Desk:
    return desk_on_each_db


def add_tickets(desk: Desk, *batches: tuple[int, str, str]) -> None:
    """(how many, assignee, status) per batch, written as one transaction."""
    rows = [dict(subject="", status=status, sla_level="consultation", requester="c@client.example",
                 assignee=assignee, received_at=WHEN)
            for count, assignee, status in batches for _ in range(count)]
    with db.unit_of_work(desk.app.sessions) as s:
        s.execute(insert(Ticket), rows)


def assignee(desk: Desk) -> str | None:
    with desk.app.sessions() as s:
        return pick_assignee(s, desk.app)


def test_the_agent_with_fewer_open_tickets_gets_the_new_one(desk: Desk) -> None:
    add_tickets(desk, (3, AGENT1, "open"), (1, AGENT2, "new"), (1, AGENT2, "pending"))
    assert assignee(desk) == AGENT2


def test_closed_tickets_do_not_count(desk: Desk) -> None:
    add_tickets(desk, (50, AGENT2, "closed"), (1, AGENT2, "open"), (2, AGENT1, "pending"))
    assert assignee(desk) == AGENT2


def test_a_tie_goes_to_the_agent_listed_first(desk: Desk) -> None:
    assert assignee(desk) == AGENT1  # an empty desk
    add_tickets(desk, (2, AGENT1, "open"), (2, AGENT2, "new"), (9, AGENT1, "closed"))
    assert assignee(desk) == AGENT1


def test_the_count_reads_open_tickets_through_the_partial_index(desk: Desk) -> None:
    # A desk after some years: nearly every ticket closed.
    add_tickets(desk, (5000, AGENT1, "closed"), (5000, AGENT2, "closed"),
                (40, AGENT1, "open"), (30, AGENT2, "pending"))
    engine = desk.app.engine
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    sent: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        if "count(" in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert assignee(desk) == AGENT2
    finally:
        event.remove(engine, "before_cursor_execute", record)
    [(statement, parameters)] = sent
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:  # the very statement, explained with its parameters
        rows = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement,
                                    parameters).all()
    plans = [" | ".join(str(r[-1] if sqlite else r[0]) for r in rows)]
    if not sqlite:
        plans.append(generic_plan(engine, statement, parameters))
    for plan in plans:
        assert "ix_tickets_open_assignee" in plan, plan
        assert "SCAN tickets" not in plan and "Seq Scan" not in plan, plan


def generic_plan(engine: Any, statement: str, parameters: dict[str, Any]) -> str:
    """PostgreSQL's plan for whatever the parameters are, as a prepared statement may come
    to use: it must not rest on the value of a parameter, such as a bound 'closed'."""
    names = list(parameters)
    numbered = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", statement)
    with engine.connect() as conn:
        conn.exec_driver_sql(f"PREPARE pick AS {numbered}")
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        values = ", ".join("'" + str(parameters[n]).replace("'", "''") + "'" for n in names)
        rows = conn.exec_driver_sql(f"EXPLAIN EXECUTE pick({values})").all()
        conn.exec_driver_sql("DEALLOCATE pick")
        conn.exec_driver_sql("RESET plan_cache_mode")
    return " | ".join(str(r[0]) for r in rows)
