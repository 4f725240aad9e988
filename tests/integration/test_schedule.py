"""The periodic work on APScheduler (daemon/service/schedule.py): the deadline sweep
at start and at its interval, the spool's retention, nothing while the database is
away, a failing job logged and run again, and SIGHUP's new intervals."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

from structlog.testing import capture_logs

from daemon.service import schedule
from daemon.service.schedule import JOBS, Job, Schedule, every
from tests.conftest import make_desk


def wait_for(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_job_runs_at_start_then_at_its_interval_and_not_while_the_db_is_away(
        tmp_path: Path) -> None:
    desk = make_desk(tmp_path, extra='[scheduler]\nsweep_interval = "1s"\n')
    runs: list[float] = []
    healthy = threading.Event()
    healthy.set()
    job = Job("count", every("scheduler.sweep_interval"), lambda app: runs.append(1),
              "counts", at_start=True)
    woken: list[int] = []
    s = Schedule(desk.app, healthy.is_set, (job,), woken=lambda: woken.append(1))
    with capture_logs() as logs:
        s.start()
        try:
            wait_for(lambda: len(runs) >= 1)
            first = len(runs)
            assert first == 1 and woken  # at once, and the outbox told
            wait_for(lambda: len(runs) >= 2, timeout=5)
            healthy.clear()
            wait_for(lambda: any(e["event"] == "job.skipped" for e in logs), timeout=5)
            held = len(runs)
            time.sleep(1.5)
            assert len(runs) == held
        finally:
            s.stop()
    desk.app.close()


def test_a_failing_job_is_logged_and_runs_again(tmp_path: Path) -> None:
    desk = make_desk(tmp_path, extra='[scheduler]\nsweep_interval = "1s"\n')
    calls: list[int] = []

    def broken(app: object) -> None:
        calls.append(1)
        raise RuntimeError("no luck")

    s = Schedule(desk.app, lambda: True,
                 (Job("broken", every("scheduler.sweep_interval"), broken, "fails",
                      at_start=True),))
    with capture_logs() as logs:
        s.start()
        try:
            wait_for(lambda: len(calls) >= 2, timeout=5)
        finally:
            s.stop()
    assert any(e["event"] == "job.failed" and e["error"] == "no luck" for e in logs)
    desk.app.close()


def test_a_reload_reschedules_and_zero_switches_a_job_off(tmp_path: Path) -> None:
    from dataclasses import replace

    desk = make_desk(tmp_path)
    s = Schedule(desk.app, lambda: True)
    s.start()
    try:
        assert {j.id for j in s.scheduler.get_jobs()} == {j.name for j in JOBS}
        cfg = desk.app.config
        desk.app.reconfigure(replace(cfg, scheduler=replace(
            cfg.scheduler, sweep_interval="5m", retention_interval="0s")))
        s.reload()
        assert {j.id for j in s.scheduler.get_jobs()} == {j.name for j in JOBS} - {
            "spool_retention"}
        trigger = s.scheduler.get_job("deadline_sweep").trigger
        assert trigger.interval == timedelta(minutes=5)
    finally:
        s.stop()
    desk.app.close()


def test_spool_retention_deletes_old_shunted_letters_and_leftovers(tmp_path: Path) -> None:
    desk = make_desk(tmp_path)  # the defaults: 180 days, 2 days
    spool = desk.app.spool
    old = time.time() - 200 * 86400
    young = time.time() - 3600
    files = {}
    for name, folder, mtime in (("old", spool.shunted, old), ("old.reason", spool.shunted, old),
                                ("young", spool.shunted, young),
                                ("left+otherhost-1", spool.tmp, old),
                                ("writing+otherhost-2", spool.tmp, young)):
        f = folder / name
        f.write_bytes(b"x")
        os.utime(f, (mtime, mtime))
        files[name] = f
    removed = schedule._spool_retention(desk.app)
    assert removed == {"shunted": 1, "tmp": 1}
    assert sorted(p.name for p in spool.shunted.iterdir()) == ["young"]
    assert sorted(p.name for p in spool.tmp.iterdir()) == ["writing+otherhost-2"]
    desk.app.close()
