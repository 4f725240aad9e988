"""The `supportd` CLI as administrators' tools drive it, and deadlines as clients read them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench.harness.desk_config import write_config
from tests.conftest import PROJECT, make_desk, simple_letter

MSK = ZoneInfo("Europe/Moscow")


def cli(config: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(config), *args],
                       input=input, capture_output=True, timeout=120, cwd=PROJECT)
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(),
                                       p.stderr.decode())


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.mark.parametrize(("level", "received", "due"), [
    ("licensee-standard", "2026-11-24T17:30:00+03:00", "2026-11-25T15:30:00+03:00"),
    ("partner-operational", "2026-11-27T17:59:00+03:00", "2026-11-30T12:59:00+03:00"),
    ("licensee-vip", "2026-11-24T18:00:00+03:00", "2026-11-25T12:00:00+03:00"),
    ("special", "2026-11-28T03:00:00+03:00", "2026-11-28T04:00:00+03:00"),
    ("consultation", "2026-11-28T12:00:00+03:00", "2026-12-04T18:00:00+03:00"),
    ("licensee-standard", "2026-11-24T14:30:00Z", "2026-11-25T15:30:00+03:00"),
])
def test_sla_due_prints_the_deadline_with_offset(config: Path, level: str, received: str,
                                                 due: str) -> None:
    p = cli(config, "sla", "due", "--level", level, "--received", received)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == due


@pytest.mark.parametrize(("args", "needle"), [
    (("--level", "gold", "--received", "2026-11-24T10:00:00+03:00"),
     "--level: unknown SLA level 'gold'; known: partner-operational"),
    (("--level", "consultation", "--received", "вчера"), "вчера"),
    (("--level", "consultation", "--received", "2026-11-24T10:00:00"), "offset"),
])
def test_sla_due_bad_input_is_one_clear_line(config: Path, args: tuple[str, ...],
                                             needle: str) -> None:
    p = cli(config, "sla", "due", *args)
    assert p.returncode == 64
    assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_calendar_show(config: Path) -> None:
    p = cli(config, "calendar", "show", "2026-11-24", "--json")
    assert json.loads(p.stdout) == {"date": "2026-11-24", "working": True, "kind": "working",
                                    "start": "10:00", "end": "18:00",
                                    "timezone": "Europe/Moscow"}
    new_year = json.loads(cli(config, "calendar", "show", "2027-01-01", "--json").stdout)
    assert new_year["working"] is False and new_year["start"] is None
    assert "non-working" in cli(config, "calendar", "show", "2026-11-28").stdout
    assert cli(config, "calendar", "show", "2026-02-30").returncode == 64


def test_ingest_exit_codes(config: Path) -> None:
    assert cli(config, "db", "upgrade").returncode == 0
    ok = cli(config, "ingest", "-", input=simple_letter("Через ingest"))
    assert ok.returncode == 0 and "SD-000013" in ok.stdout
    assert cli(config, "ingest", "-", input=b"   \r\n").returncode == 65
    assert cli(config, "ingest", "/nonexistent.eml").returncode == 66
    shown = json.loads(cli(config, "tickets", "show", "SD-000013", "--json").stdout)
    assert shown["subject"] == "Через ingest"
    assert cli(config, "tickets", "show", "SD-000014").returncode == 69
    flushed = cli(config, "outbox", "flush")
    assert flushed.returncode == 0 and "sent 2" in flushed.stdout


def test_a_letter_on_saturday_is_told_when_the_clock_starts(tmp_path: Path) -> None:
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=MSK)
    desk = make_desk(tmp_path, clock=lambda: saturday)
    desk.ingest(simple_letter("Вопрос в выходной"))
    [t] = desk.tickets()
    assert t["reaction_due"] == "2026-12-04T15:00:00+00:00"  # Friday 18:00 MSK, 40 h later
    [ack] = [m for m in desk.sent() if "ivan@client.example" in str(m["To"])]
    text = ack.get_body(("plain",)).get_content()
    assert "Срок реакции: до 04.12.2026 18:00 (МСК)" in text
    assert "получено в нерабочее время" in text and "30.11.2026 10:00 (МСК)" in text


def test_a_letter_in_working_hours_has_no_such_note(tmp_path: Path) -> None:
    tuesday = datetime(2026, 11, 24, 17, 30, tzinfo=MSK)
    desk = make_desk(tmp_path, clock=lambda: tuesday)
    desk.ingest(simple_letter("Вопрос днём"))
    [ack] = [m for m in desk.sent() if "ivan@client.example" in str(m["To"])]
    text = ack.get_body(("plain",)).get_content()
    assert "нерабочее время" not in text
    assert "Срок реакции: до 01.12.2026 17:30 (МСК)" in text  # 40 working hours on


def test_ingest_with_a_broken_config_asks_the_mta_to_retry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[smtp]\nport = "twenty-five"\n', encoding="utf-8")
    p = cli(bad, "ingest", "-", input=simple_letter())
    assert p.returncode == 75 and "smtp.port" in p.stderr
    assert cli(bad, "check-config").returncode == 78


def test_ingest_records_the_envelope_given_as_arguments(config: Path) -> None:
    assert cli(config, "db", "upgrade").returncode == 0
    p = cli(config, "ingest", "--sender", "bounce@client.example", "--recipient",
            "techsupport@example.ru", "-", input=simple_letter("Конверт"))
    assert p.returncode == 0, p.stderr
    import sqlite3

    row = sqlite3.connect(config.parent / "supportd.db").execute(
        "SELECT envelope_from, envelope_to FROM inbound").fetchone()
    assert row == ("bounce@client.example", '["techsupport@example.ru"]')


def test_too_many_recipients_are_refused_with_452(tmp_path: Path) -> None:
    import asyncio

    from aiosmtpd.smtp import Envelope as SmtpEnvelope

    from daemon.intake.smtp_listener import Handler

    desk = make_desk(tmp_path)
    handler = Handler(desk.app, lambda: None, lambda: True)
    env = SmtpEnvelope()
    limit = desk.app.config.smtp.max_recipients
    codes = [asyncio.run(handler.handle_RCPT(None, None, env, f"a{i}@x.example", []))  # type: ignore[arg-type]
             for i in range(limit + 1)]
    assert codes[:limit] == ["250 OK"] * limit and codes[-1].startswith("452")
    assert len(env.rcpt_tos) == limit


def test_tickets_list_says_how_many_match_and_which_are_shown(tmp_path: Path) -> None:
    desk = make_desk(tmp_path)
    for i in range(5):
        desk.ingest(simple_letter(f"Вопрос {i}"))
    config = desk.config_path

    def listing(*args: str) -> dict:
        p = cli(config, "tickets", "list", "--json", *args)
        assert p.returncode == 0, p.stderr
        return dict(json.loads(p.stdout))

    page = listing("--limit", "2")
    assert (page["total"], page["offset"], page["limit"]) == (5, 0, 2)
    assert [t["subject"] for t in page["tickets"]] == ["Вопрос 4", "Вопрос 3"]  # latest first
    rest = listing("--limit", "2", "--offset", "4")
    assert rest["total"] == 5 and [t["subject"] for t in rest["tickets"]] == ["Вопрос 0"]
    every = listing("--all")
    assert every["limit"] is None and len(every["tickets"]) == every["total"] == 5
    assert listing("--status", "closed") == {"total": 0, "offset": 0, "limit": 100,
                                             "tickets": []}

    text = cli(config, "tickets", "list", "--limit", "2").stdout.splitlines()
    assert text[0] == ("5 tickets; shown: the latest 2 "
                       "(--limit N, --offset N or --all for the others)")
    assert len(text) == 3 and text[1].startswith("SD-")
    assert cli(config, "tickets", "list", "--offset", "1", "--limit", "3").stdout.startswith(
        "5 tickets; shown: 2-4 by recency")
    assert cli(config, "tickets", "list").stdout.splitlines()[0] == "5 tickets"
    for bad in (("--limit", "-1"), ("--offset", "x"), ("--all", "--limit", "3")):
        p = cli(config, "tickets", "list", *bad)
        assert p.returncode == 2 and p.stderr.strip().splitlines()[-1].startswith(
            "supportd tickets list: error:"), p.stderr


def test_check_config_probe_says_what_it_cannot_reach(tmp_path: Path) -> None:
    from bench.harness.desk_config import free_port

    quiet = write_config(tmp_path / "quiet")
    p = cli(quiet, "check-config", "--probe")
    assert p.returncode == 0 and p.stdout.splitlines()[-1].startswith("probe: nothing to reach")
    closed = free_port()
    password = tmp_path / "relay.password"
    password.write_text("secret\n", encoding="utf-8")
    config = write_config(tmp_path / "away", outbound=(
        f'transport = "smtp"\nhost = "127.0.0.1"\nport = {closed}\ntimeout = 5\n'
        f'username = "desk"\npassword_file = "{password}"'))
    p = cli(config, "check-config", "--probe")
    assert p.returncode == 75 and p.stdout.startswith("config ok:")
    assert p.stderr.strip() == (f"relay: 127.0.0.1:{closed} (password as desk): unreachable: "
                                "ConnectionRefusedError: [Errno 111] Connection refused")
    password.unlink()
    p = cli(config, "check-config", "--probe")
    assert p.returncode == 78  # check-config itself finds it now, before any probe
    assert p.stderr.strip() == (f"config error: outbound.password_file: {password} does "
                                "not exist")
