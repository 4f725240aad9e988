"""The rows the pipeline writes around the unit of work (daemon/storage/db.py, issue 5).

They go to the driver directly, so these check, on both databases, that what is
stored is what SQLAlchemy itself would have stored (JSON, aware UTC datetimes,
booleans, bytes, the columns' defaults), that a driver's error still reads as
SQLAlchemy's (a database that went away stays temporary), and that an object
adopted into the session behaves like any loaded one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError

from daemon.storage import db
from daemon.storage.models import Message, Outgoing, Ticket
from tests.conftest import Desk

MSK = timezone(timedelta(hours=3))


@pytest.fixture
def desk(desk_on_each_db: Desk) -> Desk:
    return desk_on_each_db


def a_ticket(session, number: int = 7) -> Ticket:  # type: ignore[no-untyped-def]
    return db.insert_now(session, Ticket(
        id=number, tid=f"SD-{number:06d}", subject="Не печатает отчёт", sla_level="standard",
        requester="client@client.example", participants=["boss@client.example"],
        received_at=datetime(2026, 11, 25, 12, 0, tzinfo=MSK)))


def test_rows_read_back_as_the_orm_wrote_them(desk: Desk) -> None:
    at = datetime(2026, 11, 25, 9, 30, 15, 123456, tzinfo=MSK)
    with db.unit_of_work(desk.app.sessions) as s:
        ticket = a_ticket(s)
        out_id = db.insert_id(s, Outgoing.__table__, dict(  # type: ignore[arg-type]
            ticket_id=ticket.id, kind="ack", automatic=True, recipient="client@client.example",
            subject="Ваше обращение", message_id="<ack-1@example.ru>", raw=b"\x00\xffMIME",
            created_at=at, next_attempt_at=at))
        db.insert_row(s, Message.__table__, [dict(  # type: ignore[arg-type]
            ticket_id=ticket.id, direction="out", kind="ack", to_addrs=["a@b.example", "в@г.рф"],
            subject="Тема", message_id=f"<m{n}@example.ru>", at=at, body_text="Текст",
            outgoing_id=out_id) for n in range(3)])
    with desk.app.sessions() as s:
        t = s.get(Ticket, 7)
        assert t is not None and t.participants == ["boss@client.example"]
        assert t.received_at == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
        assert (t.status, t.emergency, t.needs_attention, t.missing_info) == ("new", False,
                                                                               False, [])
        assert t.created_at.tzinfo is not None  # the column's default, made by us
        out = s.get(Outgoing, out_id)
        assert out is not None and out.raw == b"\x00\xffMIME" and out.automatic is True
        assert (out.status, out.attempts, out.last_error) == ("queued", 0, "")
        assert out.created_at == at.astimezone(UTC)
        rows = s.scalars(select(Message).order_by(Message.id)).all()
        assert [m.message_id for m in rows] == ["<m0@example.ru>", "<m1@example.ru>",
                                                "<m2@example.ru>"]
        assert rows[0].to_addrs == ["a@b.example", "в@г.рф"] and rows[0].cc_addrs == []
        assert rows[0].at == at.astimezone(UTC) and rows[0].outgoing_id == out_id


def test_a_driver_error_is_sqlalchemys(desk: Desk) -> None:
    row = dict(kind="ack", recipient="a@b.example", message_id="<same@example.ru>", raw=b"",
               created_at=datetime.now(UTC), next_attempt_at=datetime.now(UTC))
    with pytest.raises(IntegrityError), db.unit_of_work(desk.app.sessions) as s:
        db.insert_row(s, Outgoing.__table__, row)  # type: ignore[arg-type]
        db.insert_row(s, Outgoing.__table__, row)  # type: ignore[arg-type]
    with pytest.raises(DBAPIError) as raised, db.unit_of_work(desk.app.sessions) as s:
        s.connection().exec_driver_sql("DROP TABLE attachments")
        db.insert_row(s, Outgoing.__table__, dict(row, message_id="<other@example.ru>"))  # type: ignore[arg-type]
        db.insert_row(s, Message.__table__.metadata.tables["attachments"],  # type: ignore[arg-type]
                      dict(message_id=1, filename="x.png"))
    assert db.is_temporary(raised.value)  # a schema behind the code waits, like an outage


def test_an_adopted_object_is_updated_like_a_loaded_one(desk: Desk) -> None:
    with db.unit_of_work(desk.app.sessions) as s:
        ticket = a_ticket(s)
        ticket.status = "open"  # flushed as an UPDATE of the written row
    with desk.app.sessions() as s:
        assert s.scalar(select(Ticket.status).where(Ticket.id == 7)) == "open"
