"""Staff asking the desk by e-mail: #list, #list all, #show TID, #find (issue 12).
Answered only to proven staff; a client or a forger writing the same gets nothing extra."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.storage import db
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import PROJECT, Desk, make_desk, simple_letter

TUESDAY_11 = datetime(2026, 11, 24, 11, 0, tzinfo=ZoneInfo("Europe/Moscow"))
AGENT, HEAD = "agent1@example.ru", "head@example.ru"


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    d = make_desk(tmp_path, clock=lambda: TUESDAY_11)
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
    d.ingest(simple_letter("Не работает выгрузка", sender="it@romashka.example"))
    d.ingest(simple_letter("Ошибка подписи", "Сертификат не найден при подписании.",
                           sender="admin@sever.example"))
    d.ingest(simple_letter("Вопрос о тарифах", sender="ivan@client.example"))
    return d


def ask(desk: Desk, text: str, sender: str = AGENT, subject: str = "Запрос",
        **kw: object) -> list[EmailMessage]:
    before = len(desk.sent())
    desk.ingest(simple_letter(subject, text, sender=sender, **kw))  # type: ignore[arg-type]
    return [m for m in desk.sent()[before:] if "Ответ на запрос" in str(m["Subject"])]


def body(m: EmailMessage) -> str:
    return str(m.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def tid(desk: Desk, requester: str) -> str:
    return next(t["tid"] for t in desk.tickets() if t["requester"] == requester)


def test_list_shows_my_open_tickets_and_opens_no_ticket(desk: Desk) -> None:
    mine = [t["tid"] for t in desk.tickets() if t["assignee"] == AGENT]
    [answer] = ask(desk, "#list\n\n--\nАнна Петрова")
    assert answer["To"] == AGENT and "клиентам он не отправлялся" in body(answer)
    assert f"Ваши открытые обращения: {len(mine)}" in body(answer)
    assert all(f"[{t}]" in body(answer) for t in mine)
    assert len(desk.tickets()) == 3
    assert desk.inbound()[-1][:2] == ("staff-query", "staff_query: #list")


def test_list_all_is_for_the_head_only(desk: Desk) -> None:
    [refused] = ask(desk, "#list all")
    assert "доступна только руководителю" in body(refused)
    [answer] = ask(desk, "#list all", sender=HEAD)
    assert "Все открытые обращения: 3" in body(answer)
    assert all(f"[{t['tid']}]" in body(answer) for t in desk.tickets())


def test_show_gives_the_card_and_the_last_letters(desk: Desk) -> None:
    sever = tid(desk, "admin@sever.example")
    [answer] = ask(desk, f"#show {sever}")
    text = body(answer)
    assert f"Обращение {sever}" in text and "Тема: Ошибка подписи" in text
    assert "организация: АО «Северный ветер» (ИНН 7736207543)" in text
    assert "Сертификат не найден при подписании." in text
    [missing] = ask(desk, "#show SD-999999")
    assert "Обращения SD-999999 нет." in body(missing)


@pytest.mark.parametrize(("what", "requester"), [
    ("7707083893", "it@romashka.example"), ("admin@sever.example", "admin@sever.example"),
    ("выгрузка", "it@romashka.example"), ("Сертификат", "admin@sever.example"),
    ("сертификат", "admin@sever.example"),
])
def test_find_by_inn_address_or_words(desk: Desk, what: str, requester: str) -> None:
    [answer] = ask(desk, f"#find {what}")
    assert "найдено 1" in body(answer)
    assert f"[{tid(desk, requester)}]" in body(answer)


def test_a_client_writing_list_gets_an_acknowledgement_only(desk: Desk) -> None:
    assert ask(desk, "#list all", sender="ivan@client.example") == []
    newest = desk.tickets()[-1]
    assert (newest["requester"], newest["subject"]) == ("ivan@client.example", "Запрос")
    [ack] = [m for m in desk.sent() if m["To"] == "ivan@client.example"
             and newest["tid"] in str(m["Subject"])]
    assert "Ваше обращение зарегистрировано" in body(ack)


def test_an_unproven_staff_letter_gets_no_answer(desk: Desk) -> None:
    assert ask(desk, "#list all", sender=HEAD, authenticated=False) == []


def test_looking_and_changing_in_one_reply_is_refused(desk: Desk) -> None:
    romashka = tid(desk, "it@romashka.example")
    before = len(desk.sent())
    desk.ingest(simple_letter(f"Re: [{romashka}] Не работает выгрузка", "#close\n#list",
                              sender=AGENT))
    [refusal] = [m for m in desk.sent()[before:] if "Команды не выполнены" in str(m["Subject"])]
    assert "пишутся в отдельном письме" in body(refusal)
    assert next(t for t in desk.tickets() if t["tid"] == romashka)["status"] != "closed"
