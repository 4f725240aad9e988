"""SpamAssassin's spamd over its own protocol (SPAMC/1.5), done by hand.

The protocol is a request line, a few headers, a blank line and the letter; spamd
answers a status line ("SPAMD/1.1 0 EX_OK"), a `Spam: True ; 15.2 / 5.0` header
and, for SYMBOLS, the names of the rules that fired. That is some forty lines over
a socket; the kept Python client (aiospamc) is asyncio-only and would bring an
event loop into the pipeline's worker for one request. `TELL` teaches its Bayes
(what `sa-learn` does, over the same socket; spamd must run with --allow-tell).
"""

from __future__ import annotations

import socket

from daemon.scan.sockets import ScannerAway, connect, read_all
from daemon.scan.verdict import SpamVerdict, from_spamd


def _request(address: tuple[str, str, int], head: list[str], body: bytes,
             timeout: float) -> tuple[str, dict[str, str], bytes]:
    lines = [*head, f"Content-length: {len(body)}"] if body or head[0].startswith(
        ("SYMBOLS", "TELL", "CHECK")) else head
    try:
        with connect(address, timeout) as sock:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body)
            sock.shutdown(socket.SHUT_WR)
            reply = read_all(sock)
    except OSError as exc:
        raise ScannerAway(f"spamd: {type(exc).__name__}: {exc}") from exc
    head_part, _, rest = reply.partition(b"\r\n\r\n")
    first, *header_lines = head_part.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    parts = first.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("SPAMD/") or parts[1] != "0":
        raise ScannerAway(f"spamd: {first[:200] or 'no answer'}")
    return first, headers, rest


def check(address: tuple[str, str, int], raw: bytes, user: str, timeout: float
          ) -> SpamVerdict:
    head = ["SYMBOLS SPAMC/1.5"] + ([f"User: {user}"] if user else [])
    _, headers, body = _request(address, head, raw, timeout)
    if "spam" not in headers:
        raise ScannerAway("spamd: no Spam header in its answer")
    return from_spamd(headers["spam"], body.decode("utf-8", "replace"))


def learn(address: tuple[str, str, int], raw: bytes, spam: bool, user: str,
          timeout: float) -> str:
    head = ["TELL SPAMC/1.5", f"Message-class: {'spam' if spam else 'ham'}", "Set: local"]
    head += [f"User: {user}"] if user else []
    try:
        _, headers, _ = _request(address, head, raw, timeout)
    except ScannerAway as exc:
        return f"not learned: {exc}"
    if "didset" in headers or "didremove" in headers:
        return "learned"
    return "not learned: spamd changed nothing (known already, or its Bayes is off)"


def ping(address: tuple[str, str, int], timeout: float) -> str:
    first, _, _ = _request(address, ["PING SPAMC/1.5"], b"", timeout)
    return first
