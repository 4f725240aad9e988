"""The SLA and quality report (§6): real letters through the daemon, then
`supportd report`, its figures recomputed from the database by other code."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text

from daemon.storage import db
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import PROJECT, Clock, Desk, make_desk, simple_letter
from tests.integration.test_cli import cli

MSK = ZoneInfo("Europe/Moscow")
AGENT = "agent1@example.ru"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=MSK)


def tid_of(desk: Desk, requester: str) -> str:
    return next(t["tid"] for t in desk.tickets() if t["requester"] == requester)


def week_of_letters(tmp_path: Path) -> tuple[Desk, Clock]:
    """Monday 23 to Sunday 29 November 2026, and one letter the next Monday."""
    clock = Clock(at(23, 11))
    desk = make_desk(tmp_path, clock=clock)
    with db.unit_of_work(desk.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))

    def send(when: datetime, subject: str, body: str, sender: str) -> None:
        clock.now = when
        desk.ingest(simple_letter(subject, body, sender=sender))

    send(at(23, 11), "Не работает выгрузка", "", "it@romashka.example")  # 6 h: due 17:00
    send(at(23, 11, 30), "Ошибка подписи", "", "admin@sever.example")  # VIP 2 h: 13:30
    send(at(23, 12), "Вопрос о настройке", "", "ivan@client.example")  # 40 h: never answered
    a, b = tid_of(desk, "it@romashka.example"), tid_of(desk, "admin@sever.example")
    send(at(23, 13), f"Re: [{a}] Не работает выгрузка", "Проверьте, пожалуйста, права.", AGENT)
    send(at(23, 15), f"Re: [{b}] Ошибка подписи", "Обновите сертификат.", AGENT)  # late
    send(at(24, 11), f"Re: [{a}] Не работает выгрузка", "#close\nГотово.", AGENT)
    send(at(24, 12), f"Re: [{a}] Не работает выгрузка", "5\nСпасибо, быстро!",
         "it@romashka.example")
    send(at(25, 10, 30), f"Re: [{a}] Не работает выгрузка", "Ошибка вернулась.",
         "it@romashka.example")  # reopens: a later reaction
    send(at(25, 11, 30), f"Re: [{a}] Не работает выгрузка", "Исправлено.", AGENT)
    send(at(30, 10, 30), "Вне периода", "", "petrov@mail.example")
    return desk, clock


def cli_json(desk: Desk, *extra: str) -> dict:
    p = cli(desk.config_path, "report", "--from", "2026-11-23", "--to", "2026-11-29", "--json",
            *extra)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def recompute(desk: Desk, now: datetime) -> dict:
    """The figures from the rows, by code that is not the report's."""
    start, end = at(23, 0), datetime(2026, 11, 30, tzinfo=MSK)
    cal = desk.app.sla.calendar
    with desk.app.sessions() as s:
        tickets = s.execute(text("SELECT sla_level FROM tickets WHERE received_at >= :a "
                                 "AND received_at < :b"),
                            {"a": start.astimezone(UTC).replace(tzinfo=None),
                             "b": end.astimezone(UTC).replace(tzinfo=None)}).all()
        reactions = s.execute(text(
            "SELECT r.id, r.ticket_id, r.started_at, r.due_at, r.met_at, t.tid, "
            "(SELECT min(id) FROM reactions x WHERE x.ticket_id = r.ticket_id) "
            "FROM reactions r JOIN tickets t ON t.id = r.ticket_id "
            "WHERE r.started_at >= :a AND r.started_at < :b"),
            {"a": start.astimezone(UTC).replace(tzinfo=None),
             "b": end.astimezone(UTC).replace(tzinfo=None)}).all()

    def aware(v: object) -> datetime | None:
        if v is None:
            return None
        d = v if isinstance(v, datetime) else datetime.fromisoformat(str(v))
        return d.replace(tzinfo=UTC)

    on_time = late = overdue = 0
    hours, breaches = [], []
    for _, _, started, due, met, tid, _ in reactions:
        started, due, met = aware(started), aware(due), aware(met)
        if met is not None:
            hours.append(cal.working_between(started, met).total_seconds() / 3600)
            if met <= due:
                on_time += 1
            else:
                late += 1
                breaches.append(tid)
        elif due <= now:
            overdue += 1
            breaches.append(tid)
    s_hours = sorted(hours)
    return {"received": len(tickets), "on_time": on_time, "late": late, "overdue": overdue,
            "median": round(statistics.median(hours), 2),
            "p90": round(s_hours[math.ceil(0.9 * len(s_hours)) - 1], 2),
            "breaches": sorted(breaches)}


def test_the_report_agrees_with_the_database(tmp_path: Path) -> None:
    desk, _ = week_of_letters(tmp_path)
    report = cli_json(desk)
    expected = recompute(desk, datetime.now(UTC))
    a, b = tid_of(desk, "it@romashka.example"), tid_of(desk, "admin@sever.example")
    c = tid_of(desk, "ivan@client.example")
    assert report["received"]["total"] == expected["received"] == 3
    assert report["received"]["by_level"] == {"consultation": 1, "licensee-standard": 1,
                                              "licensee-vip": 1}
    assert report["received"]["by_org"]["ООО «Ромашка»"] == 1
    r = report["reactions"]
    assert (r["on_time"], r["late"], r["overdue"]) == (
        expected["on_time"], expected["late"], expected["overdue"]) == (2, 1, 1)
    assert r["share_on_time"] == 0.5
    # Working hours: 2 (11:00-13:00), 3.5 (11:30-15:00), 1 (10:30-11:30).
    assert (r["median_working_hours"], r["p90_working_hours"]) == (
        expected["median"], expected["p90"]) == (2.0, 3.5)
    assert sorted(x["tid"] for x in report["breaches"]) == expected["breaches"] == sorted([b, c])
    standard = next(x for x in report["levels"] if x["level"] == "licensee-standard")
    assert standard["first"]["share_on_time"] == 1.0 and standard["later"]["on_time"] == 1
    assert report["ratings"] == {"count": 1, "mean": 5.0,
                                 "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1},
                                 "comments": [{"tid": a, "rating": 5,
                                               "comment": "Спасибо, быстро!"}]}
    assert report["reopened"] == [a]
    agent = next(x for x in report["agents"] if x["agent"] == AGENT)
    assert agent["replies"] == 4


def test_csv_and_html_files(tmp_path: Path) -> None:
    desk, _ = week_of_letters(tmp_path)
    csv_file, html_file = tmp_path / "r.csv", tmp_path / "r.html"
    report = cli_json(desk, "--csv", str(csv_file), "--html", str(html_file))
    rows = csv_file.read_text(encoding="utf-8").splitlines()
    assert "received,total,3," in rows
    html = html_file.read_text(encoding="utf-8")
    assert "Реакции в срок" in html and "50 % (2 из 4)" in html
    assert html.count("data:image/png;base64,") == 3
    assert report["reactions"]["share_on_time"] == 0.5


def test_an_empty_period_is_a_polite_report(desk: Desk) -> None:
    p = cli(desk.config_path, "report", "--from", "2026-10-01", "--to", "2026-10-31")
    assert p.returncode == 0, p.stderr
    assert "01.10.2026 — 31.10.2026" in p.stdout
    assert "обращений, реакций и оценок не было" in p.stdout
    p = cli(desk.config_path, "report", "--from", "2026-10-01", "--to", "2026-10-31", "--json")
    data = json.loads(p.stdout)
    assert data["empty"] is True and data["received"]["total"] == 0


def test_bad_dates_are_usage_errors(desk: Desk) -> None:
    p = cli(desk.config_path, "report", "--from", "2026-13-01", "--to", "2026-10-31")
    assert p.returncode == 64 and "--from" in p.stderr
    p = cli(desk.config_path, "report", "--from", "2026-10-05", "--to", "2026-10-01")
    assert p.returncode == 64


def test_check_config_names_a_missing_chart_library(desk: Desk, tmp_path: Path) -> None:
    fake = tmp_path / "fake-site" / "matplotlib"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named matplotlib')\n")
    p = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(desk.config_path),
                        "check-config"], capture_output=True, text=True, cwd=PROJECT,
                       env={**os.environ, "PYTHONPATH": str(fake.parent)}, timeout=120)
    assert p.returncode == 78
    assert "reports.charts" in p.stderr and "matplotlib" in p.stderr
    assert cli(desk.config_path, "check-config").returncode == 0
