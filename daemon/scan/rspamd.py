"""rspamd over its HTTP protocol: /checkv2 to scan, the controller to learn.

https://rspamd.com/doc/developers/protocol.html: the letter is the POST body, the
envelope goes in request headers (From: the SMTP sender, IP: the client's address,
Helo, Rcpt: one per recipient), the answer is JSON. The stdlib's http.client is all
it takes: one request per letter, a bounded timeout, no dependency to keep.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from daemon.scan.sockets import ScannerAway
from daemon.scan.verdict import SpamVerdict, from_rspamd


def _post(url: str, path: str, body: bytes, headers: list[tuple[str, str]], timeout: float
          ) -> tuple[int, bytes]:
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.putrequest("POST", parts.path.rstrip("/") + path)
        for name, value in [*headers, ("Content-Length", str(len(body)))]:
            conn.putheader(name, value)  # Rcpt may come more than once
        conn.endheaders(body)
        reply = conn.getresponse()
        return reply.status, reply.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ScannerAway(f"rspamd at {url}: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()


def envelope_headers(mail_from: str | None, peer: str, helo: str,
                     rcpt_to: tuple[str, ...]) -> list[tuple[str, str]]:
    """The envelope as rspamd's request headers; a header value never holds a line end."""
    def clean(text: str) -> str:
        return " ".join(text.split())[:500]

    headers = [("From", clean(mail_from))] if mail_from is not None else []
    headers += [("IP", clean(peer))] if peer else []
    headers += [("Helo", clean(helo))] if helo else []
    return headers + [("Rcpt", clean(r)) for r in rcpt_to[:20]]


def check(url: str, raw: bytes, envelope: list[tuple[str, str]], timeout: float
          ) -> SpamVerdict:
    status, body = _post(url, "/checkv2", raw, envelope, timeout)
    if status != 200:
        raise ScannerAway(f"rspamd at {url}: HTTP {status}: {body[:200]!r}")
    try:
        reply: dict[str, Any] = json.loads(body)
    except ValueError as exc:
        raise ScannerAway(f"rspamd at {url}: not JSON: {body[:200]!r}") from exc
    if "error" in reply:
        raise ScannerAway(f"rspamd at {url}: {reply['error']}")
    return from_rspamd(reply)


def learn(controller: str, password: str, raw: bytes, spam: bool, timeout: float) -> str:
    """Teach rspamd's Bayes: "learned", or what rspamd said against it."""
    headers = [("Password", password)] if password else []
    status, body = _post(controller, "/learnspam" if spam else "/learnham", raw, headers,
                         timeout)
    text = body.decode("utf-8", "replace")[:300]
    if status == 200:
        return "learned"
    if status == 208:  # https://rspamd.com/doc/developers/protocol.html#controller-http-endpoints
        return "learned before"
    return f"not learned: HTTP {status}: {text or 'no answer (is Bayes on Redis set up?)'}"


def ping(url: str, timeout: float) -> str:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                      timeout=timeout)
    try:
        conn.request("GET", parts.path.rstrip("/") + "/ping")
        reply = conn.getresponse()
        return reply.read().decode("ascii", "replace").strip()
    except (OSError, http.client.HTTPException) as exc:
        raise ScannerAway(f"rspamd at {url}: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
