"""The life of a letter, driven through the real pipeline, database and outbox.

Each test is one story a client or staff member would live through; it looks at
what a user would see: tickets (as `tickets show --json` prints them) and the
letters in the outbox Maildir.
"""

from __future__ import annotations

import shutil
from email.header import Header
from pathlib import Path

import pytest

from tests.conftest import Desk, make_desk, simple_letter


def to(letters, address):  # type: ignore[no-untyped-def]
    return [m for m in letters if address in str(m["To"])]


def body(m) -> str:  # type: ignore[no-untyped-def]
    return m.get_body(("plain",)).get_content()


def test_new_letter_opens_ticket_acknowledged_with_tid_level_and_deadline(desk: Desk) -> None:
    desk.ingest(simple_letter("Ошибка при подписании", message_id="<a1@client.example>"))
    [t] = desk.tickets()
    assert t["tid"] == "SD-000013" and t["status"] == "new"
    assert t["sla_level"] == "consultation" and t["reaction_due"]
    [ack] = to(desk.sent(), "ivan@client.example")
    assert str(ack["Subject"]) == "[SD-000013] Ошибка при подписании"
    assert ack["In-Reply-To"] == "<a1@client.example>"
    assert ack["Auto-Submitted"] == "auto-replied"
    text = body(ack)
    assert "Номер обращения (TID): SD-000013" in text
    assert "Консультирование по общим вопросам (п. 3.8 Регламента)" in text
    assert "40 рабочих часов" in text
    assert "ИНН" in text  # unidentified: says what to send to be identified (§5.8)
    html = ack.get_body(("html",)).get_content()
    assert "SD-000013" in html


def test_the_staff_notification_names_what_the_client_was_asked_for_in_russian(
        desk: Desk) -> None:
    desk.ingest(simple_letter("Не работает отчёт", "Здравствуйте! Отчёт не формируется."))
    [note] = [m for m in desk.sent() if "Новое обращение" in str(m["Subject"])]
    assert ("Клиенту предложено дополнить: описание проблемы и шаги для её воспроизведения; "
            "адрес Системы, на котором наблюдается проблема; номер версии Программы и "
            "редакция; по возможности, скриншоты ошибки в форматах JPG, GIF или PNG "
            "(скриншоты в формате BMP — запакованными в архив ZIP или RAR).") in body(note)


@pytest.mark.parametrize("subject", [
    "Re: [SD-000013] Ошибка при подписании",
    "RE: RE: [SD-000013] Ошибка при подписании",
    "Fwd: Re[2]: [SD-000013] Ошибка",
    "AW: FW: [SD-000013] Ошибка",
    "Отв: Отв: [SD-000013] Ошибка",
    "Ответ: [SD-000013] Ошибка",
    "Пересл: [SD-000013] Ошибка",
])
@pytest.mark.parametrize("charset", ["utf-8", "koi8-r", "windows-1251"])
def test_replies_with_the_tid_join_their_ticket(desk: Desk, subject: str, charset: str) -> None:
    desk.ingest(simple_letter("Ошибка при подписании"))
    encoded = Header(subject, charset, maxlinelen=40).encode()  # encoded and folded
    assert "\n" in encoded or charset != "utf-8" or len(subject) < 20
    desk.ingest(simple_letter(encoded, "Дополняю: ошибка повторяется каждый раз."))
    [t] = desk.tickets()
    kinds = [m["kind"] for m in t["messages"] if m["direction"] == "in"]
    assert kinds == ["client", "client"]
    assert len(t["reactions"]) == 2  # every client letter starts a new reaction clock (§2.3)
    acks = to(desk.sent(), "ivan@client.example")
    assert "добавлено к обращению SD-000013" in body(acks[-1])


def test_reply_that_lost_the_tid_joins_by_in_reply_to(desk: Desk) -> None:
    desk.ingest(simple_letter("Вопрос по лицензии"))
    [ack] = to(desk.sent(), "ivan@client.example")
    desk.ingest(simple_letter("Вопрос", "Уточнение по вопросу.", In_Reply_To=ack["Message-ID"],
                              References=ack["Message-ID"]))
    assert len(desk.tickets()) == 1
    assert desk.inbound()[-1][:2] == ("threaded", "references")


def test_a_stranger_naming_a_tid_gets_a_ticket_of_their_own(desk: Desk) -> None:
    desk.ingest(simple_letter("Конфиденциальный вопрос"))
    desk.ingest(simple_letter("Re: [SD-000013] Конфиденциальный вопрос", "Я тоже хочу знать",
                              sender="eve@other.example"))
    first, second = desk.tickets()
    assert [m["from"] for m in first["messages"] if m["direction"] == "in"] == \
        ["ivan@client.example"]
    assert second["requester"] == "eve@other.example" and second["tid"] == "SD-000021"
    assert "SD-000013" in second["attention_reason"]
    [ack] = to(desk.sent(), "eve@other.example")
    assert "SD-000021" in str(ack["Subject"]) and "SD-000013" not in str(ack["Subject"])


def test_a_tid_with_a_wrong_check_digit_is_not_a_tid(desk: Desk) -> None:
    desk.ingest(simple_letter("Первое"))
    desk.ingest(simple_letter("Re: [SD-000014] Первое", "Опечатка в номере"))
    assert [t["tid"] for t in desk.tickets()] == ["SD-000013", "SD-000021"]


def test_same_message_id_twice_opens_one_ticket_and_resends_the_ack(desk: Desk) -> None:
    letter = simple_letter("Дважды доставлено", message_id="<twice@client.example>")
    desk.ingest(letter)
    desk.ingest(letter)
    assert len(desk.tickets()) == 1
    acks = to(desk.sent(), "ivan@client.example")
    assert len(acks) == 2 and all("SD-000013" in str(a["Subject"]) for a in acks)
    assert "повторно высылаем подтверждение" in body(acks[1])
    assert desk.inbound()[1][0] == "duplicate"


def test_a_client_resending_the_same_text_gets_the_ack_again_not_a_new_ticket(
        desk: Desk) -> None:
    desk.ingest(simple_letter("Не пришло подтверждение", "Текст обращения номер один."))
    desk.ingest(simple_letter("Не пришло подтверждение", "Текст обращения   номер один."))
    assert len(desk.tickets()) == 1
    assert len(to(desk.sent(), "ivan@client.example")) == 2


@pytest.mark.parametrize("headers", [
    {"Auto_Submitted": "auto-replied"},
    {"X_Autoreply": "yes"},
    {"X_Autorespond": "Out of office"},
    {"Precedence": "bulk"},
    {"Precedence": "junk"},
    {"List_Id": "<news.client.example>"},
])
def test_robots_never_get_an_answer(desk: Desk, headers: dict[str, str]) -> None:
    desk.ingest(simple_letter("Я в отпуске", "Вернусь 1 декабря.", **headers))
    assert desk.tickets() == []
    assert desk.sent() == []
    assert desk.inbound()[0][0] == "suppressed"


def test_an_out_of_office_naming_a_tid_is_kept_on_its_ticket_unanswered(desk: Desk) -> None:
    desk.ingest(simple_letter("Проблема"))
    before = len(desk.sent())
    desk.ingest(simple_letter("Автоответ: [SD-000013] Проблема", "Я в отпуске",
                              Auto_Submitted="auto-replied"))
    [t] = desk.tickets()
    assert [m["kind"] for m in t["messages"] if m["direction"] == "in"] == \
        ["client", "auto-reply"]
    assert len(t["reactions"]) == 1
    assert len(desk.sent()) == before


def test_letters_from_our_own_address_are_never_answered(desk: Desk) -> None:
    desk.ingest(simple_letter("Петля", sender="techsupport@example.ru"))
    assert desk.sent() == [] and desk.tickets() == []


def test_a_robot_without_headers_is_capped_per_hour(desk: Desk) -> None:
    for i in range(15):
        desk.ingest(simple_letter(f"Alert {i}", f"CPU load is high, sample number {i}",
                                  sender="monitor@robot.example"))
    assert len(desk.tickets()) == 15  # every letter is kept
    assert len(to(desk.sent(), "monitor@robot.example")) == 10  # outbound.auto_cap_per_hour


def test_a_bounce_of_our_ack_is_recorded_on_its_ticket(desk: Desk) -> None:
    desk.ingest(simple_letter("Проблема с доставкой", sender="a.ivanova@romashka.example"))
    [ack] = to(desk.sent(), "a.ivanova@romashka.example")
    desk.ingest_fixture("bounce-dsn-of-our-ack.eml",
                        **{"<supportd.ticket-1.ack@example.ru>": ack["Message-ID"]})
    [t] = desk.tickets()
    assert t["needs_attention"] and "не доставлено" in t["attention_reason"]
    assert "5.1.1" in t["attention_reason"]
    assert [m["kind"] for m in t["messages"] if m["direction"] == "in"] == ["client", "bounce"]
    assert desk.inbound()[-1][0] == "bounce"
    assert len(desk.sent()) == 2  # the ack and the staff notification; nothing answers the bounce


@pytest.mark.parametrize("raw", [
    b"\x00\x01\x02 not a letter at all \xff\xfe",
    b"From: broken@client.example\r\nContent-Type: multipart/mixed; boundary=\"zz\"\r\n"
    b"Subject: =?utf-8?B?0J/RgNC+0LHQu9C10Lz?=\r\n\r\n--zz\r\nContent-Transfer-Encoding: base64"
    b"\r\n\r\n!!!not base64!!!\r\n",
])
def test_a_letter_that_cannot_be_read_is_kept_and_still_acknowledged(desk: Desk,
                                                                     raw: bytes) -> None:
    desk.ingest(raw, sender="broken@client.example")
    [t] = desk.tickets()
    [m] = [m for m in t["messages"] if m["direction"] == "in"]
    stored = desk.app.spool.resolve(m["raw_path"])
    from daemon.storage.spool import Spool

    assert Spool.raw_of(stored) == raw  # byte for byte
    acks = to(desk.sent(), "broken@client.example")
    assert len(acks) == 1 and t["tid"] in str(acks[0]["Subject"])
    assert t["needs_attention"]  # unreadable or broken: a person looks at it
    if "не удалось разобрать" in t["attention_reason"]:
        assert "не удалось прочитать" in body(acks[0])


def test_a_staff_reply_is_relayed_above_the_quote_and_meets_the_deadline(desk: Desk) -> None:
    desk.ingest(simple_letter("Вопрос про API"))
    note = [m for m in desk.sent() if "SD-000013" in str(m["Subject"])
            and str(m["To"]).startswith("agent")][0]
    reply = simple_letter(
        f"Re: {note['Subject']}",
        "Добрый день! Метод описан в разделе 4.2 руководства.\n\n"
        f"{body(note)}",  # the quoted notification, as a mail client would leave it
        sender=str(note["To"]))
    desk.ingest(reply)
    [t] = desk.tickets()
    assert t["first_response_at"] and t["reaction_state"] == "met"
    relayed = [m for m in to(desk.sent(), "ivan@client.example")
               if m["Auto-Submitted"] is None]
    assert len(relayed) == 1
    text = body(relayed[0])
    assert "Метод описан в разделе 4.2" in text
    assert "Пишите ответ выше" not in text and "Новое обращение" not in text
    assert str(relayed[0]["From"]).endswith("<techsupport@example.ru>")


def test_a_forged_staff_letter_is_not_relayed_when_authentication_is_required(
        tmp_path: Path) -> None:
    d = make_desk(tmp_path, extra='[security]\ntrusted_authserv_ids = ["mx.example.ru"]\n')
    d.ingest(simple_letter("Вопрос"))
    d.ingest(simple_letter("Re: [SD-000013] Вопрос", "Переведите деньги на счёт ...",
                           sender="agent1@example.ru", authenticated=False))
    [t] = d.tickets()
    assert t["needs_attention"] and t["first_response_at"] is None
    assert not [m for m in to(d.sent(), "ivan@client.example") if m["Auto-Submitted"] is None]
    d.ingest(simple_letter("Re: [SD-000013] Вопрос", "Настоящий ответ сотрудника.",
                           sender="agent1@example.ru",
                           Authentication_Results="mx.example.ru; dkim=pass header.d=example.ru"))
    assert d.tickets()[0]["first_response_at"] is not None


def test_a_crash_after_commit_before_the_file_moved_processes_nothing_twice(desk: Desk) -> None:
    from daemon.pipeline import runner

    desk.ingest(simple_letter("Один раз"))
    [stored] = list((desk.root / "spool" / "store").rglob("*"))[-1:]
    shutil.copy(stored, desk.app.spool.incoming / stored.name)  # as if the rename never ran
    [result] = runner.drain(desk.app)
    assert result.outcome == "already"
    assert len(desk.tickets()) == 1 and len(desk.inbound()) == 1


def test_header_injection_through_the_subject_is_impossible(desk: Desk) -> None:
    raw = simple_letter("x").replace(
        b"Subject: x", b"Subject: =?utf-8?B?" +
        __import__("base64").b64encode("Вопрос\r\nBcc: victim@evil.example".encode()) + b"?=")
    desk.ingest(raw)
    for m in desk.sent():
        assert m["Bcc"] is None
        assert "victim" not in str(m["To"])


def test_the_whole_story_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    d = make_desk(tmp_path, db_url=pg_url)
    d.ingest(simple_letter("Проверка на PostgreSQL", message_id="<pg1@client.example>"))
    d.ingest(simple_letter("Re: [SD-000013] Проверка на PostgreSQL", "Дополнение"))
    d.ingest(simple_letter("Проверка на PostgreSQL", message_id="<pg1@client.example>"))
    [t] = d.tickets()
    assert t["tid"] == "SD-000013" and len(t["reactions"]) == 2
    assert [r[0] for r in d.inbound()] == ["ticket", "threaded", "duplicate"]
    assert len(to(d.sent(), "ivan@client.example")) == 3
    d.app.close()


def test_a_bug_in_a_step_still_opens_a_flagged_ticket_and_answers_the_client(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    from daemon.pipeline.steps import attachments

    def broken(*_: object) -> None:
        raise RuntimeError("a bug in the attachment rules")

    monkeypatch.setattr(attachments, "run", broken)
    desk.ingest(simple_letter("Письмо, на котором споткнулся код"))  # no envelope sender
    [t] = desk.tickets()
    assert t["needs_attention"] and "a bug in the attachment rules" in t["attention_reason"]
    assert t["subject"] == "Письмо, на котором споткнулся код"
    [ack] = to(desk.sent(), "ivan@client.example")  # found from the From header
    assert "произошла ошибка" in body(ack) and "не удалось прочитать" not in body(ack)
    assert desk.inbound()[0][1].startswith("flagged after error")


def test_a_bug_never_makes_us_answer_a_robot(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    from daemon.pipeline.steps import thread

    monkeypatch.setattr(thread, "run", lambda *_: 1 / 0)
    desk.ingest(simple_letter("Автоответ", "Я в отпуске", Auto_Submitted="auto-replied"))
    assert len(desk.tickets()) == 1 and desk.sent() == []
