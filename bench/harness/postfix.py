"""A real, throw-away Postfix on loopback for the integration tests and the soak.

`Postfix` writes a private configuration (main.cf, master.cf, a transport map
and an aliases table) into a fresh folder and starts Debian's Postfix from it
with ``postfix -c ETC start``. Its queue, data folder and log live in the same
folder, so the system's /etc/postfix is never read and never touched, and a
Postfix the system may run on port 25 is left alone. smtpd listens on
127.0.0.1 on a free port (a master.cf line ``127.0.0.1:PORT inet ... smtpd``);
there is no DNS: every route is a bracketed address in the transport map.

    with Postfix(routes={"techsupport@example.ru": "lmtp:inet:127.0.0.1:8025"},
                 sink_port=sink.port) as mta:
        smtplib.SMTP("127.0.0.1", mta.port).sendmail(...)
        mta.wait_empty(20)             # everything delivered or bounced
        mta.queue(), mta.log(), mta.flush()

What mattered to make it work (and what an admin's own instance needs too):

* As root, ``postfix -c DIR`` needs no ``alternate_config_directories``
  entry in /etc/postfix/main.cf (that check is only for unprivileged users of
  postqueue/postdrop), and /etc/postfix/main.cf may be absent (Debian's
  "No configuration"). ``queue_directory`` must exist (root-owned, not group
  writable); ``postfix start`` creates the subfolders. ``data_directory`` must
  be owned by ``postfix``. Keep the queue out of the config folder, or
  ``postfix check`` complains that it is not owned by root.
* With no syslog in a container, ``maillog_file`` plus the ``postlog``
  service in master.cf (Postfix >= 3.4) gives a log; its folder must be in
  ``maillog_file_prefixes``. Postfix commands print their errors on stderr
  only when stderr is a terminal: read the log file.
* Everything else is in `main_cf()` below.

When Postfix is not installed, or we are not root, `Postfix.require()` (and
entering the context manager) skips the test with one line saying why;
`skip_reason()` says it to a caller that is not a test (the soak).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

POSTFIX = "/usr/sbin/postfix"
POSTQUEUE = "/usr/sbin/postqueue"
POSTMAP = "/usr/sbin/postmap"
POSTALIAS = "/usr/sbin/postalias"
POSTCONF = "/usr/sbin/postconf"
SKIP_REASON = "postfix not installed (apt-get install postfix; .ci/run does)"
HOSTNAME = "mx.test.invalid"  # what Postfix calls itself (Received:, bounces)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def skip_reason() -> str | None:
    """Why a private Postfix can't run here, or None when it can."""
    if not (os.path.exists(POSTFIX) and os.path.exists(POSTQUEUE)):
        return SKIP_REASON
    if os.geteuid() != 0:
        return "a private Postfix must be started as root (its master runs as root)"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "the postfix user is missing (reinstall Debian's postfix package)"
    return None


# Services from Debian's master.cf that a loopback-only instance needs.
MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@dataclass
class Postfix:
    """One private Postfix instance; `start()`/`stop()` or a context manager.

    routes: transport map entries, address or domain -> ``transport:nexthop``.
    sink_port: when given, every other destination (``*``) goes to an SMTP
        sink on that port, so bounces and outgoing letters never leave.
    local_users: names valid in ``mydestination`` (an aliases table that only
        validates recipients; the transport map decides where mail goes).
    main / master: extra main.cf lines (``key = value``) and master.cf text.
    """

    routes: dict[str, str] = field(default_factory=dict)
    sink_port: int | None = None
    domain: str = "example.ru"
    local_users: tuple[str, ...] = ("techsupport", "postmaster")
    main: dict[str, str] = field(default_factory=dict)
    master: str = ""
    port: int = field(default_factory=_free_port)

    def __post_init__(self) -> None:
        self.host = "127.0.0.1"
        self.root = Path(tempfile.mkdtemp(prefix="supportd-postfix-"))
        self.root.chmod(0o755)  # the postfix user must reach its queue
        self.etc = self.root / "etc"
        self.queue_dir = self.root / "queue"
        self.data_dir = self.root / "data"
        self.log_path = self.root / "maillog"
        self.started = False

    # ------------------------------------------------------------ set-up

    @staticmethod
    def available() -> bool:
        return skip_reason() is None

    @staticmethod
    def require() -> None:
        reason = skip_reason()
        if reason:
            import pytest  # only a test gets here: the soak asks skip_reason() first

            pytest.skip(reason)

    def main_cf(self) -> dict[str, str]:
        cf = {
            "compatibility_level": "3.6",
            "config_directory": str(self.etc),
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "syslog_name": "postfix-supportd-test",
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": str(self.root),
            "myhostname": HOSTNAME,
            "mydomain": self.domain,
            "myorigin": "$myhostname",
            "mydestination": self.domain,
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": f"hash:{self.etc}/aliases",
            "alias_database": f"hash:{self.etc}/aliases",
            "local_recipient_maps": "$alias_maps",
            "transport_maps": f"hash:{self.etc}/transport",
            # No DNS at all: next hops are bracketed IP addresses.
            "disable_dns_lookups": "yes",
            "smtp_host_lookup": "native",
            "lmtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "biff": "no",
            "append_dot_mydomain": "no",
            "readme_directory": "no",
            "notify_classes": "",
            "smtpd_banner": "$myhostname ESMTP",
            # Retries keep Postfix's own schedule (minutes): a deferred letter stays
            # put until a test says `flush()`.
        }
        cf.update(self.main)
        return cf

    def _write_config(self) -> None:
        self.etc.mkdir()
        self.queue_dir.mkdir()
        self.data_dir.mkdir()
        pw = pwd.getpwnam("postfix")
        os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
        main = "".join(f"{k} = {v}\n" for k, v in self.main_cf().items())
        (self.etc / "main.cf").write_text("# written by bench/harness/postfix.py\n" + main)
        master = MASTER_CF.format(listen=f"127.0.0.1:{self.port}") + self.master
        (self.etc / "master.cf").write_text(master)
        routes = dict(self.routes)
        if self.sink_port is not None:
            routes.setdefault("*", f"smtp:[127.0.0.1]:{self.sink_port}")
        (self.etc / "transport").write_text("".join(f"{k}\t{v}\n" for k, v in routes.items()))
        (self.etc / "aliases").write_text("".join(f"{u}: root\n" for u in self.local_users))
        self._run(POSTMAP, "-c", str(self.etc), f"hash:{self.etc}/transport")
        self._run(POSTALIAS, "-c", str(self.etc), f"hash:{self.etc}/aliases")

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr}"
                                 f"\n--- maillog ---\n{self.log()[-3000:]}")
        return p

    # ------------------------------------------------------------ life

    def start(self) -> Postfix:
        self.require()
        self._write_config()
        self._run(POSTFIX, "-c", str(self.etc), "start")
        self.started = True
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as s:
                    if s.recv(512).startswith(b"220"):
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("postfix did not start listening:\n" + self.log()[-3000:])

    def master_pid(self) -> int | None:
        try:
            return int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.started:
            pid = self.master_pid()
            self._run(POSTFIX, "-c", str(self.etc), "stop", check=False)
            deadline = time.monotonic() + 15
            while pid and time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                if pid:  # the master of *our* instance only, by its pid file
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def reload(self) -> None:
        self._run(POSTFIX, "-c", str(self.etc), "reload")

    def postconf(self, **settings: str) -> None:
        """Change main.cf (`postconf -c ETC -e`) and reload; smtpd picks it up on the
        next connection."""
        self._run(POSTCONF, "-c", str(self.etc), "-e",
                  *(f"{k} = {v}" for k, v in settings.items()))
        self.reload()

    def __enter__(self) -> Postfix:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------ looking at it

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def queue(self) -> list[dict]:
        """`postqueue -j`: one dict per queued message (queue_name, recipients, …)."""
        p = self._run(POSTQUEUE, "-c", str(self.etc), "-j")
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    def flush(self) -> None:
        """`postqueue -f`: retry every deferred message now."""
        self._run(POSTQUEUE, "-c", str(self.etc), "-f")

    def wait_for(self, what, timeout: float = 20.0, why: str = ""):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = what()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out {why}; postfix queue: {self.queue()}\n"
                             f"--- maillog ---\n{self.log()[-4000:]}")

    def wait_empty(self, timeout: float = 20.0) -> None:
        self.wait_for(lambda: not self.queue(), timeout, "waiting for an empty queue")

    def wait_log(self, text: str, timeout: float = 20.0) -> str:
        self.wait_for(lambda: text in self.log(), timeout, f"waiting for {text!r} in the log")
        return self.log()


@contextlib.contextmanager
def running_postfix(**kw: object) -> Iterator[Postfix]:
    mta = Postfix(**kw)  # type: ignore[arg-type]
    with mta:
        yield mta


# ---------------------------------------------------------------- an SMTP sink


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes


class Sink:
    """An aiosmtpd server on a free loopback port that keeps what it is given:
    the far end of Postfix's outgoing routes (clients' and staff's mailboxes)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.received: list[Received] = []
        self.port = _free_port()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
                sink.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                              envelope.original_content or b""))
                return "250 2.0.0 OK: kept by the test sink"

        self._ctl = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                               server_hostname="sink.test.invalid")

    def __enter__(self) -> Sink:
        self._ctl.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ctl.stop()

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


__all__ = ["Postfix", "Received", "Sink", "running_postfix", "skip_reason"]
