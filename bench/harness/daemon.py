"""`supportd run` as a child process, for the tests' drills and the benchmarks.

`Daemon` starts `supportd run` on a config, speaks SMTP to it, reads its JSON log,
and can stop it (SIGTERM, with a deadline and then SIGKILL when asked), kill it (-9;
its pipeline processes die with it), freeze it with its pipeline processes (SIGSTOP)
and start it again on the same config. `wait_listening` is the wait for its
listener; `running` starts several and kills whatever is left at the end.
`write_daemon_config` writes its config (bench/harness/desk_config.py) with a port
chosen here, and can make two daemons share one spool.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from bench.harness.desk_config import DESK_ADDRESS, free_port, write_config
from bench.harness.paths import PROJECT

SUPPORTD = [sys.executable, "-m", "daemon.cli"]
SUPPORT_ADDRESS = DESK_ADDRESS

T = TypeVar("T")


def crlf(raw: bytes) -> bytes:
    """Line ends as they travel over SMTP."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def wait_until(what: Callable[[], T], timeout: float = 20.0, interval: float = 0.1,
               message: str | Callable[[], str] = "timed out") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(interval)


def write_daemon_config(root: Path, *, port: int | None = None, db_url: str | None = None,
                        outbound: str | None = None, spool: Path | None = None,
                        extra: str = "", name: str = "supportd.toml") -> tuple[Path, int]:
    """A config under `root` (see bench.harness.desk_config.write_config); `spool`
    shares another daemon's spool folder. Returns (config path, SMTP port)."""
    port = port or free_port()
    path = write_config(root, db_url=db_url, extra=extra, smtp_port=port, outbound=outbound)
    text = path.read_text(encoding="utf-8")
    if spool is not None:
        text = text.replace(f'spool = "{root}/spool"', f'spool = "{spool}"')
    target = root / name
    target.write_text(text, encoding="utf-8")
    if target != path:
        path.unlink()
    return target, port


# ---------------------------------------------------------------- the daemon


def wait_listening(port: int, proc: subprocess.Popen[bytes], tail: Callable[[], str],
                   timeout: float = 60) -> None:
    """Until a `supportd run` answers SMTP NOOP on `port`; AssertionError with the log's
    `tail()` when it exits first or does not listen in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=5) as s:
                s.noop()
            return
        except OSError:
            assert proc.poll() is None, "supportd exited:\n" + tail()
            time.sleep(0.1)
    raise AssertionError("supportd did not start listening:\n" + tail())


class Daemon:
    """`supportd --config CONFIG run` as a child process; its output goes to `log`
    (default `ROOT/NAME.log`), appended to."""

    def __init__(self, root: Path, port: int, config: Path, name: str = "daemon",
                 log: Path | None = None) -> None:
        self.root, self.port, self.config, self.name = root, port, config, name
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = log or root / f"{name}.log"
        self.pids: list[int] = []  # every process this helper started, oldest first

    # -- processes

    def cli(self, *args: str, input: bytes | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*SUPPORTD, "--config", str(self.config), *args], input=input,
                              capture_output=True, timeout=timeout, cwd=PROJECT)

    def upgrade(self) -> None:
        p = self.cli("db", "upgrade")
        assert p.returncode == 0, p.stderr.decode(errors="replace")

    def start(self, timeout: float = 60) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it (see `wait_ready`)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([*SUPPORTD, "--config", str(self.config), "run"],
                                         stdout=log, stderr=log, cwd=PROJECT)
        self.pids.append(self.proc.pid)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the listener answers (READY=1 comes right after it)."""
        assert self.proc is not None
        wait_listening(self.port, self.proc, self.tail, timeout)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def workers(self) -> list[int]:
        """Its pipeline processes (`supportd worker`, children of `supportd run`)."""
        pid = self.pid
        try:
            return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except FileNotFoundError:
            return []

    def _signal_all(self, sig: int) -> None:
        for pid in [self.pid, *self.workers()]:
            with suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30,
             kill_late: bool = False) -> int:
        """Send `sig` and reap the process. When it has not ended after `timeout`
        seconds: SIGKILL with `kill_late` (the benchmarks: their desks are thrown
        away), else subprocess.TimeoutExpired (a test: that is a finding)."""
        assert self.proc is not None
        if sig != signal.SIGKILL:
            self._signal_all(signal.SIGCONT)  # a frozen process can't stop
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)  # reaped: its pid is free, its claims dead
        except subprocess.TimeoutExpired:
            if not kill_late:
                raise
            self.proc.kill()  # our own child, by its Popen handle
            code = self.proc.wait(timeout=30)
        self.proc = None
        return code

    def kill(self) -> int:
        """kill -9, and reap the process (a zombie still counts as alive)."""
        return self.stop(signal.SIGKILL)

    def freeze(self) -> None:
        """SIGSTOP to the daemon and its pipeline processes."""
        assert self.proc is not None
        self._signal_all(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self._signal_all(signal.SIGCONT)

    # -- SMTP

    def send(self, raw: bytes, sender: str = "ivan@client.example",
             timeout: float = 30) -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=timeout) as s:
            s.ehlo("client.example")
            code, resp = s.mail(sender)
            assert code == 250, resp
            code, resp = s.rcpt(SUPPORT_ADDRESS)
            assert code == 250, resp
            return s.data(crlf(raw))

    def try_send(self, raw: bytes, sender: str = "ivan@client.example",
                 timeout: float = 30) -> tuple[int, str]:
        """What an MTA sees: (reply code, text), or (0, error) when no reply came."""
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=timeout) as s:
                s.ehlo("client.example")
                code, resp = s.mail(sender)
                if code != 250:
                    return code, resp.decode(errors="replace")
                code, resp = s.rcpt(SUPPORT_ADDRESS)
                if code != 250:
                    return code, resp.decode(errors="replace")
                code, resp = s.data(crlf(raw))
                return code, resp.decode(errors="replace")
        except smtplib.SMTPResponseException as exc:
            return exc.smtp_code, exc.smtp_error.decode(errors="replace")
        except (OSError, smtplib.SMTPException) as exc:
            return 0, repr(exc)

    def deliver(self, raw: bytes, sender: str = "ivan@client.example", timeout: float = 60,
                pause: float = 0.3) -> list[tuple[int, str]]:
        """What an MTA does with a temporary refusal: try again until 250.
        Returns every answer it got, the 250 last."""
        answers: list[tuple[int, str]] = []
        deadline = time.monotonic() + timeout
        while True:
            answers.append(self.try_send(raw, sender))
            if answers[-1][0] == 250:
                return answers
            assert 400 <= answers[-1][0] < 500 or answers[-1][0] == 0, answers
            assert time.monotonic() < deadline, (answers, self.tail())
            time.sleep(pause)

    def open_data(self, raw: bytes, sender: str = "ivan@client.example",
                  part: float = 0.5) -> socket.socket:
        """Start a transaction by hand and send `part` of the letter after DATA; with
        part=1 the final dot goes too, and the reply is left unread."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        f = sock.makefile("rb")

        def reply() -> bytes:
            lines = []
            while True:
                line = f.readline()
                lines.append(line)
                if len(line) < 4 or line[3:4] != b"-":
                    return b"".join(lines)

        assert reply().startswith(b"220")
        for cmd in (b"EHLO client.example", f"MAIL FROM:<{sender}>".encode(),
                    f"RCPT TO:<{SUPPORT_ADDRESS}>".encode()):
            sock.sendall(cmd + b"\r\n")
            assert reply().startswith(b"250")
        sock.sendall(b"DATA\r\n")
        assert reply().startswith(b"354")
        body = crlf(raw).replace(b"\r\n.", b"\r\n..")  # dot-stuffing
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        if part >= 1:
            sock.sendall(body + b".\r\n")
        else:
            sock.sendall(body[: int(len(body) * part)])
        return sock

    # -- what it says and what it did

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return "(no log)"

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        out = []
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return []
        for line in text.splitlines():
            if not line.startswith("{"):
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if name is None or ev.get("event") == name:
                out.append(ev)
        return out

    def wait_for_event(self, name: str, count: int = 1, timeout: float = 20,
                       where: Callable[[dict[str, Any]], bool] = lambda e: True
                       ) -> list[dict[str, Any]]:
        def found() -> list[dict[str, Any]] | None:
            evs = [e for e in self.events(name) if where(e)]
            return evs if len(evs) >= count else None

        return wait_until(found, timeout, message=lambda: f"no {count}x {name} from "
                                                           f"{self.name}:\n" + self.tail())

    def wait_for(self, what: Callable[[], T], timeout: float = 60.0) -> T:
        return wait_until(what, timeout, message=lambda: "timed out; daemon log:\n" + self.tail())

    def tickets(self) -> list[dict[str, Any]]:
        p = self.cli("tickets", "list", "--all", "--json")
        assert p.returncode == 0, p.stderr
        return list(json.loads(p.stdout)["tickets"])

    def show(self, tid: str) -> dict[str, Any]:
        p = self.cli("tickets", "show", tid, "--json")
        assert p.returncode == 0, p.stderr
        return dict(json.loads(p.stdout))

    def outbox(self) -> list[email.message.EmailMessage]:
        new = self.root / "outbox" / "new"
        files = sorted(new.glob("*")) if new.exists() else []
        return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
                for f in files]  # type: ignore[misc]


@contextmanager
def running(*daemons: Daemon) -> Iterator[None]:
    """Start the daemons; kill whatever still runs at the end, whatever happened."""
    try:
        for d in daemons:
            d.launch()
        for d in daemons:
            d.wait_ready()
        yield
    finally:
        for d in daemons:
            if d.running():
                d.kill()
