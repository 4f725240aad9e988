"""The report to the head of support and the agents' morning digest, on a fake clock:
sent by the sweep when due, once, with charts; a failure is retried, never in the
way of acknowledgements."""

from __future__ import annotations

import io
import json
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image

from daemon.reports import charts
from daemon.service.reports_job import send_due
from daemon.service.schedule import JOBS, Schedule
from tests.conftest import Desk, make_desk, simple_letter
from tests.integration.test_cli import cli
from tests.integration.test_report import MSK, Clock, at, tid_of, week_of_letters

HEAD = "head@example.ru"


def plain(m: EmailMessage) -> str:
    return str(m.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def to(desk: Desk, address: str, kind: str) -> list[EmailMessage]:
    return [m for m in desk.sent() if m["To"] == address and kind in str(m["Subject"])]


def share(o: dict) -> str:
    if o["share_on_time"] is None:
        return "—"
    pct = f"{o['share_on_time'] * 100:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{pct} % ({o['on_time']} из {o['counted']})"


def hours(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}".rstrip("0").rstrip(".").replace(".", ",")


@pytest.fixture
def week(tmp_path: Path) -> tuple[Desk, Clock]:
    desk, clock = week_of_letters(tmp_path)
    clock.now = at(27, 16)  # Friday 16:00: VIP, 2 working hours, due Friday 18:00
    desk.ingest(simple_letter("Срочный вопрос", sender="admin@sever.example"))
    clock.now = datetime(2026, 11, 30, 10, 31, tzinfo=MSK)
    return desk, clock


def test_monday_morning_brings_the_report_with_charts(week: tuple[Desk, Clock]) -> None:
    desk, clock = week
    assert sorted(send_due(desk.app)) == ["digest:2026-11-30", "weekly:2026-11-30"]
    [letter] = to(desk, HEAD, "Отчёт службы поддержки за 23.11.2026 — 29.11.2026")
    text = plain(letter)
    data = json.loads(cli(desk.config_path, "--now", clock.now.isoformat(), "report", "--from",
                          "2026-11-23", "--to", "2026-11-29", "--json").stdout)
    # The letter's numbers are --json's.
    assert f"Поступило обращений: {data['received']['total']}" in text
    assert f"Реакции в срок (п. 2.3 Регламента): {share(data['reactions'])}" in text
    assert (f"медиана {hours(data['reactions']['median_working_hours'])}, 90-й процентиль "
            f"{hours(data['reactions']['p90_working_hours'])}") in text
    for level in data["levels"]:
        assert f"первая реакция в срок: {share(level['first'])}" in text
        assert f"({level['level']}): поступило {level['received']}" in text
    assert f"Нарушения сроков реакции: {len(data['breaches'])}" in text
    assert all(b["tid"] in text for b in data["breaches"])
    assert "Спасибо, быстро!" in text
    # The charts: inline PNGs the HTML shows by Content-ID, drawn and not blank.
    html = str(letter.get_body(("html",)).get_content())  # type: ignore[union-attr]
    images = [p for p in letter.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 3
    for part in images:
        assert f"cid:{part['Content-ID'].strip('<>')}" in html
        png = Image.open(io.BytesIO(part.get_content())).convert("RGB")
        assert png.size == (640, 320)
        colours = png.getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 10  # more than a blank canvas
        assert sum(n for n, c in colours if c != (255, 255, 255)) > 2000


def test_each_run_goes_once(week: tuple[Desk, Clock]) -> None:
    desk, clock = week
    send_due(desk.app)
    clock.now = datetime(2026, 11, 30, 10, 45, tzinfo=MSK)
    assert send_due(desk.app) == []
    assert len(to(desk, HEAD, "Отчёт службы поддержки")) == 1


def test_the_digest_puts_late_tickets_first(week: tuple[Desk, Clock]) -> None:
    desk, _ = week
    late = next(t for t in desk.tickets() if t["subject"] == "Срочный вопрос")
    send_due(desk.app)
    [digest] = to(desk, late["assignee"], "Ваши открытые обращения на 30.11.2026")
    text = plain(digest)
    assert "просрочено 1" in str(digest["Subject"])
    first = text.index("1. [")
    assert text[first:].startswith(f"1. [{late['tid']}] Срочный вопрос")
    assert "СРОК ИСТЁК 27.11.2026 18:00 (МСК): просрочено на 31 рабочая минута" in text
    # Every agent with open tickets gets one; the ticket due at noon shows its time left.
    c = tid_of(desk, "ivan@client.example")
    [other] = [m for m in desk.sent() if "Ваши открытые обращения" in str(m["Subject"])
               and c in plain(m)]
    assert "Срок реакции: 30.11.2026 12:00 (МСК) (осталось 1 рабочий час 29 мин)" in plain(other)


def test_no_digest_on_a_day_off(week: tuple[Desk, Clock]) -> None:
    desk, clock = week
    clock.now = datetime(2026, 12, 5, 10, 30, tzinfo=MSK)  # Saturday
    assert send_due(desk.app) == []


def test_no_digest_in_the_new_year_holidays(tmp_path: Path) -> None:
    clock = Clock(datetime(2027, 1, 5, 10, 30, tzinfo=MSK))  # a Tuesday, a day off
    desk = make_desk(tmp_path, clock=clock)
    desk.ingest(simple_letter("Вопрос", sender="a@client.example"))
    assert not [r for r in send_due(desk.app) if r.startswith("digest")]
    clock.now = datetime(2027, 1, 11, 10, 30, tzinfo=MSK)  # the first working day
    assert "digest:2027-01-11" in send_due(desk.app)


def test_a_failed_render_is_retried_and_acknowledgements_go_on(
        week: tuple[Desk, Clock], monkeypatch: pytest.MonkeyPatch) -> None:
    desk, clock = week

    def broken(report: object) -> dict[str, bytes]:
        raise RuntimeError("a chart could not be drawn")

    monkeypatch.setattr(charts, "draw", broken)
    assert send_due(desk.app) == ["digest:2026-11-30"]
    desk.ingest(simple_letter("Новый вопрос", sender="newcomer@client.example"))
    assert any(m["To"] == "newcomer@client.example" for m in desk.sent())  # acknowledged
    monkeypatch.undo()
    clock.now = datetime(2026, 11, 30, 10, 32, tzinfo=MSK)
    assert send_due(desk.app) == ["weekly:2026-11-30"]


def test_the_schedules_job_sends_them(week: tuple[Desk, Clock]) -> None:
    desk, _ = week
    [job] = [j for j in JOBS if j.name == "reports"]
    assert job.trigger(desk.app.config) is not None  # on the sweep's interval
    Schedule(desk.app, lambda: True)._run(job)
    assert len(to(desk, HEAD, "Отчёт службы поддержки")) == 1


def test_an_empty_month_is_a_polite_letter(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 11, 1, 10, 0, tzinfo=MSK))  # a Sunday: no digest
    desk = make_desk(tmp_path, clock=clock)
    assert send_due(desk.app) == ["monthly:2026-10"]
    [letter] = to(desk, HEAD, "Отчёт службы поддержки за 01.10.2026 — 31.10.2026")
    assert "обращений не было" in str(letter["Subject"])
    assert "За этот период обращений, реакций и оценок не было: отчёт пуст." in plain(letter)
    assert not [p for p in letter.walk() if p.get_content_type() == "image/png"]
