"""A local OAuth2 provider for the tests: a token endpoint and an introspection endpoint.

`TokenEndpoint` listens on 127.0.0.1 (a free port) in a thread of the test:

- ``POST /token`` (RFC 6749 §6) trades a refresh token it issued for an access token
  living `expires_in` seconds, and with `rotate` a new refresh token, the old one
  then refused (stricter than Microsoft, so a token not written back shows);
  a refused one gets 400 ``invalid_grant``, a wrong client 401 ``invalid_client``;
- ``POST /introspect`` (RFC 7662) says whether an access token is active and whose
  it is: Dovecot's `oauth2` passdb asks it, and the SMTP relay of the tests too.

What it saw is kept: `refreshes` (when, with which refresh token), `introspected`.
`revoke()` refuses every refresh token (the password was changed, consent revoked);
`fail_next(n)` answers the next n requests to /token with 503.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Refresh:
    at: float  # time.monotonic() when it was answered
    refresh_token: str
    scope: str
    access_token: str  # "" when refused
    expires_at: float


class TokenEndpoint:
    def __init__(self, user: str, *, client_id: str = "supportd-test",
                 client_secret: str = "", expires_in: int = 3600,
                 rotate: bool = False) -> None:
        self.user = user
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.rotate = rotate
        self.first_refresh_token = "rt-" + secrets.token_urlsafe(12)
        self.refresh_tokens = {self.first_refresh_token}
        self.access: dict[str, float] = {}  # access token -> expiry (monotonic)
        self.refreshes: list[Refresh] = []
        self.introspected: list[str] = []
        self.failing = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    @property
    def introspection_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/introspect"

    def start(self) -> TokenEndpoint:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    # ------------------------------------------------------------ the test's levers

    def revoke(self) -> None:
        with self.lock:
            self.refresh_tokens.clear()

    def grant(self) -> str:
        """A new refresh token, as an administrator would fetch after a revocation."""
        token = "rt-" + secrets.token_urlsafe(12)
        with self.lock:
            self.refresh_tokens.add(token)
        return token

    def fail_next(self, n: int) -> None:
        with self.lock:
            self.failing = n

    def valid(self, access_token: str) -> bool:
        with self.lock:
            expires_at = self.access.get(access_token)
        return expires_at is not None and time.monotonic() < expires_at

    def granted(self) -> list[Refresh]:
        with self.lock:
            return [r for r in self.refreshes if r.access_token]

    # ------------------------------------------------------------ answers

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.failing:
                self.failing -= 1
                return 503, {"error": "temporarily_unavailable"}
            if form.get("client_id") != self.client_id or \
                    form.get("client_secret", "") != self.client_secret:
                return 401, {"error": "invalid_client", "error_description": "unknown client"}
            if form.get("grant_type") != "refresh_token":
                return 400, {"error": "unsupported_grant_type"}
            old = form.get("refresh_token", "")
            now = time.monotonic()
            if old not in self.refresh_tokens:
                self.refreshes.append(Refresh(now, old, form.get("scope", ""), "", 0.0))
                return 400, {"error": "invalid_grant",
                             "error_description": "AADSTS50173: The provided grant has "
                                                  "expired due to it being revoked.\r\n"
                                                  "Trace ID: 0000"}
            access = "at-" + secrets.token_urlsafe(16)
            self.access[access] = now + self.expires_in
            self.refreshes.append(Refresh(now, old, form.get("scope", ""), access,
                                          now + self.expires_in))
            answer: dict[str, Any] = {"access_token": access, "token_type": "Bearer",
                                      "expires_in": self.expires_in}
            if self.rotate:
                self.refresh_tokens.discard(old)
                new = "rt-" + secrets.token_urlsafe(12)
                self.refresh_tokens.add(new)
                answer["refresh_token"] = new
            return 200, answer

    def introspect(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        token = form.get("token", "")
        self.introspected.append(token)
        if not self.valid(token):
            return 200, {"active": False}
        return 200, {"active": True, "username": self.user, "token_type": "Bearer"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                path = self.path.split("?", 1)[0]
                if path == "/token":
                    status, answer = endpoint.token(form)
                elif path == "/introspect":
                    status, answer = endpoint.introspect(form)
                else:
                    status, answer = 404, {"error": "not_found"}
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


@contextmanager
def running_endpoint(user: str, **kw: Any) -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint(user, **kw).start()
    try:
        yield endpoint
    finally:
        endpoint.stop()
