"""The rest of the regulation by e-mail (issue 13): postponement reasons (§5.10)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.service.sweep import sweep
from daemon.storage import db
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import PROJECT, Desk, make_desk, simple_letter

MSK = ZoneInfo("Europe/Moscow")
CLIENT = "it@romashka.example"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 11, 0, tzinfo=MSK)  # a Tuesday

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(tmp_path: Path, clock: Clock) -> Desk:
    d = make_desk(tmp_path, clock=clock)
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
    d.ingest(simple_letter("Ошибка 500 при формировании отчёта", sender=CLIENT))
    return d


def staff(desk: Desk, text: str) -> None:
    desk.ingest(simple_letter("Re: [SD-000013] Ошибка 500", text, sender="agent1@example.ru"))


def client(desk: Desk, text: str) -> None:
    desk.ingest(simple_letter("Re: [SD-000013] Ошибка 500", text, sender=CLIENT))


def body(m) -> str:  # type: ignore[no-untyped-def]
    return str(m.get_body(("plain",)).get_content())


def to(desk: Desk, who: str) -> list:  # type: ignore[type-arg]
    return [m for m in desk.sent() if who in str(m["To"])]


def test_pending_with_a_reason_quotes_the_regulation_and_stops_the_clock(
        desk: Desk, clock: Clock) -> None:
    staff(desk, "#pending need-info\nПришлите, пожалуйста, журнал сервера за 24 ноября.")
    [t] = desk.tickets()
    assert (t["status"], t["pending_reason"], t["reaction_state"]) == (
        "pending", "need-info", "met")
    letter = body(to(desk, CLIENT)[-1])
    assert letter.index("Пришлите, пожалуйста, журнал") < letter.index("п. 5.10 Регламента")
    assert "«Отправитель не может предоставить достаточно информации для решения " \
           "проблемы»" in letter
    assert "#pending" not in letter
    clock.now += timedelta(days=30)
    assert (sweep(desk.app).warned, sweep(desk.app).breached) == (0, 0)  # nothing chased
    client(desk, "Журнал во вложении.")
    [t] = desk.tickets()
    assert (t["status"], t["reaction_state"]) == ("open", "running")


def test_a_bare_pending_stops_the_clock_too(desk: Desk, clock: Clock) -> None:
    staff(desk, "#pending\n#note\nЖдём ответа клиента по телефону.")
    [t] = desk.tickets()
    assert t["status"] == "pending" and t["pending_reason"] == ""
    clock.now += timedelta(days=30)
    assert sweep(desk.app).breached == 0


def test_a_reason_by_its_number_and_an_unknown_one(desk: Desk) -> None:
    staff(desk, "#pending 6")
    assert "«вопрос выходит за рамки технической поддержки»" in body(to(desk, CLIENT)[-1])
    staff(desk, "#pending someday\nПозже.")
    problem = body(to(desk, "agent1@example.ru")[-1])
    assert "#pending someday: такой причины нет в п. 5.10" in problem
    assert "2 need-info" in problem
