"""The one clock (issue 19, item 8): every command run at a moment the admin names."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import simple_letter
from tests.support.cli_desk import MSK, PROJECT, CliDesk, text_of, to


def test_a_letter_ingested_at_a_chosen_moment_is_received_and_answered_then(
        tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path).at("2026-11-24T11:00+03:00")  # Tuesday, in the past
    tid = desk.ingest(simple_letter("Вопрос во вторник"))
    t = desk.ticket(tid)
    assert t["received_at"] == "2026-11-24T08:00:00+00:00"
    # consultation, 40 working hours from Tue 11:00: 7 + 8 + 8 + 8 + 8 = 39 by Mon 18:00
    assert t["reaction_due"] == "2026-12-01T08:00:00+00:00"  # Tue 01.12 11:00 MSK
    [ack] = to(desk.new_letters(), "ivan@client.example")  # sent although "now" is past
    assert "Срок реакции: до 01.12.2026 11:00 (МСК)" in text_of(ack)
    assert ack["Date"].datetime == datetime(2026, 11, 24, 11, 0, tzinfo=MSK)
    assert all(m["at"].startswith("2026-11-24T08:00:00") for m in t["messages"])


def test_the_moment_from_the_environment_and_a_bad_one_refused(tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path)
    env = {**os.environ, "SUPPORTD_NOW": "2026-12-12T12:00+03:00"}  # a Saturday
    cmd = [sys.executable, "-m", "daemon.cli", "--config", str(desk.config)]
    p = subprocess.run([*cmd, "ingest", "-"], input=simple_letter("В субботу"), env=env,
                       capture_output=True, cwd=PROJECT)
    assert p.returncode == 0, p.stderr
    t = desk.ticket("SD-000013")
    assert t["received_at"] == "2026-12-12T09:00:00+00:00"
    assert t["reaction_due"] == "2026-12-18T15:00:00+00:00"  # Mon 10:00 + 40 h: Fri 18:00

    for bad in ("завтра в десять", "2026-12-08T11:00"):
        p = subprocess.run([*cmd, "--now", bad, "tickets", "list"], capture_output=True,
                           text=True, cwd=PROJECT)
        assert p.returncode == 64 and p.stderr.startswith("--now: ")
        assert len(p.stderr.strip().splitlines()) == 1
    p = subprocess.run([*cmd, "tickets", "list"], capture_output=True, text=True, cwd=PROJECT,
                       env={**os.environ, "SUPPORTD_NOW": "вчера"})
    assert p.returncode == 64 and p.stderr.startswith("SUPPORTD_NOW: 'вчера'")
    # An MTA's `ingest` with a bad clock: try again later, never a bounced letter.
    p = subprocess.run([*cmd, "--now", "вчера", "ingest", "-"], input=simple_letter(),
                       capture_output=True, cwd=PROJECT)
    assert p.returncode == 75


def test_the_daemon_runs_from_the_moment_named(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`supportd run` under SUPPORTD_NOW: its listener and its pipeline worker keep one
    time, starting at the moment and running on."""
    import signal

    from bench.harness.daemon import Daemon
    from bench.harness.desk_config import free_port, write_config

    port = free_port()
    d = Daemon(tmp_path, port, write_config(tmp_path, smtp_port=port))
    assert d.cli("db", "upgrade").returncode == 0
    monkeypatch.setenv("SUPPORTD_NOW", "2026-12-08T11:00+03:00")
    monkeypatch.delenv("SUPPORTD_NOW_SINCE", raising=False)
    d.start()
    try:
        code, _ = d.send(simple_letter("Вопрос демону"))
        assert code == 250
        [ack] = d.wait_for(lambda: [m for m in d.outbox()
                                    if "ivan@client.example" in str(m["To"])])
        [t] = d.tickets()
        received = datetime.fromisoformat(d.show(t["tid"])["received_at"])
        assert datetime(2026, 12, 8, 8, 0, tzinfo=UTC) <= received \
            < datetime(2026, 12, 8, 8, 5, tzinfo=UTC)
        assert "Срок реакции: до 15.12.2026 11:0" in text_of(ack)  # 40 working hours on
    finally:
        d.stop(signal.SIGTERM)
