"""The Prometheus endpoint and `supportd health`: scraped over HTTP, parsed with
prometheus-client's own parser; right in total with several pipeline workers."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.harness.daemon import Daemon, running, write_daemon_config
from bench.harness.desk_config import free_port
from daemon.service.metrics import MetricsServer
from tests.conftest import Clock, Desk, make_desk, simple_letter
from tests.integration.test_cli import cli

MSK = ZoneInfo("Europe/Moscow")


def scrape(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """sample name -> labels -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def one(m: dict, name: str, **labels: str) -> float:
    return m[name][tuple(sorted(labels.items()))]


@pytest.fixture
def desk_with_metrics(tmp_path: Path) -> Desk:
    clock = Clock(datetime(2026, 11, 24, 11, 0, tzinfo=MSK))  # Tuesday
    d = make_desk(tmp_path, clock=clock,
                  extra=f"[metrics]\nenabled = true\nport = {free_port()}\n")
    d.clock = clock  # type: ignore[attr-defined]
    return d


def test_the_endpoint_shows_the_desks_figures(desk_with_metrics: Desk) -> None:
    desk, clock = desk_with_metrics, desk_with_metrics.clock  # type: ignore[attr-defined]
    desk.ingest(simple_letter("Первый", sender="a@client.example"))
    desk.ingest(simple_letter("Второй", sender="b@client.example"))
    desk.ingest(simple_letter("Автоответ", sender="c@client.example",
                              Auto_Submitted="auto-replied"))
    server = MetricsServer(desk.app)
    _, port = server.start()
    try:
        m = scrape(port)
        assert one(m, "supportd_letters_received_total", source="ingest", outcome="ticket") == 2
        assert one(m, "supportd_letters_received_total", source="ingest",
                   outcome="suppressed") == 1
        assert one(m, "supportd_pipeline_latency_seconds_count") == 3
        assert one(m, "supportd_spool_depth") == 0
        assert one(m, "supportd_outbox_depth") == 4  # two acknowledgements, two notifications
        assert one(m, "supportd_tickets_open", level="consultation") == 2
        assert one(m, "supportd_tickets_open", level="licensee-vip") == 0
        assert one(m, "supportd_reactions_overdue") == 0
        assert one(m, "supportd_database_up") == 1
        # 40 working hours later the deadlines are near, then missed.
        due = datetime.fromisoformat(desk.tickets()[0]["reaction_due"])
        clock.now = due - timedelta(minutes=30)
        m = scrape(port)
        assert one(m, "supportd_reactions_due_next_hour") == 2
        clock.now = due + timedelta(minutes=30)
        m = scrape(port)
        assert one(m, "supportd_reactions_overdue") == 2
        assert one(m, "supportd_breaches_total") == 2
        assert one(m, "supportd_outbox_oldest_queued_seconds") > 5 * 24 * 3600
        desk.flush()
        desk.ingest(simple_letter("Третий", sender="d@client.example"))
        m = scrape(port)  # only the new row is read; the totals go on
        assert one(m, "supportd_letters_received_total", source="ingest", outcome="ticket") == 3
        assert one(m, "supportd_send_failures_total") == 0
    finally:
        server.stop()


def test_health_says_why_it_is_unhealthy(desk_with_metrics: Desk) -> None:
    desk = desk_with_metrics
    p = cli(desk.config_path, "health", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["ok"] is True
    # A letter received an hour ago and never processed: the pipeline is not running.
    stuck = desk.app.spool.incoming / "20261124T080000000000-0123456789abcdef"
    stuck.write_bytes(b"{}\nSubject: x\r\n\r\nx")
    old = time.time() - 3600
    os.utime(stuck, (old, old))
    p = cli(desk.config_path, "health")
    assert p.returncode == 69 and "unhealthy" in p.stdout
    assert "spool: a letter has waited 1:00:" in p.stderr and "spool_max_age" in p.stderr


def test_health_names_a_stuck_outbox_and_a_database_away(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    desk = make_desk(tmp_path, clock=lambda: now - timedelta(hours=2))
    desk.ingest(simple_letter("Вопрос", sender="a@client.example"))  # queued 2 h ago
    p = cli(desk.config_path, "health", "--json")
    data = json.loads(p.stdout)
    assert p.returncode == 69 and not data["ok"]
    assert any(x.startswith("outbox: a letter due to be sent has waited 2:00:0")
               for x in data["problems"])
    (tmp_path / "supportd.db").unlink()
    (tmp_path / "supportd.db").mkdir()  # not a database any more
    p = cli(desk.config_path, "health")
    assert p.returncode == 69 and "database: unreachable or not migrated" in p.stderr


def test_the_daemon_serves_right_totals_from_two_workers(tmp_path: Path, pg_url: str) -> None:
    metrics_port = free_port()
    cfg, port = write_daemon_config(tmp_path, db_url=pg_url, extra=(
        f"[pipeline]\nworkers = 2\n\n[metrics]\nenabled = true\nport = {metrics_port}\n"))
    d = Daemon(tmp_path, port, cfg)
    d.upgrade()
    with running(d):
        assert len(d.wait_for(lambda: len(d.workers()) == 2 and d.workers())) == 2
        for i in range(12):
            code, _ = d.send(simple_letter(f"Письмо {i}", sender=f"c{i}@client.example"),
                             sender=f"c{i}@client.example")
            assert code == 250
        d.wait_for(lambda: one(scrape(metrics_port), "supportd_pipeline_latency_seconds_count")
                   == 12 or None)
        m = scrape(metrics_port)
        assert one(m, "supportd_letters_received_total", source="smtp", outcome="ticket") == 12
        assert one(m, "supportd_tickets_open", level="consultation") == 12
        assert one(m, "supportd_spool_depth") == 0


def test_health_names_a_year_the_calendar_does_not_know(desk_with_metrics: Desk) -> None:
    p = cli(desk_with_metrics.config_path, "--now", "2040-03-01T12:00:00+03:00", "health")
    assert p.returncode == 69
    assert "calendar: no data on the days off moved by decree in 2040" in p.stderr
