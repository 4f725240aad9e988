"""The rest of the regulation by e-mail (issue 13): postponement reasons (§5.10)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.service.sweep import sweep
from daemon.storage import db
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import PROJECT, Clock, Desk, make_desk, simple_letter

MSK = ZoneInfo("Europe/Moscow")
CLIENT = "it@romashka.example"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 24, 11, 0, tzinfo=MSK))  # a Tuesday


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


# Documentation first (§1.2, §5.9) -------------------------------------------------

KNOWLEDGE = f'[knowledge]\nfolder = "{PROJECT}/config/knowledge"\n'


@pytest.fixture
def kb_desk(tmp_path: Path, clock: Clock) -> Desk:
    d = make_desk(tmp_path, clock=clock, extra=KNOWLEDGE)
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
    d.ingest(simple_letter("Как обновить программу до последней версии",
                           "Здравствуйте! Как обновить Программу до последней версии 3.16? "
                           "Где взять модуль обновления?", sender=CLIENT))
    return d


def test_the_acknowledgement_lists_matching_documentation(kb_desk: Desk) -> None:
    ack = body(to(kb_desk, CLIENT)[-1])
    assert "Возможно, ответ на ваш вопрос уже есть в документации (п. 1.2 Регламента):" in ack
    assert "— Порядок установки обновлений: https://docs.example.ru/update/" in ack
    assert ack.count("https://docs.example.ru/") <= 3
    assert kb_desk.tickets()[0]["kb_offered"][0] == "update-order"


def test_thanks_it_helped_closes_the_ticket_with_the_entry(kb_desk: Desk) -> None:
    client(kb_desk, "Спасибо, помогло! Обновились.")
    [t] = kb_desk.tickets()
    assert t["status"] == "closed" and t["kb_solved"].startswith("update-order")
    assert [r["state"] for r in t["reactions"]] == ["running"]  # no new clock
    closing = body(to(kb_desk, CLIENT)[-1])
    assert "оцените" in closing


def test_it_did_not_help_keeps_the_ticket_open(kb_desk: Desk) -> None:
    client(kb_desk, "Спасибо, но не помогло: модуль обновления не ставится.")
    [t] = kb_desk.tickets()
    assert t["status"] != "closed" and t["kb_solved"] is None


def test_solved_command_names_the_entry(kb_desk: Desk) -> None:
    client(kb_desk, "#solved licence-key\nРазобрались сами.")
    [t] = kb_desk.tickets()
    assert (t["status"], t["kb_solved"]) == ("closed", "licence-key")


def test_no_documentation_for_staff_or_without_a_match(kb_desk: Desk) -> None:
    kb_desk.ingest(simple_letter("Вопрос", "Добрый день! Подскажите номер телефона офиса.",
                                 sender="petrov@mail.example"))
    assert "уже есть в документации" not in body(to(kb_desk, "petrov@mail.example")[-1])
    kb_desk.ingest(simple_letter("Обновление", "Как обновить программу до новой версии?",
                                 sender="agent2@example.ru"))
    assert not any("уже есть в документации" in body(m)
                   for m in to(kb_desk, "agent2@example.ru"))


def test_faq_sends_the_entry_and_counts_as_the_reaction(kb_desk: Desk) -> None:
    staff(kb_desk, "#faq update-order")
    [t] = kb_desk.tickets()
    assert t["reaction_state"] == "met" and t["first_response_at"]
    answer = body(to(kb_desk, CLIENT)[-1])
    assert "после оплаты и установки предыдущих обновлений" in answer
    assert "Подробнее: https://docs.example.ru/update/" in answer
    staff(kb_desk, "#faq nothing-like-it")
    assert "#faq nothing-like-it: такой статьи нет" in body(to(kb_desk, "agent1@example.ru")[-1])


# Letters to the head of support (§6) -----------------------------------------------

def with_head(desk: Desk, address: str = "head-support@example.ru") -> None:
    import dataclasses

    cfg = desk.app.config
    desk.app.reconfigure(dataclasses.replace(
        cfg, service=dataclasses.replace(cfg.service, head_address=address)))


def test_words_to_the_head_on_a_ticket_escalate_it(desk: Desk) -> None:
    client(desk, "Прошу передать руководителю службы поддержки: третий день нет ответа, "
                 "работа стоит.")
    [t] = desk.tickets()
    assert t["escalated"] and t["escalated_to"] == "head@example.ru"
    card = body(to(desk, "head@example.ru")[-1])
    assert "Карточка обращения" in card and "Номер (TID): SD-000013" in card
    assert "Срок реакции: до " in card and "третий день нет ответа" in card
    ack = body(to(desk, CLIENT)[-1])
    assert "передано руководителю службы технической поддержки (Руководитель)" in ack


def test_a_letter_to_the_head_address_escalates_its_ticket(desk: Desk) -> None:
    with_head(desk)
    raw = simple_letter("Re: [SD-000013] Ошибка 500", "Просим ускорить решение.",
                        sender=CLIENT, Cc="head-support@example.ru")
    desk.ingest(raw)
    [t] = desk.tickets()
    assert t["escalated"]
    assert "head-support@example.ru" not in t["participants"]
    assert any("Просим ускорить" in body(m) for m in to(desk, "head@example.ru"))


def test_a_plain_follow_up_is_not_escalated(desk: Desk) -> None:
    client(desk, "Дополнение: ошибка повторяется.")
    assert not desk.tickets()[0]["escalated"]
    assert not to(desk, "head@example.ru")


# The order of arrival (§2.1) --------------------------------------------------------

def test_the_queue_position_when_asked_for(tmp_path: Path, clock: Clock) -> None:
    d = make_desk(tmp_path, clock=clock, extra="[answer]\nshow_queue_position = true\n")
    for n in range(3):
        d.ingest(simple_letter(f"Ошибка {n}", sender=f"user{n}@client.example"))
    acks = [body(m) for m in d.sent() if "client.example" in str(m["To"])]
    assert [a.split("очереди уровня «Консультирование по общим вопросам»: ")[1][0]
            for a in acks] == ["1", "2", "3"]


def test_no_queue_position_by_default(desk: Desk) -> None:
    assert "очереди" not in body(to(desk, CLIENT)[-1])


def test_thanks_after_a_faq_answer_closes_and_keeps_the_reaction(kb_desk: Desk) -> None:
    staff(kb_desk, "#faq update-order")
    client(kb_desk, "Спасибо, помогло!")
    [t] = kb_desk.tickets()
    assert (t["status"], t["kb_solved"]) == ("closed", "update-order")
    assert [r["state"] for r in t["reactions"]] == ["met"]


def test_the_head_hears_of_a_ticket_once_an_hour(desk: Desk, clock: Clock) -> None:
    for _ in range(3):
        client(desk, "Прошу передать руководителю службы: ускорьте, пожалуйста.")
    assert len(to(desk, "head@example.ru")) == 1
    clock.now += timedelta(hours=2)
    client(desk, "Руководителю службы: ответа так и нет.")
    assert len(to(desk, "head@example.ru")) == 2
