"""The daemon as systemd sees it: sd_notify messages on a fake socket, and the unit file.

systemd starts `supportd run` with Type=notify and WatchdogSec=, and trusts what
the daemon tells it on $NOTIFY_SOCKET: READY=1 means "letters may come now",
WATCHDOG=1 means "the loop is alive", RELOADING=1/READY=1 frame a SIGHUP reload,
STOPPING=1 starts a clean stop. Here a datagram socket in a temporary folder
stands in for systemd, and a real daemon process talks to it. The unit file
itself is checked with `systemd-analyze verify` where that tool exists.
"""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.harness.desk_config import free_port, write_config
from tests.conftest import PROJECT

SUPPORTD = [sys.executable, "-m", "daemon.cli"]
WATCHDOG_USEC = 2_000_000  # the daemon pings every half of it: once a second


class FakeSystemd:
    """The receiving end of $NOTIFY_SOCKET: every datagram, in order, as a set of lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[tuple[float, frozenset[str]]] = []

    def close(self) -> None:
        self.sock.close()

    def _receive(self, timeout: float) -> bool:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return False
        self.messages.append((time.monotonic(), frozenset(data.decode().split("\n"))))
        return True

    def wait_for(self, state: str, after: int = 0, timeout: float = 30.0) -> int:
        """Index of the first message at or after `after` holding `state` (e.g. READY=1)."""
        deadline = time.monotonic() + timeout
        index = after
        while True:
            while index < len(self.messages):
                if state in self.messages[index][1]:
                    return index
                index += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {state} within {timeout}s; got {self.states()}")
            self._receive(left)

    def collect(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._receive(left)

    def states(self, since: int = 0) -> list[list[str]]:
        return [sorted(lines) for _, lines in self.messages[since:]]

    def count(self, state: str, since: int = 0) -> int:
        return sum(state in lines for _, lines in self.messages[since:])


class NotifiedDaemon:
    def __init__(self, root: Path, port: int, config: Path, systemd: FakeSystemd) -> None:
        self.root, self.port, self.config, self.systemd = root, port, config, systemd
        self.log = root / "daemon.log"
        env = {k: v for k, v in os.environ.items()
               if k not in ("WATCHDOG_PID", "WATCHDOG_USEC", "NOTIFY_SOCKET",
                            "SUPPORTD_CONFIG")}
        env.update(NOTIFY_SOCKET=str(systemd.path), WATCHDOG_USEC=str(WATCHDOG_USEC))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([*SUPPORTD, "--config", str(config), "run"],
                                         stdout=log, stderr=log, cwd=PROJECT, env=env)

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = 30.0) -> int:
        return self.proc.wait(timeout=timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[FakeSystemd]:
    # AF_UNIX paths are limited to ~107 bytes; pytest's tmp_path can be longer.
    path = tmp_path / "notify.sock"
    if len(str(path)) > 100:
        pytest.skip(f"temporary folder path too long for a unix socket: {path}")
    fake = FakeSystemd(path)
    yield fake
    fake.close()


@pytest.fixture
def start_daemon(tmp_path: Path, systemd: FakeSystemd) -> Iterator[Callable[[], NotifiedDaemon]]:
    started: list[NotifiedDaemon] = []

    def start() -> NotifiedDaemon:
        port = free_port()
        config = write_config(tmp_path, smtp_port=port)
        upgrade = subprocess.run([*SUPPORTD, "--config", str(config), "db", "upgrade"],
                                 capture_output=True, timeout=120, cwd=PROJECT)
        assert upgrade.returncode == 0, upgrade.stderr.decode()
        daemon = NotifiedDaemon(tmp_path, port, config, systemd)
        started.append(daemon)
        return daemon

    yield start
    for d in started:
        if d.alive():
            d.proc.kill()
            d.proc.wait(timeout=30)


def smtp_answers(port: int) -> bool:
    """One connection attempt, no retries: does the listener greet us now?"""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as s:
            code, _ = s.noop()
            return code == 250
    except OSError:
        return False


def test_ready_comes_only_when_the_smtp_port_already_answers(
        start_daemon: Callable[[], NotifiedDaemon], systemd: FakeSystemd) -> None:
    daemon = start_daemon()
    ready = systemd.wait_for("READY=1")
    assert smtp_answers(daemon.port), \
        "READY=1 was sent before the listener accepted connections:\n" + daemon.log_text()
    assert "STATUS=running" in systemd.messages[ready][1]
    assert systemd.count("STOPPING=1") == 0 and systemd.count("RELOADING=1") == 0


def test_the_watchdog_is_pinged_repeatedly_from_the_running_loop(
        start_daemon: Callable[[], NotifiedDaemon], systemd: FakeSystemd) -> None:
    daemon = start_daemon()
    ready = systemd.wait_for("READY=1")
    systemd.collect(3.2)
    pings = systemd.count("WATCHDOG=1", since=ready)
    assert pings >= 2, f"{pings} WATCHDOG=1 in ~3 s: {systemd.states()}\n{daemon.log_text()}"
    # At half of WATCHDOG_USEC (1 s) there should not be a flood either.
    assert pings <= 6, systemd.states()
    assert daemon.alive()


def test_sighup_reloads_between_reloading_and_ready_and_sigterm_stops_cleanly(
        start_daemon: Callable[[], NotifiedDaemon], systemd: FakeSystemd) -> None:
    daemon = start_daemon()
    ready = systemd.wait_for("READY=1")

    daemon.signal(signal.SIGHUP)
    reloading = systemd.wait_for("RELOADING=1", after=ready + 1)
    ready_again = systemd.wait_for("READY=1", after=reloading + 1)
    assert "STATUS=running (config reloaded)" in systemd.messages[ready_again][1]
    assert smtp_answers(daemon.port), "the listener must survive a reload"

    daemon.signal(signal.SIGTERM)
    systemd.wait_for("STOPPING=1", after=ready_again + 1)
    code = daemon.wait()
    assert code == 0, daemon.log_text()
    assert not smtp_answers(daemon.port)


def test_a_broken_config_on_sighup_is_refused_and_the_daemon_keeps_running(
        start_daemon: Callable[[], NotifiedDaemon], systemd: FakeSystemd) -> None:
    daemon = start_daemon()
    ready = systemd.wait_for("READY=1")
    good = daemon.config.read_text(encoding="utf-8")
    daemon.config.write_text(good.replace("[smtp]", "[smtp]\nno_such_key = 1"),
                             encoding="utf-8")

    daemon.signal(signal.SIGHUP)
    reloading = systemd.wait_for("RELOADING=1", after=ready + 1)
    answer = systemd.wait_for("READY=1", after=reloading + 1)
    status = [line for line in systemd.messages[answer][1] if line.startswith("STATUS=")]
    assert status and "reload refused" in status[0] and "smtp.no_such_key" in status[0]
    assert daemon.alive() and smtp_answers(daemon.port)
    assert "config.reload_refused" in daemon.log.read_text(encoding="utf-8")

    daemon.signal(signal.SIGTERM)
    assert daemon.wait() == 0, daemon.log_text()


# ---------------------------------------------------------------- the unit file

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@pytest.mark.skipif(SYSTEMD_ANALYZE is None,
                    reason="systemd-analyze is not installed (apt-get install systemd)")
def test_the_unit_file_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """The shipped unit, with /opt/supportd pointed at this checkout so the
    executables exist. `verify` only warns (exit 0) about unknown keys, so any line
    naming the unit counts as a failure too."""
    assert SYSTEMD_ANALYZE is not None
    executable = Path(sys.executable).parent / "supportd"
    if not os.access(executable, os.X_OK):
        pytest.skip(f"{executable} missing: the package is not installed in this venv")
    unit = (PROJECT / "systemd" / "supportd.service").read_text(encoding="utf-8")
    assert "/opt/supportd/.venv/bin/supportd" in unit
    copy = tmp_path / "supportd.service"
    copy.write_text(unit.replace("/opt/supportd/.venv/bin/supportd", str(executable))
                        .replace("file:///opt/supportd/", f"file://{PROJECT}/"),
                    encoding="utf-8")

    p = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", str(copy)],
                       capture_output=True, text=True, timeout=120)
    complaints = [line for line in (p.stdout + p.stderr).splitlines()
                  if "supportd.service" in line]
    if p.returncode != 0 and not complaints and "Failed to" in p.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {p.stderr.strip()[:300]}")
    assert p.returncode == 0 and not complaints, p.stdout + p.stderr
    for expected in ("Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
                     "WorkingDirectory=/var/lib/supportd",
                     "Environment=SUPPORTD_CONFIG=/etc/supportd/supportd.toml"):
        assert expected in unit, f"{expected} missing from the unit (docs/admin.md relies on it)"
