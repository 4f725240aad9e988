"""The one clock: `--now` / SUPPORTD_NOW read, a moment held, a running daemon's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.cli import clock


@pytest.mark.parametrize(("text", "utc"), [
    ("2026-12-08T11:00+03:00", datetime(2026, 12, 8, 8, 0, tzinfo=UTC)),
    ("2026-12-08T11:00:30+03:00", datetime(2026, 12, 8, 8, 0, 30, tzinfo=UTC)),
    ("2026-12-08 11:00+03:00", datetime(2026, 12, 8, 8, 0, tzinfo=UTC)),
    ("2026-12-08T08:00Z", datetime(2026, 12, 8, 8, 0, tzinfo=UTC)),
    (" 2026-12-31T23:59:59.5+00:00 ", datetime(2026, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)),
])
def test_a_moment_is_read_in_utc(text: str, utc: datetime) -> None:
    assert clock.parse_moment(text) == utc


@pytest.mark.parametrize(("text", "needle"), [
    ("завтра", "is not an ISO 8601"),
    ("2026-12-08T11:00", "no UTC offset"),
    ("2026-02-30T10:00+03:00", "is not an ISO 8601"),
    ("", "is not an ISO 8601"),
])
def test_a_bad_moment_names_its_source(text: str, needle: str) -> None:
    with pytest.raises(clock.ClockError, match=needle) as info:
        clock.parse_moment(text, "SUPPORTD_NOW")
    assert str(info.value).startswith("SUPPORTD_NOW: ")


def test_no_option_and_no_variable_is_the_real_clock() -> None:
    assert clock.from_arguments(None, "ingest", {}) is None
    assert clock.from_arguments(None, "ingest", {"SUPPORTD_NOW": "  "}) is None


def test_the_option_wins_over_the_variable_and_a_command_stands_still() -> None:
    now = clock.from_arguments("2026-12-08T11:00+03:00", "tickets",
                               {"SUPPORTD_NOW": "2020-01-01T00:00Z"})
    assert now is not None and now() == now() == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    from_env = clock.from_arguments(None, "ingest", {"SUPPORTD_NOW": "2026-12-08T08:00Z"})
    assert from_env is not None and from_env() == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)


def test_the_daemon_starts_at_the_moment_and_runs_on() -> None:
    ticks = iter([1000.0, 1090.5])
    start = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    now = clock.running_from(start, 1000.0, real=lambda: next(ticks))
    assert now() == start and now() == start + timedelta(seconds=90.5)


def test_run_hands_its_moment_and_start_to_its_workers() -> None:
    env: dict[str, str] = {}
    clock.hand_down("2026-12-08T11:00+03:00", env)
    assert env["SUPPORTD_NOW"] == "2026-12-08T11:00+03:00" and float(env["SUPPORTD_NOW_SINCE"])
    worker = clock.from_arguments(None, "worker", env)
    assert worker is not None
    assert worker() >= datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    with pytest.raises(clock.ClockError, match="SUPPORTD_NOW_SINCE"):
        clock.from_arguments(None, "worker", {**env, "SUPPORTD_NOW_SINCE": "x"})
