"""The desk under attack (issue 21): participants are earned, caps cannot be dodged and
never refuse a proven client, floods fold into one ticket and one notification.

Driven through the real pipeline, database and outbox; what is checked is what a
client, a victim and a staff member would find in their mailboxes.
"""

from __future__ import annotations

import email.message
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.storage import db
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import FIXTURES, PROJECT, Clock, Desk, fixture_bytes, make_desk, simple_letter

PROVEN = "mx.example.ru; dkim=pass header.d={d}; dmarc=pass header.from={d}"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))


@pytest.fixture
def desk(tmp_path: Path, clock: Clock) -> Iterator[Desk]:
    d = make_desk(tmp_path, clock=clock)
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
        import_orgs(s, load_file(FIXTURES / "registry.toml"))
    yield d
    d.app.close()


def to(d: Desk, address: str) -> list[email.message.EmailMessage]:
    return [m for m in d.sent() if address in str(m["To"]).lower()]


def body(m: email.message.EmailMessage) -> str:
    return str(m.get_body(("plain",)).get_content())  # type: ignore[union-attr]


# ---------------------------------------------------------------- participants


def test_a_forged_requester_cannot_copy_itself_in(desk: Desk, clock: Clock) -> None:
    desk.ingest_fixture("new-utf8-thunderbird.eml")
    clock.advance(minutes=11)  # past the fold of notifications about one sender
    desk.ingest_fixture("forged-requester-with-cc.eml")
    [t] = desk.tickets()
    assert "spy@evil.example" not in t["participants"]
    notes = [m for m in to(desk, "agent") if "Письмо клиента" in str(m["Subject"])]
    assert "spy@evil.example — письмо не подтверждено как письмо заявителя" in body(notes[-1])
    desk.ingest(simple_letter("Re: [SD-000013] Ответ", "#close\nГотово.",
                              sender="agent1@example.ru"))
    assert not to(desk, "spy@evil.example")


def test_a_proven_requester_copies_a_colleague_in_and_staff_are_told(desk: Desk,
                                                                      clock: Clock) -> None:
    desk.ingest(simple_letter("Вопрос", sender="it@romashka.example"))
    clock.advance(minutes=11)
    desk.ingest(simple_letter("Re: [SD-000013] Вопрос", "Добавляю коллегу.",
                              sender="it@romashka.example", Cc="buh@romashka.example",
                              Authentication_Results=PROVEN.format(d="romashka.example")))
    [t] = desk.tickets()
    assert t["participants"] == ["buh@romashka.example"]
    note = [m for m in to(desk, "agent") if "Письмо клиента" in str(m["Subject"])][-1]
    assert "В переписку добавлены (получат ответы в копии): buh@romashka.example" in body(note)


def test_a_letter_to_a_crowd_copies_in_at_most_the_cap(desk: Desk) -> None:
    desk.ingest_fixture("many-cc-999.eml")
    [t] = desk.tickets()
    assert len(t["participants"]) == 10
    [note] = to(desk, "agent")
    # Of the 999, the parser keeps the first 500 (mail/guard.py); 10 join, 490 do not.
    assert "Не добавлены в переписку (490)" in body(note) and "и ещё 480" in body(note)
    [ack] = to(desk, "sender@mass.example")
    assert ack["Cc"] is None  # our acknowledgement copies no one


def test_staff_add_and_remove_participants(desk: Desk) -> None:
    desk.ingest(simple_letter("Вопрос", sender="it@romashka.example"))
    desk.ingest(simple_letter("Re: [SD-000013] Вопрос", "#cc add Boss@Romashka.example\n"
                              "Добавили руководителя.", sender="agent1@example.ru"))
    assert desk.tickets()[0]["participants"] == ["boss@romashka.example"]
    [answer] = [m for m in to(desk, "it@romashka.example") if "Добавили" in body(m)]
    assert "boss@romashka.example" in str(answer["Cc"])
    desk.ingest(simple_letter("Re: [SD-000013] Вопрос", "#cc remove boss@romashka.example\n"
                              "#note\nУбрали руководителя.", sender="agent1@example.ru"))
    assert desk.tickets()[0]["participants"] == []
    desk.ingest(simple_letter("Re: [SD-000013] Вопрос", "#cc invite someone",
                              sender="agent1@example.ru"))
    [refusal] = [m for m in to(desk, "agent1@example.ru")
                 if "Команды не выполнены" in str(m["Subject"])]
    assert "#cc add АДРЕС или #cc remove АДРЕС" in body(refusal)


def test_a_merge_tells_staff_whose_correspondence_each_side_gains(desk: Desk) -> None:
    desk.ingest(simple_letter("Первый", sender="it@romashka.example"))
    desk.ingest(simple_letter("Второй", sender="other@client.example"))
    desk.ingest(simple_letter("Re: [SD-000021] Второй", "#merge SD-000013",
                              sender="agent1@example.ru"))
    first, second = desk.tickets()
    assert second["status"] == "closed" and "other@client.example" in first["participants"]
    [notice] = [m for m in to(desk, "agent1@example.ru") if "Объединено" in str(m["Subject"])]
    text = body(notice)
    assert "SD-000013 получает переписку SD-000021" in text
    assert "письма заявителя other@client.example" in text
    assert "Эти адреса теперь участники SD-000013" in text


# ---------------------------------------------------------------- caps


def test_rotating_plus_tags_reach_one_mailbox_at_most_the_cap(desk: Desk) -> None:
    for i in range(15):
        desk.ingest(simple_letter(f"Вопрос {i}", sender=f"Victim+{i}@victim.example"))
    acks = [m for m in to(desk, "@victim.example") if "зарегистрировано" in body(m)]
    assert len(acks) == 10  # [outbound] auto_cap_per_hour, whatever the +tag


def test_a_reply_to_rotation_mails_no_third_party(desk: Desk) -> None:
    for i in range(12):
        desk.ingest(fixture_bytes("reply-to-rotation-plus-tags.eml").replace(
            b"TAG", str(i).encode()))
    assert not to(desk, "victim.example")
    assert len([m for m in to(desk, "bot@evil.example")]) == 10  # and the sender capped


def test_one_sender_cannot_spread_acknowledgements_over_many_mailboxes(desk: Desk) -> None:
    for i in range(15):
        desk.ingest(simple_letter(f"Вопрос {i}", sender="bot@victim.example",
                                  Reply_To=f"desk{i}@victim.example"))
    acks = [m for m in desk.sent() if m["Auto-Submitted"] == "auto-replied"]
    assert len(acks) == 10  # counted per sender too


def test_a_proven_busy_licensee_gets_every_registration_letter(desk: Desk) -> None:
    for i in range(14):
        desk.ingest(simple_letter(f"Спецвопрос {i}", sender="it@romashka.example",
                                  Authentication_Results=PROVEN.format(d="romashka.example")))
    assert len(to(desk, "it@romashka.example")) == 14


def test_an_unproven_sender_of_a_registered_address_is_capped(desk: Desk) -> None:
    for i in range(14):
        desk.ingest(simple_letter(f"Вопрос {i}", sender="it@romashka.example"))
    assert len(to(desk, "it@romashka.example")) == 10


# ---------------------------------------------------------------- floods


def test_a_thousand_letters_from_one_stranger_make_twenty_tickets(desk: Desk,
                                                                  clock: Clock) -> None:
    for i in range(1000):
        desk.ingest(simple_letter(f"Купите рекламу {i}", f"Текст {i}",
                                  sender="spammer@flood.example"))
        clock.advance(seconds=1)
    tickets = desk.tickets()
    assert len(tickets) == 20  # [abuse] new_tickets_per_hour
    assert sum(1 for t in tickets for m in t["messages"] if m["kind"] == "client") == 1000
    notes = [m for m in desk.sent() if "agent" in str(m["To"])]
    # one notification per agent per 10 minutes about this sender, the rest counted
    assert len(notes) <= 2 * (1000 // 600 + 2)
    assert any("После прошлого уведомления от этого отправителя пришло ещё писем" in body(m)
               for m in notes)
    clock.advance(hours=1)
    desk.ingest(simple_letter("Новый вопрос через час", sender="spammer@flood.example"))
    assert len(desk.tickets()) == 21


def test_a_known_client_is_never_folded(desk: Desk, clock: Clock) -> None:
    for i in range(25):
        desk.ingest(simple_letter(f"Вопрос {i}", f"Текст {i}", sender="it@romashka.example"))
        clock.advance(seconds=30)
    assert len(desk.tickets()) == 25
