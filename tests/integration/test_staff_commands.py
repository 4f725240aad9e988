"""Staff commands in a reply, and what clients ask for by e-mail (§5.3, §5.5, §6)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.storage import db
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import PROJECT, Desk, make_desk, simple_letter

TUESDAY_11 = datetime(2026, 11, 24, 11, 0, tzinfo=ZoneInfo("Europe/Moscow"))
CLIENT = "it@romashka.example"


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    d = make_desk(tmp_path, clock=lambda: TUESDAY_11)
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
    d.ingest(simple_letter("Не работает выгрузка", sender=CLIENT))
    return d


def staff(desk: Desk, text: str, sender: str = "agent1@example.ru") -> None:
    desk.ingest(simple_letter("Re: [SD-000013] Не работает выгрузка", text, sender=sender))


def client(desk: Desk, text: str, sender: str = CLIENT) -> None:
    desk.ingest(simple_letter("Re: [SD-000013] Не работает выгрузка", text, sender=sender))


def to_client(desk: Desk) -> list:  # type: ignore[type-arg]
    return [m for m in desk.sent() if CLIENT in str(m["To"])]


def body(m) -> str:  # type: ignore[no-untyped-def]
    return str(m.get_body(("plain",)).get_content())


def test_close_sends_the_answer_then_asks_for_a_rating(desk: Desk) -> None:
    staff(desk, "#close\nПроблема решена обновлением до версии 3.15.")
    [t] = desk.tickets()
    assert t["status"] == "closed" and t["first_response_at"]
    answer, closing = to_client(desk)[-2:]
    assert "Проблема решена обновлением" in body(answer) and "#close" not in body(answer)
    assert "оцените" in body(closing) and "от 1 до 5" in body(closing)
    assert "смените" not in body(closing)  # no credentials were shared


def test_a_rating_is_recorded_without_reopening(desk: Desk) -> None:
    staff(desk, "#close\nГотово.")
    client(desk, "5\nСпасибо, всё работает!")
    [t] = desk.tickets()
    assert t["rating"] == 5 and t["status"] == "closed"
    assert "Спасибо за оценку 5" in body(to_client(desk)[-1])


def test_any_other_letter_reopens_a_closed_ticket(desk: Desk) -> None:
    staff(desk, "#close\nГотово.")
    client(desk, "Ошибка вернулась после перезагрузки сервера.")
    [t] = desk.tickets()
    assert t["status"] == "open" and t["reaction_state"] == "running"
    assert "открыто повторно" in body(to_client(desk)[-1])


def test_closing_after_credentials_reminds_to_change_them(desk: Desk) -> None:
    client(desk, "Доступ по SSH: root, пароль Qwerty123 — проверьте, пожалуйста.")
    staff(desk, "#close\nПроверили и исправили конфигурацию.")
    assert "смените, пожалуйста, пароли" in body(to_client(desk)[-1])


def test_note_is_kept_and_never_sent(desk: Desk) -> None:
    before = len(to_client(desk))
    staff(desk, "#note\nКлиент звонил, ждёт ответа до вечера.")
    [t] = desk.tickets()
    assert len(to_client(desk)) == before
    assert any(m["kind"] == "note" for m in t["messages"])
    assert t["first_response_at"] is None  # a note is not a reaction


def test_pending_assign_and_sla(desk: Desk) -> None:
    staff(desk, "#pending\n#assign agent2@example.ru\n#sla licensee-vip\nУточните версию.")
    [t] = desk.tickets()
    assert (t["status"], t["assignee"], t["sla_level"]) == ("pending", "agent2@example.ru",
                                                           "licensee-vip")


def test_urgent_then_standard_move_the_running_deadline(desk: Desk) -> None:
    client(desk, "Дополнение к обращению.")
    assert desk.tickets()[0]["reaction_due"] == "2026-11-24T14:00:00+00:00"  # 6 h: 17:00 MSK
    staff(desk, "#urgent\n#note\nПодтверждаю аварию.")
    [t] = desk.tickets()
    assert t["sla_level"] == "licensee-operational" and t["emergency"]
    assert t["reaction_due"] == "2026-11-24T12:00:00+00:00"  # 4 h from the same start: 15:00
    staff(desk, "#standard\n#note\nНе авария.")
    assert desk.tickets()[0]["sla_level"] == "licensee-standard"


def test_dev_hands_the_ticket_to_development(desk: Desk) -> None:
    staff(desk, "#dev\n#note\nНужна доработка.")
    [t] = desk.tickets()
    assert t["sla_level"] == "development"
    assert t["reaction_due"] == "2026-12-28T08:00:00+00:00"  # 24 working days on, 11:00 MSK


def test_merge_moves_the_letters(desk: Desk) -> None:
    desk.ingest(simple_letter("Та же проблема", sender="buh@romashka.example"))
    desk.ingest(simple_letter("Re: [SD-000021] Та же проблема", "#merge SD-000013\n#note\nДубль.",
                              sender="agent1@example.ru"))
    first, second = desk.tickets()
    assert second["status"] == "closed"
    assert {m["from"] for m in first["messages"] if m["direction"] == "in"} >= {
        CLIENT, "buh@romashka.example"}
    assert "buh@romashka.example" in first["participants"]


@pytest.mark.parametrize("text", ["#clsoe\nГотово.", "#sla gold\nГотово.",
                                  "#assign stranger@evil.example\nГотово.",
                                  "#merge SD-000014\nГотово.", "#close now\nГотово."])
def test_a_bad_command_changes_nothing_and_says_why(desk: Desk, text: str) -> None:
    before = len(to_client(desk))
    staff(desk, text)
    [t] = desk.tickets()
    assert t["status"] == "new" and t["first_response_at"] is None
    assert len(to_client(desk)) == before  # nothing reached the client
    [err] = [m for m in desk.sent() if "Команды не выполнены" in str(m["Subject"])]
    assert str(err["To"]) == "agent1@example.ru"
    assert "Клиенту ничего не отправлено" in body(err)


def test_the_transcript_goes_to_the_requester_only(desk: Desk) -> None:
    staff(desk, "Проверьте настройки выгрузки, раздел 4.2.")
    client(desk, "Пришлите, пожалуйста, всю переписку по обращению.")
    [t] = desk.tickets()
    transcript = to_client(desk)[-1]
    assert "Переписка по обращению" in str(transcript["Subject"])
    text = body(transcript)
    assert "Не работает выгрузка" in text and "Проверьте настройки выгрузки" in text
    assert t["reaction_state"] == "met"  # asking for the transcript starts no new clock


def test_resume_turns_automatic_letters_back_on_after_a_reply_loop(desk: Desk) -> None:
    from daemon.storage.models import Ticket

    with db.unit_of_work(desk.app.sessions) as s:
        ticket = s.get(Ticket, 1)
        assert ticket is not None
        ticket.automatic_stopped_at = TUESDAY_11  # as the reply_loop step leaves it
    acks = len(to_client(desk))
    client(desk, "Ошибка всё ещё есть, лог во вложении.")
    assert len(to_client(desk)) == acks  # stopped: no acknowledgement
    staff(desk, "#resume\n#note\nКлиент починил свой автоответчик.")
    [t] = desk.tickets()
    assert t["automatic_stopped_at"] is None
    client(desk, "И ещё один вопрос по выгрузке.")
    assert len(to_client(desk)) == acks + 1  # the acknowledgement goes again
