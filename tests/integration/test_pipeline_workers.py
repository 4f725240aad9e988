"""The pipeline in its own process: `supportd run` listens, `supportd worker` processes.

The listener and the pipeline used to be threads of one process and fought for the
GIL, so a 250 waited behind parsing. Now the pipeline runs in child processes the
daemon supervises. These tests drive the real daemon and look at its children:
letters are processed by a worker, a worker killed with -9 in the middle of a
letter loses nothing and is started again, a database the worker finds broken
turns the listener's answers into 451 until it is mended, SIGTERM stops the
children with the parent, a `kill -9` of the parent takes its children along, and
the children never speak to systemd.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.harness.daemon import Daemon, running, wait_until, write_daemon_config
from tests.conftest import PROJECT, simple_letter
from tests.support.drills import query, spool_state

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def gone(pid: int) -> Callable[[], bool]:
    return lambda: not alive(pid)


def letter(tag: str) -> bytes:
    return simple_letter(f"Сбой {tag}", f"Здравствуйте! Ошибка {tag} в версии 3.14.",
                         sender=f"Клиент <{tag}@client.example>",
                         message_id=f"<{tag}@client.example>")


def inbound(url: str) -> dict[str, list[str]]:
    got: dict[str, list[str]] = {}
    for mid, outcome in query(url, "SELECT message_id_header, outcome FROM inbound"):
        got.setdefault(mid, []).append(outcome)
    return got


def sqlite_url(root: Path) -> str:
    return f"sqlite:///{root}/supportd.db"


def test_letters_over_smtp_are_processed_by_a_worker_process(daemon: Daemon) -> None:
    [worker] = daemon.wait_for(lambda: daemon.workers())
    assert worker != daemon.pid
    for n in range(3):
        assert daemon.send(letter(f"w{n}"), f"w{n}@client.example")[0] == 250
    daemon.wait_for(lambda: len(daemon.tickets()) == 3)
    # The worker claimed them in its own folder, named after its pid.
    started = daemon.wait_for_event("worker.started")
    assert started[0]["pid"] == worker
    assert daemon.workers() == [worker]


def test_a_worker_killed_mid_letter_loses_nothing_and_is_started_again(
        tmp_path: Path, daemon: Daemon) -> None:
    url, spool = sqlite_url(tmp_path), tmp_path / "spool"
    [first] = daemon.wait_for(lambda: daemon.workers())
    assert daemon.send(letter("before"), "before@client.example")[0] == 250
    daemon.wait_for(lambda: "<before@client.example>" in inbound(url))
    # Hold SQLite's write lock: the worker claims the next letter and waits inside its
    # transaction, the window between the 250 and the commit.
    lock = sqlite3.connect(tmp_path / "supportd.db", timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        assert daemon.send(letter("held"), "held@client.example")[0] == 250
        wait_until(lambda: spool_state(spool).processing, 20, message=daemon.tail)
        for n in range(3):  # the listener keeps taking letters meanwhile
            assert daemon.send(letter(f"more{n}"), f"more{n}@client.example")[0] == 250
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: not alive(first), 10)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    daemon.wait_for_event("worker.died")
    second = daemon.wait_for(lambda: [p for p in daemon.workers() if p != first])
    assert second and daemon.running()
    for n in range(3, 5):
        assert daemon.send(letter(f"more{n}"), f"more{n}@client.example")[0] == 250
    tags = ["before", "held", *(f"more{n}" for n in range(5))]
    wait_until(lambda: spool_state(spool).settled and len(inbound(url)) == len(tags), 60,
               interval=0.2, message=lambda: f"{spool_state(spool)}\n{daemon.tail()}")
    assert inbound(url) == {f"<{t}@client.example>": ["ticket"] for t in tags}
    assert len({t["tid"] for t in daemon.tickets()}) == len(tags)
    assert daemon.events("spool.recovered")  # the dead worker's claim came back
    for bad in ("letter.failed", "letter.shunted", "runner.crashed"):
        assert not daemon.events(bad), daemon.events(bad)


def test_a_database_the_worker_cannot_use_means_451_until_it_is_mended(
        tmp_path: Path) -> None:
    """The database answers pings but has no tables (`db upgrade` not run): the worker
    fails on the first letter, reports it, and the listener answers 451 from then on;
    after the upgrade the worker recovers, the letters flow, and nothing is lost."""
    cfg, port = write_daemon_config(tmp_path)
    d = Daemon(tmp_path, port, cfg)
    url = sqlite_url(tmp_path)
    with running(d):
        assert d.send(letter("first"), "first@client.example")[0] == 250
        d.wait_for_event("db.unavailable")
        code, text = d.try_send(letter("second"), "second@client.example")
        assert code == 451 and "4.3.0" in text, text
        d.upgrade()
        answers = d.deliver(letter("second"), "second@client.example")
        assert answers[-1][0] == 250
        d.wait_for_event("db.available")
        d.wait_for(lambda: len(inbound(url)) == 2)
        assert inbound(url) == {"<first@client.example>": ["ticket"],
                                "<second@client.example>": ["ticket"]}


def test_sigterm_lets_the_worker_finish_its_letter_then_stops_everything(
        tmp_path: Path, daemon: Daemon) -> None:
    url, spool = sqlite_url(tmp_path), tmp_path / "spool"
    daemon.wait_for_event("worker.started")
    workers = daemon.workers()
    lock = sqlite3.connect(tmp_path / "supportd.db", timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        assert daemon.send(letter("inhand"), "inhand@client.example")[0] == 250
        wait_until(lambda: spool_state(spool).processing, 20, message=daemon.tail)
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.wait_for_event("service.stopping")
        time.sleep(0.5)
        assert daemon.running(), "the daemon must wait for the letter in hand"
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert daemon.proc.wait(timeout=30) == 0
    daemon.proc = None
    for pid in workers:
        wait_until(gone(pid), 10)
    assert inbound(url) == {"<inhand@client.example>": ["ticket"]}
    assert spool_state(spool).settled
    text = daemon.log.read_text()
    assert text.index("worker.stopped") < text.index("service.stopped")
    assert not daemon.events("worker.died") and not daemon.events("worker.kill")


def test_kill_9_of_the_daemon_takes_its_workers_along(daemon: Daemon) -> None:
    workers = daemon.wait_for(lambda: daemon.workers())
    daemon.kill()
    for pid in workers:
        wait_until(gone(pid), 10, message=f"worker {pid} outlived its daemon")


def test_sighup_reaches_the_workers(tmp_path: Path, daemon: Daemon) -> None:
    daemon.wait_for(lambda: daemon.workers())
    daemon.wait_for_event("worker.started")
    daemon.config.write_text(daemon.config.read_text().replace(
        'name = "Анна Петрова"', 'name = "Анна Сидорова"'), encoding="utf-8")
    daemon.proc.send_signal(signal.SIGHUP)  # type: ignore[union-attr]
    daemon.wait_for_event("worker.reloaded")
    daemon.send(letter("reload"), "reload@client.example")
    [ack] = daemon.wait_for(lambda: [m for m in daemon.outbox()
                                     if "reload@client.example" in str(m["To"])])
    body = ack.get_body(("plain",))
    assert body is not None and "Анна Сидорова" in body.get_content()


def test_workers_do_not_get_the_systemd_notify_socket(tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    if len(str(sock_path)) > 100:
        pytest.skip("temporary folder path too long for a unix socket")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    cfg, port = write_daemon_config(tmp_path)
    d = Daemon(tmp_path, port, cfg)
    d.upgrade()
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "60000000"}
    env.pop("SUPPORTD_CONFIG", None)
    with open(d.log, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "daemon.cli", "--config", str(cfg),
                                 "run"], stdout=log, stderr=log, cwd=PROJECT, env=env)
    try:
        d.proc = proc
        d.wait_ready()
        [worker] = d.wait_for(lambda: d.workers())
        environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
        names = {e.partition(b"=")[0] for e in environ}
        assert not names & {b"NOTIFY_SOCKET", b"WATCHDOG_USEC", b"WATCHDOG_PID"}
        parent = Path(f"/proc/{proc.pid}/environ").read_bytes()
        assert b"NOTIFY_SOCKET=" in parent
    finally:
        proc.kill()
        proc.wait(timeout=30)
        sock.close()


def test_more_than_one_worker_on_sqlite_is_refused_naming_the_key(tmp_path: Path) -> None:
    cfg, _ = write_daemon_config(tmp_path, extra="[pipeline]\nworkers = 2\n")
    d = Daemon(tmp_path, 0, cfg)
    p = d.cli("check-config")
    assert p.returncode == 78
    assert b"pipeline.workers" in p.stderr and b"PostgreSQL" in p.stderr


def test_the_outbox_sends_while_the_pipeline_process_is_frozen(daemon: Daemon) -> None:
    """The outbox is a thread of the listener's process, not of a worker: a letter
    taken by `supportd ingest --in-process` (the MTA's pipe, without the thin hand-over)
    is acknowledged by the running daemon even while its pipeline process is stopped."""
    [worker] = daemon.wait_for(lambda: daemon.workers())
    daemon.wait_for_event("worker.started")
    os.kill(worker, signal.SIGSTOP)
    try:
        done = daemon.cli("ingest", "--in-process", "--sender", "piped@client.example",
                          input=letter("piped"))
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        [ack] = daemon.wait_for(lambda: [m for m in daemon.outbox()
                                         if "piped@client.example" in str(m["To"])], 30)
        assert "SD-" in str(ack["Subject"])
    finally:
        os.kill(worker, signal.SIGCONT)
