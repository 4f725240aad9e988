"""Scope (§1.3, §1.4, §3.8, §4): each new ticket gets a topic; an out-of-scope letter
gets the consultation level and an acknowledgement that says which clause and where
to turn; staff correct the topic with `#topic CODE`; classification never fails a
letter."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.storage import db
from daemon.tickets import scope
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import PROJECT, Desk, make_desk, simple_letter

TUESDAY_11 = datetime(2026, 11, 24, 11, 0, tzinfo=ZoneInfo("Europe/Moscow"))
CLIENT = "it@romashka.example"  # a licensee: licensee-standard, 6 working hours
SIGNATURE = ("Здравствуйте! У директора истёк сертификат электронной подписи (ЭЦП) на "
             "Рутокене. Как продлить сертификат ЭЦП и где получить новую подпись?")


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    d = make_desk(tmp_path, clock=lambda: TUESDAY_11)
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
    return d


def body(m) -> str:  # type: ignore[no-untyped-def]
    return str(m.get_body(("plain",)).get_content())


def ack_to(desk: Desk, who: str):  # type: ignore[no-untyped-def]
    return [m for m in desk.sent() if who in str(m["To"])][-1]


def test_an_in_scope_letter_keeps_its_level_and_gets_its_topic(desk: Desk) -> None:
    desk.ingest(simple_letter("Ошибка 500 при формировании отчёта", sender=CLIENT))
    [t] = desk.tickets()
    assert (t["topic"], t["sla_level"]) == ("error", "licensee-standard")
    assert "выходит за рамки" not in body(ack_to(desk, CLIENT))


def test_an_out_of_scope_letter_gets_consultation_and_is_told_where_to_turn(
        desk: Desk) -> None:
    desk.ingest(simple_letter("Истёк сертификат ЭЦП", SIGNATURE, sender=CLIENT))
    [t] = desk.tickets()
    assert (t["topic"], t["sla_level"]) == ("signature", "consultation")
    assert t["reaction_due"] == "2026-12-01T08:00:00+00:00"  # 40 working hours: 11:00 MSK
    text = body(ack_to(desk, CLIENT))
    assert "выходит за рамки технической поддержки (п. 1.4 Регламента)" in text
    assert "не выдаёт и не обслуживает электронные подписи" in text
    assert "«Консультирование по общим вопросам» (п. 3.8 Регламента)" in text
    assert "в удостоверяющий центр, который выдал подпись" in text
    assert "https://digital.gov.ru/" in text


def test_staff_correct_the_topic_and_the_correction_is_kept(desk: Desk) -> None:
    desk.ingest(simple_letter("Истёк сертификат ЭЦП", SIGNATURE, sender=CLIENT))
    desk.ingest(simple_letter("Re: [SD-000013] Истёк сертификат ЭЦП",
                              "#topic error\n#note\nЭто ошибка нашей программы.",
                              sender="agent1@example.ru"))
    [t] = desk.tickets()
    assert (t["topic"], t["topic_auto"], t["topic_set_by"]) == (
        "error", "signature", "agent1@example.ru")


def test_a_topic_in_scope_gives_back_the_level_the_classifier_took(desk: Desk) -> None:
    """§3.8 by staff's word: the licensee's signature question was moved to
    consultation (40 working hours); `#topic error` gives back licensee-standard, the
    deadline recomputed from the same start (11:00 + 6 working hours)."""
    desk.ingest(simple_letter("Истёк сертификат ЭЦП", SIGNATURE, sender=CLIENT))
    [t] = desk.tickets()
    assert (t["sla_level"], t["reaction_due"]) == ("consultation", "2026-12-01T08:00:00+00:00")
    desk.ingest(simple_letter("Re: [SD-000013] Истёк сертификат ЭЦП",
                              "#topic error\n#note\nЭто ошибка нашей программы.",
                              sender="agent1@example.ru"))
    [t] = desk.tickets()
    assert (t["topic"], t["sla_level"]) == ("error", "licensee-standard")
    assert t["reaction_due"] == "2026-11-24T14:00:00+00:00"  # 17:00 MSK the same day


def test_a_topic_out_of_scope_moves_the_ticket_to_consultation_and_back(desk: Desk) -> None:
    desk.ingest(simple_letter("Ошибка 500 при формировании отчёта", sender=CLIENT))
    staff = "agent1@example.ru"
    desk.ingest(simple_letter("Re: [SD-000013] Ошибка", "#topic signature\n#note\nЭто ЭЦП.",
                              sender=staff))
    [t] = desk.tickets()
    assert (t["topic"], t["sla_level"]) == ("signature", "consultation")
    assert t["reaction_due"] == "2026-12-01T08:00:00+00:00"  # 40 working hours
    desk.ingest(simple_letter("Re: [SD-000013] Ошибка", "#topic error\n#note\nНет, ошибка.",
                              sender=staff))
    [t] = desk.tickets()
    assert (t["topic"], t["sla_level"]) == ("error", "licensee-standard")
    assert t["reaction_due"] == "2026-11-24T14:00:00+00:00"
    # A level the scope rule did not take is not changed by a topic in scope.
    desk.ingest(simple_letter("Ошибка 500 в отчёте", sender="petrov@mail.example"))
    [before] = [t["sla_level"] for t in desk.tickets() if t["tid"] == "SD-000021"]
    desk.ingest(simple_letter("Re: [SD-000021] Ошибка", "#topic install\n#note\nУстановка.",
                              sender=staff))
    assert [t["sla_level"] for t in desk.tickets() if t["tid"] == "SD-000021"] == [before]


def test_an_unknown_topic_code_is_refused(desk: Desk) -> None:
    desk.ingest(simple_letter("Ошибка 500", sender=CLIENT))
    desk.ingest(simple_letter("Re: [SD-000013] Ошибка 500", "#topic nonsense\nГотово.",
                              sender="agent1@example.ru"))
    [t] = desk.tickets()
    assert t["topic"] == "error"
    problem = [m for m in desk.sent() if "agent1@example.ru" in str(m["To"])][-1]
    assert "#topic nonsense" in body(problem) and "signature" in body(problem)


def test_a_broken_classifier_leaves_no_topic_and_flags_the_ticket(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("словарь не загрузился")

    monkeypatch.setattr(scope.Classifier, "classify", broken)
    desk.ingest(simple_letter("Истёк сертификат ЭЦП", SIGNATURE, sender=CLIENT))
    [t] = desk.tickets()
    assert t["topic"] == "" and t["sla_level"] == "licensee-standard"
    assert t["needs_attention"] and "тему письма определить не удалось" in t["attention_reason"]
    assert "Номер обращения (TID): SD-000013" in body(ack_to(desk, CLIENT))


def test_the_report_counts_topics_and_staff_corrections(desk: Desk) -> None:
    from daemon.reports.queries import make
    from daemon.reports.report import as_json

    desk.ingest(simple_letter("Истёк сертификат ЭЦП", SIGNATURE, sender=CLIENT))
    desk.ingest(simple_letter("Ошибка 500 при формировании отчёта", sender="petrov@mail.example"))
    desk.ingest(simple_letter("Re: [SD-000013] Истёк сертификат ЭЦП",
                              "#topic error\n#note\nЭто ошибка нашей программы.",
                              sender="agent1@example.ru"))
    with desk.app.sessions() as s:
        report = make(s, TUESDAY_11.date(), TUESDAY_11.date(), TUESDAY_11,
                      tz=desk.app.config.tz, working=desk.app.sla.calendar.working_between)
    topics = as_json(report)["topics"]
    assert topics["by_topic"] == {"error": 2}
    assert topics["corrected"] == [{"tid": "SD-000013", "classifier": "signature",
                                    "staff": "error"}]
