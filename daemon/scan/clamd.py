"""clamd's INSTREAM command, done by hand (the pyclamd and clamd clients are unkept).

clamd(8): `zINSTREAM\\0`, then the data in chunks, each preceded by its length as
four bytes in network order, and a zero-length chunk to end it; clamd answers one
NUL-terminated line: "stream: OK", "stream: Eicar-Test-Signature FOUND" or
"... ERROR" (a stream past its StreamMaxLength, for one). `zPING` answers "PONG",
`zVERSION` the engine and database versions.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable

from daemon.scan.sockets import ScannerAway, connect

CHUNK = 64 * 1024


def _reply(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\0"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.rstrip(b"\0").decode("utf-8", "replace").strip()


def _command(address: tuple[str, str, int], command: bytes, timeout: float) -> str:
    try:
        with connect(address, timeout) as sock:
            sock.sendall(b"z" + command + b"\0")
            return _reply(sock)
    except OSError as exc:
        raise ScannerAway(f"clamd: {type(exc).__name__}: {exc}") from exc


def ping(address: tuple[str, str, int], timeout: float) -> str:
    return _command(address, b"PING", timeout)


def version(address: tuple[str, str, int], timeout: float) -> str:
    return _command(address, b"VERSION", timeout)


def scan(address: tuple[str, str, int], data: Iterable[bytes], timeout: float
         ) -> str | None:
    """The signature clamd found in the content (its pieces, in order), or None when
    it is clean. ScannerAway when clamd cannot be asked or cannot answer (a stream
    over its StreamMaxLength among them)."""
    try:
        with connect(address, timeout) as sock:
            sock.sendall(b"zINSTREAM\0")
            for block in data:
                view = memoryview(block)
                for start in range(0, len(view), CHUNK):
                    piece = view[start:start + CHUNK]
                    sock.sendall(struct.pack("!L", len(piece)) + piece)
            sock.sendall(struct.pack("!L", 0))
            answer = _reply(sock)
    except OSError as exc:
        raise ScannerAway(f"clamd: {type(exc).__name__}: {exc}") from exc
    if answer.endswith("FOUND"):
        return answer.removeprefix("stream:").removesuffix("FOUND").strip()
    if answer.endswith("OK"):
        return None
    raise ScannerAway(f"clamd: {answer or 'no answer'}")
