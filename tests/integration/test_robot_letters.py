"""Robots known by what they say (issue 21, item 7), each living its fixture's story.

Free-text bounces and out-of-office replies without any auto-reply header, an
Exchange inbox rule, a "System Administrator"@host report, and a client's service
desk that answers each of our letters at once: none of them gets a letter from us,
every one is kept whole with its reason, and where it joins a ticket staff see it
there. Fed through `ingest` with the daemon's clock pinned to our MX's reception
time, and through the real listener over SMTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bench.harness.daemon import Daemon
from tests.conftest import fixture_bytes, make_desk
from tests.integration.test_fixture_letters import (
    ANNA,
    FIRST_LETTER,
    OUR_ACK,
    TICKET_1,
    PinnedDesk,
    received,
)

SERVICE_DESK = "servicedesk@vector-soft.example"


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[PinnedDesk]:
    d = PinnedDesk(tmp_path)
    yield d
    d.close()


@pytest.fixture
def ticket_one(desk: PinnedDesk) -> PinnedDesk:
    """Анна Иванова's first letter has opened SD-000013 and been acknowledged."""
    assert desk.receive(FIRST_LETTER).tid == TICKET_1
    assert len(desk.acks_to(ANNA)) == 1
    return desk


def with_our_ack(desk: PinnedDesk, file: str) -> dict[str, str]:
    """The fixture's placeholder for our acknowledgement's Message-ID, and the real one."""
    return {OUR_ACK: desk.our_message_id(TICKET_1, "ack")}


def as_fed(file: str, replacements: dict[str, str]) -> bytes:
    raw = fixture_bytes(file)
    for old, new in replacements.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


def kinds_in(desk: PinnedDesk) -> list[str]:
    return [m["kind"] for m in desk.ticket(TICKET_1)["messages"] if m["direction"] == "in"]


# ------------------------------------------------------------------ free-text bounces

BOUNCES = [
    pytest.param("bounce-domino-free-text.eml", "bounce-text (opening)", True, id="domino"),
    pytest.param("bounce-exchange55-system-administrator.eml", "system-sender", True,
                 id="exchange-5.5"),
    pytest.param("bounce-returned-mail-ru.eml",
                 "bounce-text (system sender, returned copy, subject, words)", False,
                 id="returned-mail-ru"),
    pytest.param("bounce-content-filter.eml", "bounce-text (opening)", True,
                 id="content-filter"),
]


@pytest.mark.parametrize(("file", "why", "by_tid"), BOUNCES)
def test_a_free_text_bounce_is_recorded_on_its_ticket_and_never_answered(
        ticket_one: PinnedDesk, file: str, why: str, by_tid: bool) -> None:
    desk = ticket_one
    sent_before = len(desk.sent())
    ours = with_our_ack(desk, file)
    result = desk.receive(file, **ours)

    assert (result.outcome, result.tid) == ("bounce", TICKET_1)
    assert why in result.reason
    assert ("found by SD-000013 in the returned copy" in result.reason) is by_tid
    t = desk.ticket(TICKET_1)
    assert t["needs_attention"] and ANNA in t["attention_reason"]
    assert "не доставлено" in t["attention_reason"]
    assert kinds_in(desk) == ["client", "bounce"]  # visible to staff on the ticket
    assert len(t["reactions"]) == 1  # no new reaction clock
    assert len(desk.sent()) == sent_before  # nothing to anybody
    assert desk.inbound()[-1] == ("bounce", result.reason, 1)
    assert as_fed(file, ours) in desk.stored_raw_letters()  # kept whole


def test_the_russian_bounce_is_found_by_the_tid_when_its_message_id_is_foreign(
        ticket_one: PinnedDesk) -> None:
    result = ticket_one.receive("bounce-returned-mail-ru.eml")  # placeholder not rewritten

    assert (result.outcome, result.tid) == ("bounce", TICKET_1)
    assert "found by SD-000013 in the returned copy" in result.reason


def test_a_bounce_naming_a_tid_but_an_address_we_never_wrote_to_stays_apart(
        ticket_one: PinnedDesk) -> None:
    desk = ticket_one
    raw = fixture_bytes("bounce-domino-free-text.eml").replace(
        b"a.ivanova@romashka.example", b"nobody@romashka.example")
    result = desk.receive_raw(raw, received("bounce-domino-free-text.eml"))

    assert result.outcome == "suppressed"
    assert "names SD-000013, but we wrote to none of its addresses there" in result.reason
    t = desk.ticket(TICKET_1)
    assert not t["needs_attention"] and kinds_in(desk) == ["client"]
    assert desk.inbound()[-1] == ("suppressed", result.reason, None)
    assert raw in desk.stored_raw_letters()  # kept whole all the same


# ------------------------------------------------------------------ out of office

@pytest.mark.parametrize(("file", "why"), [
    pytest.param("autoreply-no-headers-ru.eml", "out-of-office-text (opening, meanwhile)",
                 id="ru-no-headers"),
    pytest.param("autoreply-exchange-rules-loop.eml", "exchange-rules-loop",
                 id="exchange-inbox-rule"),
])
def test_an_auto_reply_without_auto_headers_is_kept_on_the_ticket_unanswered(
        ticket_one: PinnedDesk, file: str, why: str) -> None:
    desk = ticket_one
    before, sent_before = desk.ticket(TICKET_1), len(desk.sent())
    ours = with_our_ack(desk, file)
    result = desk.receive(file, **ours)

    assert (result.outcome, result.tid) == ("threaded", TICKET_1)
    assert f"automatic ({why}): kept, not answered" in result.reason
    t = desk.ticket(TICKET_1)
    assert kinds_in(desk) == ["client", "auto-reply"]
    assert t["reactions"] == before["reactions"] and t["status"] == "new"
    assert len(desk.sent()) == sent_before  # no ack, no staff notification
    assert as_fed(file, ours) in desk.stored_raw_letters()


def test_an_english_out_of_office_from_a_stranger_is_suppressed(
        ticket_one: PinnedDesk) -> None:
    desk = ticket_one
    sent_before = len(desk.sent())
    result = desk.receive("autoreply-no-headers-en.eml")

    assert result.outcome == "suppressed"
    assert "out-of-office-text (opening, meanwhile)" in result.reason
    assert len(desk.tickets()) == 1 and kinds_in(desk) == ["client"]
    assert len(desk.sent()) == sent_before
    assert desk.inbound()[-1] == ("suppressed", result.reason, None)
    assert fixture_bytes("autoreply-no-headers-en.eml") in desk.stored_raw_letters()


# ------------------------------------------------------------------ a reply loop


def service_desk_reply(n: int, *, same_text: bool = False) -> bytes:
    """The service desk's automatic answer number n: its own Message-ID, and its own
    comment number unless `same_text`."""
    raw = fixture_bytes("loop-servicedesk-reply.eml")
    raw = raw.replace(b"comment-1@", f"comment-{n}@".encode())
    if not same_text:
        raw = raw.replace("Комментарий #1".encode(), f"Комментарий #{n}".encode())
    return raw


def start_loop(desk: PinnedDesk) -> None:
    assert desk.receive("loop-servicedesk-new.eml").tid == TICKET_1


class PinnedDeskOn(PinnedDesk):
    """A pinned desk on the database at `url` (PostgreSQL: its timestamps and IN lists)."""

    def __init__(self, root: Path, url: str) -> None:
        self.now = received(FIRST_LETTER)
        self.desk = make_desk(root, url, clock=lambda: self.now)


@pytest.fixture(params=["sqlite", "postgresql"])
def desk_on_each_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PinnedDesk]:
    if request.param == "sqlite":
        d = PinnedDesk(tmp_path)
    else:
        d = PinnedDeskOn(tmp_path, request.getfixturevalue("pg_url"))
    yield d
    d.close()


@pytest.mark.parametrize("same_text", [False, True], ids=["new-text", "same-text"])
def test_a_sender_answering_each_of_our_letters_within_a_minute_is_stopped(
        desk_on_each_db: PinnedDesk, same_text: bool) -> None:
    desk = desk_on_each_db
    start_loop(desk)
    start = received("loop-servicedesk-new.eml")
    results = [desk.receive_raw(service_desk_reply(n, same_text=same_text),
                                start + timedelta(seconds=15 * n)) for n in range(1, 8)]

    # Our five letters (the ack, then one per answer) were each answered in 15 s: the
    # fifth answer closes the loop, and nothing automatic goes to the ticket after it.
    assert len(desk.acks_to(SERVICE_DESK)) == 5
    t = desk.ticket(TICKET_1)
    assert t["needs_attention"]
    assert re.search(r"петля автоответов: servicedesk@vector-soft\.example .* 5 раз подряд; "
                     r"автоматические письма по обращению остановлены", t["attention_reason"])
    assert t["automatic_stopped_at"] is not None
    assert "reply loop" in results[4].reason
    assert all(r.tid == TICKET_1 for r in results)
    if not same_text:
        assert [k for k in kinds_in(desk)][:6] == ["client"] * 5 + ["auto-reply"]


def test_a_slow_correspondent_is_no_loop(desk: PinnedDesk) -> None:
    start_loop(desk)
    start = received("loop-servicedesk-new.eml")
    for n in range(1, 8):
        desk.receive_raw(service_desk_reply(n), start + timedelta(minutes=5 * n))

    assert len(desk.acks_to(SERVICE_DESK)) == 8
    assert not desk.ticket(TICKET_1)["needs_attention"]


# ------------------------------------------------------------------ the real listener


def test_robots_over_smtp_get_nothing_and_are_kept(daemon: Daemon) -> None:
    code, _ = daemon.send(fixture_bytes(FIRST_LETTER), sender=ANNA)
    assert code == 250
    daemon.wait_for(lambda: [m for m in daemon.outbox() if ANNA in str(m["To"])])
    letters = [("autoreply-no-headers-ru.eml", ANNA),
               ("autoreply-exchange-rules-loop.eml", ANNA),
               ("bounce-domino-free-text.eml", "MailRouter@romashka.example"),
               ("bounce-content-filter.eml", "virusalert@mail.romashka.example"),
               ("autoreply-no-headers-en.eml", "k.sokolov@romashka.example")]
    for file, sender in letters:
        code, _ = daemon.send(fixture_bytes(file), sender=sender)
        assert code == 250
    daemon.wait_for_event("letter.processed", count=1 + len(letters), timeout=60)

    assert len(daemon.tickets()) == 1
    shown = daemon.show(TICKET_1)
    kinds = [m["kind"] for m in shown["messages"] if m["direction"] == "in"]
    assert kinds == ["client", "auto-reply", "auto-reply", "bounce", "bounce"]
    assert shown["needs_attention"] and ANNA in shown["attention_reason"]
    to_anna = [m for m in daemon.outbox() if ANNA in str(m["To"])]
    assert len(to_anna) == 1  # the first acknowledgement only
    outcomes = [e["outcome"] for e in daemon.events("letter.processed")]
    assert outcomes == ["ticket", "threaded", "threaded", "bounce", "bounce", "suppressed"]
