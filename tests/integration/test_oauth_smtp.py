"""The outbox through a relay that takes only OAuth2 (SASL XOAUTH2 or OAUTHBEARER).

The relay is aiosmtpd on loopback with AUTH required; its XOAUTH2 and OAUTHBEARER
mechanisms take a bearer token only while the local OAuth2 provider
(tests/support/oauth_endpoint.py) says it is valid, and answer a bad one the way
Gmail and Microsoft do: a 334 challenge holding a JSON error, then 535.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select
from structlog.testing import capture_logs

from bench.harness.desk_config import free_port
from daemon.outbound import outbox
from daemon.storage.models import Outgoing
from tests.conftest import PROJECT, Desk, make_desk, simple_letter
from tests.support.oauth_endpoint import TokenEndpoint, running_endpoint

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]

USER = "techsupport@example.ru"


class OAuthRelay:
    """An aiosmtpd handler: AUTH by bearer token only; records logins and letters."""

    def __init__(self, endpoint: TokenEndpoint) -> None:
        self.endpoint = endpoint
        self.logins: list[tuple[str, str]] = []  # (mechanism, user) accepted
        self.refused: list[str] = []  # mechanisms whose token was refused
        self.received: list[tuple[str, list[str]]] = []

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:  # noqa: N802
        return await self._bearer(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: Any, args: list[str]) -> AuthResult:  # noqa: N802
        return await self._bearer(server, args, "OAUTHBEARER")

    async def _bearer(self, server: Any, args: list[str], mechanism: str) -> AuthResult:
        if len(args) == 2:
            blob = base64.b64decode(args[1])
        else:
            answer = await server.challenge_auth("")
            if not isinstance(answer, bytes):
                return AuthResult(success=False, handled=True)
            blob = answer
        fields = dict(f.split("=", 1) for f in blob.decode().split("\x01") if "=" in f)
        user = fields.get("user", "")
        if mechanism == "OAUTHBEARER":  # "n,a=USER," in front (RFC 7628 §3.1)
            user = blob.decode().split(",")[1].removeprefix("a=")
        token = fields.get("auth", "").removeprefix("Bearer ")
        if user == USER and self.endpoint.valid(token):
            self.logins.append((mechanism, user))
            return AuthResult(success=True, auth_data=user)
        self.refused.append(mechanism)
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}))
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and Password not accepted")

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    with running_endpoint(USER, client_secret="app-secret") as ep:
        yield ep


@pytest.fixture
def relay(endpoint: TokenEndpoint) -> Iterator[tuple[OAuthRelay, int]]:
    handler = OAuthRelay(endpoint)
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port, auth_required=True,
                     auth_require_tls=False)  # loopback: no TLS in the tests
    ctl.start()
    yield handler, port
    ctl.stop()


def oauth_desk(root: Path, port: int, endpoint: TokenEndpoint, auth: str = "xoauth2") -> Desk:
    (root / "oauth").mkdir(parents=True)
    refresh, secret = root / "oauth" / "smtp.refresh", root / "oauth" / "client.secret"
    refresh.write_text(endpoint.first_refresh_token + "\n", encoding="utf-8")
    secret.write_text("app-secret\n", encoding="utf-8")
    return make_desk(root, outbound=f"""transport = "smtp"
host = "127.0.0.1"
port = {port}
timeout = 5
username = "{USER}"
auth = "{auth}"
oauth_token_url = "{endpoint.token_url}"
oauth_client_id = "{endpoint.client_id}"
oauth_client_secret_file = "{secret}"
oauth_refresh_token_file = "{refresh}"
oauth_scope = "https://mail.google.com/"
""")


def flush(desk: Desk) -> outbox.FlushReport:
    """As the daemon's outbox thread and `supportd outbox flush` do: with the alarm."""
    transport = outbox.make_transport(desk.app.config.outbound,
                                      desk.app.token_alarm("outbound"))
    return outbox.flush(desk.app.outbox, transport, force=True)


def rows(desk: Desk) -> list[Outgoing]:
    with desk.app.sessions() as s:
        return list(s.scalars(select(Outgoing).order_by(Outgoing.id)))


@pytest.mark.parametrize("auth", ["xoauth2", "oauthbearer"])
def test_letters_leave_through_a_relay_that_takes_only_oauth2(
        tmp_path: Path, endpoint: TokenEndpoint, relay: tuple[OAuthRelay, int],
        auth: str) -> None:
    handler, port = relay
    desk = oauth_desk(tmp_path, port, endpoint, auth)
    desk.ingest(simple_letter("Не уходят письма"))
    queued = len(rows(desk))
    report = flush(desk)
    assert report.sent == queued >= 2 and report.deferred == 0
    assert len(handler.received) == queued
    assert handler.logins == [(auth.upper(), USER)] * queued  # one login per letter...
    [grant] = endpoint.granted()  # ...with one token
    assert grant.scope == "https://mail.google.com/"


def test_a_token_the_relay_refuses_is_renewed_for_the_next_attempt(
        tmp_path: Path, endpoint: TokenEndpoint, relay: tuple[OAuthRelay, int]) -> None:
    handler, port = relay
    desk = oauth_desk(tmp_path, port, endpoint)
    transport = outbox.make_transport(desk.app.config.outbound)
    desk.ingest(simple_letter("Первое"))
    assert outbox.flush(desk.app.outbox, transport, force=True).deferred == 0
    endpoint.access.clear()  # the provider revoked its access tokens before their time
    desk.ingest(simple_letter("Второе"))
    report = outbox.flush(desk.app.outbox, transport, force=True)
    assert report.deferred >= 1 and handler.refused  # refused once: the letter waits
    assert "535" in [r for r in rows(desk) if r.status == "queued"][0].last_error
    assert outbox.flush(desk.app.outbox, transport, force=True).deferred == 0
    assert len(endpoint.granted()) == 2 and all(r.status == "sent" for r in rows(desk))


def test_a_temporary_failure_of_the_token_endpoint_defers_and_backs_off(
        tmp_path: Path, endpoint: TokenEndpoint, relay: tuple[OAuthRelay, int]) -> None:
    _, port = relay
    desk = oauth_desk(tmp_path, port, endpoint)
    transport = outbox.make_transport(desk.app.config.outbound)
    desk.ingest(simple_letter("Сервер токенов занят"))
    endpoint.fail_next(1)
    report = outbox.flush(desk.app.outbox, transport, force=True)
    assert report.sent == 0 and report.deferred == len(rows(desk))
    assert all("temporarily_unavailable" in r.last_error for r in rows(desk))
    assert len(endpoint.refreshes) == 0 and endpoint.failing == 0  # asked once, then paused
    time.sleep(1.1)  # the token source's first pause
    assert outbox.flush(desk.app.outbox, transport, force=True).sent == len(rows(desk))
    assert not [r for r in rows(desk) if r.kind == "oauth-refused"]


def test_a_refused_refresh_token_defers_letters_and_tells_the_admins_once(
        tmp_path: Path, endpoint: TokenEndpoint, relay: tuple[OAuthRelay, int]) -> None:
    handler, port = relay
    desk = oauth_desk(tmp_path, port, endpoint)
    desk.ingest(simple_letter("Письмо при отозванном токене"))
    endpoint.revoke()
    transport = outbox.make_transport(desk.app.config.outbound,
                                      desk.app.token_alarm("outbound"))
    with capture_logs() as logs:
        first = outbox.flush(desk.app.outbox, transport, force=True)
        second = outbox.flush(desk.app.outbox, transport, force=True)
    assert first.sent == second.sent == 0 and not handler.received
    assert len([e for e in logs if e["event"] == "oauth.renewal_failed"]) == 1
    told = [r for r in rows(desk) if r.kind == "oauth-refused"]
    assert [(r.recipient, r.status) for r in told] == [("head@example.ru", "queued")]
    assert told[0].subject == ("Остановлена отправка писем (SMTP): не обновляется токен "
                               "OAuth2 для techsupport@example.ru")
    assert all("invalid_grant" in r.last_error for r in rows(desk) if r.attempts)
    flush(desk)  # a new transport (a reload, `outbox flush`): still one letter (the marker)
    assert len([r for r in rows(desk) if r.kind == "oauth-refused"]) == 1

    probe = subprocess.run([sys.executable, "-m", "daemon.cli", "--config",
                            str(desk.config_path), "check-config", "--probe"],
                           capture_output=True, text=True, timeout=120, cwd=PROJECT)
    assert probe.returncode == 78
    [line] = probe.stderr.strip().splitlines()
    assert line.startswith(f"relay: 127.0.0.1:{port} (xoauth2 as {USER}): the OAuth2 token "
                           "can no longer be renewed:") and "invalid_grant" in line

    refresh = tmp_path / "oauth" / "smtp.refresh"
    refresh.write_text(endpoint.grant() + "\n", encoding="utf-8")
    report = flush(desk)
    assert report.deferred == 0 and all(r.status == "sent" for r in rows(desk))
