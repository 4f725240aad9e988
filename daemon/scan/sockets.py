"""Connecting to a scanner: 'unix:PATH' or 'tcp:HOST:PORT', with a bounded timeout."""

from __future__ import annotations

import socket


class ScannerAway(Exception):  # noqa: N818 - a state of the world, not a bug
    """The scanner cannot be reached, timed out or answered nonsense: try again later.
    `rested`: it was not asked at all, having failed a moment ago (`Scanners`)."""

    rested = False


def connect(address: tuple[str, str, int], timeout: float) -> socket.socket:
    kind, where, port = address
    try:
        if kind == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(where)
            except BaseException:
                sock.close()
                raise
            return sock
        return socket.create_connection((where, port), timeout=timeout)
    except OSError as exc:
        raise ScannerAway(f"{kind}:{where}{f':{port}' if port else ''}: {exc}") from exc


def read_all(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    """Everything until the scanner closes the connection (or `limit` bytes)."""
    chunks, size = [], 0
    while size < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
