"""The thin MTA pipe: `supportd ingest` hands a letter to the running daemon.

A running `supportd run` listens on a Unix socket in its spool folder,
`SPOOL/supportd.sock` (daemon/service/doorbell.py). When `supportd ingest` finds
it answering, the letter takes the listener's path instead of the pipeline's:
written to `incoming/` with `Spool.accept` (fsync of the file, rename, fsync of
the folder, exactly what is behind the listener's 250), the daemon told, exit 0.
Nothing of the pipeline, the database or the templates is imported, so a letter
costs the interpreter's start and one fsync instead of a whole desk's start-up.

The conversation, one line each way, twice:

    -> HELLO                      <- 250 MAX_MESSAGE_SIZE   (or 451 REASON: exit 75)
    -> QUEUED SPOOL_ID SIZE       <- 250 OK                 (the workers are woken)

No socket, or nobody behind it (a daemon that stopped or was killed leaves the
file): `ingest` processes the letter in its own process, as without a daemon.
A daemon that stops after the HELLO finds the letter in `incoming/` when it
starts again; the letter was durable before the exit 0. This module imports only
the standard library and the spool (tests/unit/cli/test_startup_imports.py).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from daemon.storage.spool import Envelope, Spool

SOCKET_NAME = "supportd.sock"
HELLO_TIMEOUT = 10.0  # seconds for the daemon's first answer (it may be busy)
QUEUED_TIMEOUT = 5.0  # after the letter is durable nothing is lost by waiting less
SUN_PATH_MAX = 107  # sockaddr_un's sun_path, less its terminating NUL (Linux)

EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75


def socket_path(spool_root: Path) -> Path:
    return spool_root / SOCKET_NAME


@contextlib.contextmanager
def reachable(path: Path) -> Iterator[str]:
    """`path` as a socket address: itself, or, when it is longer than sun_path can
    hold, the same file through /proc/self/fd of its open folder (Linux)."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def refusal(raw: bytes, limit: int) -> str | None:
    """Why a letter is refused for good (exit 65, SMTP 5xx), or None."""
    if not raw or raw.isspace():  # not raw.strip(): a copy of the whole letter
        return "5.6.0 Empty message"
    if len(raw) > limit:
        return f"5.3.4 Message too big: {len(raw)} bytes, the limit is {limit}"
    return None


def envelope_from_environment(source: str = "ingest") -> Envelope:
    """SENDER/RECIPIENT as Postfix local(8) and procmail-style wrappers set them;
    pipe(8) passes them as arguments instead (`--sender ${sender}`)."""
    rcpt = os.environ.get("RECIPIENT", "")
    return Envelope(source=source, mail_from=os.environ.get("SENDER"),
                    rcpt_to=(rcpt,) if rcpt else ())


def envelope_for(sender: str | None, recipient: str | None) -> Envelope:
    """The environment's envelope, with what the command line said over it."""
    env = envelope_from_environment()
    return Envelope(env.source, sender if sender is not None else env.mail_from,
                    (recipient,) if recipient else env.rcpt_to)


class Doorbell:
    """The client's end of the conversation above."""

    def __init__(self, spool_root: Path) -> None:
        self.path = socket_path(spool_root)
        self.sock: socket.socket | None = None
        self.file: BinaryIO | None = None

    def hello(self) -> str | None:
        """The daemon's answer to HELLO, or None when no daemon answers."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(HELLO_TIMEOUT)
        try:
            with reachable(self.path) as address:
                sock.connect(address)
            sock.sendall(b"HELLO\n")
            self.file = sock.makefile("rb")
            line = self.file.readline(1024)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            sock.close()
            return None  # no daemon, or one that is gone and left its socket file
        except OSError:
            sock.close()
            raise
        if not line:
            sock.close()
            return None
        self.sock = sock
        return line.decode("ascii", "replace").strip()

    def queued(self, spool_id: str, size: int) -> bool:
        """Tell the daemon; False when it did not say it heard (the letter waits)."""
        assert self.sock is not None and self.file is not None
        try:
            self.sock.settimeout(QUEUED_TIMEOUT)
            self.sock.sendall(f"QUEUED {spool_id} {size}\n".encode())
            return self.file.readline(1024).startswith(b"250")
        except OSError:
            return False

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.sock is not None:
            self.sock.close()


def read_letter(file: str | None) -> bytes:
    """The letter from FILE, or from stdin for None or "-"."""
    if file in (None, "-"):
        import sys

        return sys.stdin.buffer.read()
    return Path(file).read_bytes()


def hand_over(spool_root: Path, file: str | None, envelope: Envelope,
              now: datetime | None = None) -> tuple[int, str] | None:
    """`supportd ingest` through a running daemon: (exit code, line to print), or
    None when no daemon answers (then nothing was read and nothing written).
    `now`: when it was received (`--now`; the real time by default).
    Raises OSError when FILE cannot be read."""
    bell = Doorbell(spool_root)
    try:
        try:
            answer = bell.hello()
        except OSError as exc:  # it is there and did not answer in time
            return EX_TEMPFAIL, f"temporary failure, try again later: daemon: {exc}"
        if answer is None:
            return None
        code, _, rest = answer.partition(" ")
        if code != "250" or not rest.isdigit():
            return EX_TEMPFAIL, f"temporary failure, try again later: {rest or answer}"
        raw = read_letter(file)
        why = refusal(raw, int(rest))
        if why is not None:
            return EX_DATAERR, f"refused: {why}"
        try:
            spooled = Spool(spool_root).accept(raw, envelope, now=now)
        except OSError as exc:
            return EX_TEMPFAIL, f"temporary failure, try again later: spool: {exc}"
        bell.queued(spooled.spool_id, len(raw))  # unheard: the workers' timer finds it
        return EX_OK, f"queued {spooled.spool_id} (the running daemon processes it)"
    finally:
        bell.close()
