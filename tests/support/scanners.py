"""Real scanners for the tests: rspamd, clamd and spamd, each on 127.0.0.1 free ports
with a throw-away config in a temporary folder, started by the test and stopped by it.

The system's own instances (the Debian packages start them where systemd runs) are
neither read nor touched: every path, port and database is the test's. rspamd asks
DNS a lot; here it asks a stub on loopback that says NXDOMAIN at once (no network, no
timeouts). clamd loads only the signature database the test writes (an MD5 `.hdb`
line for the EICAR test file): no freshclam, no network.

A program that is not installed skips the test with one line.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness.desk_config import free_port
from tests.support.dns_stub import DnsStub

# The test strings every scanner knows (https://spamassassin.apache.org/gtube/,
# https://www.eicar.org/download-anti-malware-testfile/).
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def _wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float, what: str,
               log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}): "
                               f"{log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not listen on {port} in {seconds:g}s: "
                       f"{log.read_text(errors='replace')[-2000:]}")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def _as_root() -> list[str]:
    return ["-u", "root", "-g", "root"] if os.geteuid() == 0 else []


class Rspamd:
    """rspamd 3.x: a normal worker (scans) and a controller (learns), on free ports;
    its Bayes on a Redis of its own when redis-server is installed (else it cannot
    learn, and says so)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="supportd-rspamd-"))
        self.port, self.controller_port = free_port(), free_port()
        self.dns = DnsStub().start()
        self.proc: subprocess.Popen[bytes] | None = None
        self.redis: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def controller(self) -> str:
        return f"http://127.0.0.1:{self.controller_port}"

    def start(self) -> Rspamd:
        d = self.dir
        for sub in ("local.d", "override.d", "db", "run", "log"):
            (d / sub).mkdir()
        (d / "override.d/worker-normal.inc").write_text(
            f'bind_socket = "127.0.0.1:{self.port}";\ncount = 1;\n')
        (d / "override.d/worker-controller.inc").write_text(
            f'bind_socket = "127.0.0.1:{self.controller_port}";\ncount = 1;\n'
            'password = "test";\nenable_password = "test";\nsecure_ip = "127.0.0.1";\n')
        (d / "override.d/worker-proxy.inc").write_text(
            f'bind_socket = "127.0.0.1:{free_port()}";\ncount = 0;\n')
        (d / "override.d/logging.inc").write_text(
            f'type = "file";\nfilename = "{d}/log/rspamd.log";\nlevel = "warning";\n')
        (d / "local.d/options.inc").write_text(
            f'dns {{ nameserver = ["127.0.0.1:{self.dns.port}"]; timeout = 1s; '
            'retransmits = 1; }\n')
        redis = shutil.which("redis-server")
        if redis:
            redis_port = free_port()
            self.redis = subprocess.Popen(
                [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(d / "db")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            (d / "local.d/redis.conf").write_text(f'servers = "127.0.0.1:{redis_port}";\n')
            (d / "local.d/classifier-bayes.conf").write_text(
                "min_learns = 1;\nautolearn = false;\n")
        else:  # no Redis: rspamd's Redis modules are off, and learning says why
            (d / "local.d/redis.conf").write_text("")
        args = ["rspamd", "-f", *_as_root(), "-c", "/etc/rspamd/rspamd.conf",
                f"--var=LOCAL_CONFDIR={d}", f"--var=DBDIR={d}/db", f"--var=RUNDIR={d}/run",
                f"--var=LOGDIR={d}/log"]
        log = d / "stdout.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        _wait_port(self.port, self.proc, 120, "rspamd", log)
        _wait_port(self.controller_port, self.proc, 60, "rspamd controller", log)
        return self

    @property
    def learns(self) -> bool:
        return self.redis is not None

    def stop(self) -> None:
        _stop(self.proc)
        _stop(self.redis)
        self.dns.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def require(program: str, package: str) -> None:
    if shutil.which(program) is None and not Path(f"/usr/sbin/{program}").exists():
        pytest.skip(f"{program} not installed (apt-get install {package})")


@contextlib.contextmanager
def rspamd_running() -> Iterator[Rspamd]:
    require("rspamd", "rspamd")
    server = Rspamd()
    try:
        yield server.start()
    finally:
        server.stop()


class Clamd:
    """clamd with one signature: the EICAR test file's MD5 (`eicar.hdb`)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="supportd-clamd-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    def start(self) -> Clamd:
        d = self.dir
        (d / "db").mkdir(exist_ok=True)
        md5 = hashlib.md5(EICAR).hexdigest()  # noqa: S324 - clamd's .hdb format is MD5
        (d / "db" / "eicar.hdb").write_text(f"{md5}:{len(EICAR)}:Supportd.Test.EICAR\n")
        user = "root" if os.geteuid() == 0 else os.environ.get("USER", "")
        (d / "clamd.conf").write_text(
            f"Foreground yes\nDatabaseDirectory {d}/db\nTCPSocket {self.port}\n"
            f"TCPAddr 127.0.0.1\nLogFile {d}/clamd.log\nPidFile {d}/clamd.pid\n"
            f"User {user}\nStreamMaxLength 30M\nScanArchive yes\n"
            f"LocalSocket {d}/clamd.sock\n")
        log = d / "stdout.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [shutil.which("clamd") or "/usr/sbin/clamd", "-c", str(d / "clamd.conf")],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_port(self.port, self.proc, 120, "clamd", log)
        return self

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Spamd:
    """SpamAssassin's spamd with the shipped rules, no network tests, its own Bayes."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="supportd-spamd-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    def start(self) -> Spamd:
        d = self.dir
        site, home = d / "site", d / "home"
        site.mkdir()
        home.mkdir()
        os.chmod(d, 0o755)
        os.chmod(home, 0o777)  # spamd's children run as nobody under root
        for pre in Path("/etc/spamassassin").glob("*.pre"):
            shutil.copy(pre, site / pre.name)
        (site / "local.cf").write_text(
            f"skip_rbl_checks 1\ndns_available no\nuse_bayes 1\nbayes_auto_learn 0\n"
            f"bayes_path {home}/bayes\nbayes_file_mode 0777\nbayes_min_spam_num 1\n"
            "bayes_min_ham_num 1\n")
        args = ["spamd", f"--listen=127.0.0.1:{self.port}", "--max-children=1",
                f"--siteconfigpath={site}", "--nouser-config", f"--helper-home-dir={home}",
                f"--pidfile={d}/spamd.pid", "--syslog=stderr", "--allow-tell"]
        if os.geteuid() == 0:
            args.append("--username=nobody")
        log = d / "stdout.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([shutil.which("spamd") or "/usr/sbin/spamd", *args[1:]],
                                         stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        _wait_port(self.port, self.proc, 120, "spamd", log)
        return self

    def close(self) -> None:
        _stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def spamd_running() -> Iterator[Spamd]:
    require("spamd", "spamd")
    server = Spamd()
    try:
        yield server.start()
    finally:
        server.close()


@contextlib.contextmanager
def clamd_running() -> Iterator[Clamd]:
    require("clamd", "clamav-daemon")
    server = Clamd()
    try:
        yield server.start()
    finally:
        server.close()
