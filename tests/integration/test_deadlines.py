"""Deadline warnings: the assignee before the reaction deadline, the head after it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from daemon.service.sweep import sweep
from tests.conftest import Clock, make_desk, simple_letter

MSK = ZoneInfo("Europe/Moscow")


def staff_letters(desk, kind_words: str):  # type: ignore[no-untyped-def]
    return [m for m in desk.sent() if kind_words in str(m["Subject"])]


def test_the_assignee_is_warned_once_and_the_head_told_of_a_miss(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=MSK))  # Tuesday, start of the day
    desk = make_desk(tmp_path, clock=clock)
    desk.ingest(simple_letter("Вопрос без ответа"))
    [t] = desk.tickets()
    assert t["reaction_due"] == "2026-11-30T15:00:00+00:00"  # 40 working hours: Mon 18:00 MSK

    clock.now = datetime(2026, 11, 27, 15, 59, tzinfo=MSK)  # not yet: 25 % is 10 h, Fri 16:00
    assert sweep(desk.app).warned == 0
    clock.now = datetime(2026, 11, 27, 17, 0, tzinfo=MSK)  # 31 h used, 9 h left
    assert sweep(desk.app).warned == 1
    assert sweep(desk.app).warned == 0  # once per clock
    [warning] = staff_letters(desk, "Приближается срок реакции")
    assert str(warning["To"]) == t["assignee"]
    text = warning.get_body(("plain",)).get_content()
    assert "до 30.11.2026 18:00 (МСК)" in text and "осталось 9 рабочих часов" in text

    clock.now = datetime(2026, 11, 30, 17, 59, tzinfo=MSK)
    assert sweep(desk.app).breached == 0
    clock.now = datetime(2026, 11, 30, 18, 0, 1, tzinfo=MSK)
    report = sweep(desk.app)
    assert report.breached == 1 and sweep(desk.app).breached == 0
    assert desk.tickets()[0]["reaction_state"] == "missed"
    breach = staff_letters(desk, "Срок реакции истёк")
    assert {str(m["To"]) for m in breach} == {"head@example.ru", t["assignee"]}


def test_a_staff_reply_in_time_stops_the_chase(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=MSK))
    desk = make_desk(tmp_path, clock=clock)
    desk.ingest(simple_letter("Вопрос"))
    desk.ingest(simple_letter("Re: [SD-000013] Вопрос", "Ответ сотрудника по существу.",
                              sender="agent1@example.ru"))
    clock.now += timedelta(days=14)
    assert (sweep(desk.app).warned, sweep(desk.app).breached) == (0, 0)
    [t] = desk.tickets()
    assert t["reaction_state"] == "met"


def test_a_follow_up_does_not_hide_a_missed_deadline(tmp_path: Path) -> None:
    """§2.3: the ticket's deadline is its earliest unanswered clock, so a client letter
    after a miss neither restarts the chase nor tells the head again."""
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=MSK))
    desk = make_desk(tmp_path, clock=clock)
    desk.ingest(simple_letter("Вопрос"))
    clock.now = datetime(2026, 12, 2, 10, 0, tzinfo=MSK)
    assert sweep(desk.app).breached == 1
    desk.ingest(simple_letter("Re: [SD-000013] Вопрос", "Дополнительная информация по вопросу."))
    [t] = desk.tickets()
    assert t["reaction_state"] == "missed" and len(t["reactions"]) == 2
    assert t["reaction_due"] == "2026-11-30T15:00:00+00:00"
    clock.now = datetime(2026, 12, 9, 10, 0, tzinfo=MSK)
    assert sweep(desk.app).breached == 0


def test_after_a_reply_a_new_client_letter_starts_a_new_chase(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=MSK))
    desk = make_desk(tmp_path, clock=clock)
    desk.ingest(simple_letter("Вопрос"))
    clock.now = datetime(2026, 12, 2, 10, 0, tzinfo=MSK)
    assert sweep(desk.app).breached == 1
    desk.ingest(simple_letter("Re: [SD-000013] Вопрос", "Ответ сотрудника по существу.",
                              sender="agent1@example.ru"))
    desk.ingest(simple_letter("Re: [SD-000013] Вопрос", "Дополнительная информация по вопросу."))
    [t] = desk.tickets()
    assert t["reaction_state"] == "running" and len(t["reactions"]) == 2
    clock.now = datetime(2026, 12, 9, 10, 0, tzinfo=MSK)
    assert sweep(desk.app).breached == 1
