"""§6 after the answer (issue 19, item 2): thanks close, ratings count, a closed
ticket stays closed unless the client really asks again; driven through the CLI."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PROJECT, simple_letter
from tests.support.cli_desk import CliDesk, text_of, to

CLIENT = "it@romashka.example"
SUBJECT = "Не формируется отчёт"


def client(desk: CliDesk, tid: str, moment: str, words: str) -> None:
    desk.at(moment).ingest(simple_letter(f"Re: [{tid}] {SUBJECT}", words,
                                         sender=f"Ольга <{CLIENT}>"))


def staff(desk: CliDesk, tid: str, moment: str, words: str) -> None:
    desk.at(moment).ingest(simple_letter(f"Re: [{tid}] {SUBJECT}", words,
                                         sender="agent1@example.ru"))


def kinds(desk: CliDesk, tid: str) -> list[str]:
    return [m["kind"] for m in desk.ticket(tid)["messages"] if m["direction"] == "in"]


def test_thanks_ratings_and_questions_after_closing(tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path)
    desk.ok("orgs", "import", str(PROJECT / "config" / "demo-registry.toml"))
    tid = desk.at("2026-12-08T11:00+03:00").ingest(
        simple_letter(SUBJECT, sender=f"Ольга <{CLIENT}>"))
    staff(desk, tid, "2026-12-08T12:00+03:00", "#close\nИсправлено в версии 3.15.")
    desk.new_letters()

    # Thanks: recorded, the ticket stays closed, nobody is bothered.
    client(desk, tid, "2026-12-08T12:10+03:00", "Спасибо, всё работает!")
    t = desk.ticket(tid)
    assert t["status"] == "closed" and kinds(desk, tid)[-1] == "thanks"
    assert len(t["reactions"]) == 1 and desk.new_letters() == []

    # Ratings in the forms clients use: recorded, thanked, never reopened.
    for moment, words, value in (("2026-12-08T12:20+03:00", "Оценка: 4", 4),
                                 ("2026-12-08T12:30+03:00", "★★★★★", 5),
                                 ("2026-12-08T12:40+03:00", "ставлю 3", 3)):
        client(desk, tid, moment, words)
        t = desk.ticket(tid)
        assert (t["status"], t["rating"]) == ("closed", value)
        [thanks] = to(desk.new_letters(), CLIENT)
        assert f"Спасибо за оценку {value} по обращению {tid}" in text_of(thanks)

    # Unclear: stays closed, staff are asked; a #reopen opens it.
    client(desk, tid, "2026-12-08T13:00+03:00",
           "Добрый день. Пересылаю вам письмо нашей бухгалтерии.")
    assert desk.ticket(tid)["status"] == "closed" and kinds(desk, tid)[-1] == "unclear"
    letters = desk.new_letters()
    assert to(letters, CLIENT) == []
    [note] = to(letters, "agent1@example.ru")
    assert "осталось закрытым" in text_of(note) and "#reopen" in text_of(note)
    staff(desk, tid, "2026-12-08T13:10+03:00", "#reopen\n#note\nПосмотрю письмо бухгалтерии.")
    assert desk.ticket(tid)["status"] == "open"
    staff(desk, tid, "2026-12-08T13:20+03:00", "#close\nОтветили бухгалтерии отдельно.")
    assert desk.ticket(tid)["status"] == "closed"
    desk.new_letters()

    # A real new question reopens it, with a clock of its own.
    client(desk, tid, "2026-12-08T14:00+03:00", "Снова ошибка 500 при входе, помогите")
    t = desk.ticket(tid)
    assert t["status"] == "open" and kinds(desk, tid)[-1] == "client"
    assert t["reaction_due"] == "2026-12-09T09:00:00+00:00"  # 6 h from 14:00: 09.12 12:00
    [ack] = to(desk.new_letters(), CLIENT)
    assert "обращение открыто повторно" in text_of(ack)

    # «открыть повторно» after closing reopens too.
    staff(desk, tid, "2026-12-08T15:00+03:00", "#close\nПочистили кэш, проверьте.")
    client(desk, tid, "2026-12-08T15:30+03:00", "Откройте, пожалуйста, обращение повторно")
    assert desk.ticket(tid)["status"] == "open"


def test_thanks_on_an_answered_ticket_start_no_clock(tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path)
    desk.ok("orgs", "import", str(PROJECT / "config" / "demo-registry.toml"))
    tid = desk.at("2026-12-08T11:00+03:00").ingest(
        simple_letter(SUBJECT, sender=f"Ольга <{CLIENT}>"))
    staff(desk, tid, "2026-12-08T12:00+03:00", "Исправлено, проверьте, пожалуйста.")
    desk.new_letters()
    client(desk, tid, "2026-12-08T12:30+03:00", "Спасибо большое, заработало!")
    t = desk.ticket(tid)
    assert t["status"] == "open" and len(t["reactions"]) == 1
    assert t["reactions"][0]["state"] == "met" and kinds(desk, tid)[-1] == "thanks"
    letters = desk.new_letters()
    assert to(letters, CLIENT) == []  # no acknowledgement of thanks
    [note] = to(letters, "agent1@example.ru")
    assert "Клиент благодарит за ответ" in text_of(note) and "#close" in text_of(note)
