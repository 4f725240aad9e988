"""A mailbox that takes only OAuth2: letters read, tokens renewed, a refused token told once.

A throw-away Dovecot (tests/support/dovecot.py) checks every XOAUTH2 / OAUTHBEARER
login against a local OAuth2 provider (tests/support/oauth_endpoint.py) by token
introspection, as its `oauth2` passdb does against Microsoft's or Google's. The desk
holds a refresh token in a file, as an administrator leaves it; nothing here talks
to the internet. Skipped, with the reason, where Dovecot is not installed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from bench.harness.desk_config import STAFF
from daemon.app import App
from daemon.config import loader as config_mod
from daemon.intake.imap_poller import MARKER, ImapPoller
from daemon.outbound import outbox
from daemon.outbound.oauth2 import OAuthError
from daemon.storage import db
from daemon.storage.models import Outgoing, Ticket
from tests.conftest import PROJECT
from tests.integration.test_imap import CLIENT, letter
from tests.support.dovecot import Dovecot, running_dovecot
from tests.support.oauth_endpoint import TokenEndpoint, running_endpoint

pytestmark = pytest.mark.integration


@dataclass
class OAuthDesk:
    app: App
    config: Path
    refresh_file: Path
    dovecot: Dovecot
    endpoint: TokenEndpoint

    def poller(self) -> ImapPoller:
        return ImapPoller(self.app, lambda: False, lambda: None)

    def admin_letters(self) -> list[Outgoing]:
        with self.app.sessions() as s:
            return list(s.scalars(select(Outgoing).where(Outgoing.kind == "oauth-refused")))

    def probe(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(self.config),
                               "check-config", "--probe"],
                              capture_output=True, text=True, timeout=120, cwd=PROJECT)


def write_desk(root: Path, server: Dovecot, endpoint: TokenEndpoint, auth: str,
               shared: bool = False) -> OAuthDesk:
    root.mkdir(parents=True, exist_ok=True)
    (root / "oauth").mkdir()
    refresh = root / "oauth" / "imap.refresh"
    refresh.write_text(endpoint.first_refresh_token + "\n", encoding="utf-8")
    refresh.chmod(0o600)
    scope = "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
    # shared: the relay logs in with the same refresh token (one token, both scopes).
    outbound = f"""transport = "smtp"
host = "127.0.0.1"
port = {server.port}
username = "{server.user}"
auth = "{auth}"
oauth_token_url = "{endpoint.token_url}"
oauth_client_id = "{endpoint.client_id}"
oauth_refresh_token_file = "{refresh}"
oauth_scope = "{scope}"
""" if shared else f'transport = "maildir"\nmaildir = "{root}/outbox"\n'
    path = root / "supportd.toml"
    path.write_text(f"""[service]
address = "techsupport@example.ru"

[storage]
url = "sqlite:///{root}/supportd.db"
spool = "{root}/spool"

[smtp]
enabled = false

[imap]
enabled = true
host = "{server.host}"
port = {server.port}
ssl = false
username = "{server.user}"
auth = "{auth}"
oauth_token_url = "{endpoint.token_url}"
oauth_client_id = "{endpoint.client_id}"
oauth_refresh_token_file = "{refresh}"
oauth_scope = "{scope}"
idle = false
poll_interval = 1

[outbound]
{outbound}
[logging]
format = "json"
{STAFF}""", encoding="utf-8")
    cfg = config_mod.load(path)
    db.upgrade(cfg.storage.url)
    app = App(cfg)
    app.spool.ensure()
    return OAuthDesk(app, path, refresh, server, endpoint)


@contextmanager
def oauth_desk(root: Path, auth: str = "xoauth2", shared: bool = False,
               **endpoint_kw: object) -> Iterator[OAuthDesk]:
    Dovecot.require()
    with running_endpoint("support", **endpoint_kw) as endpoint, \
            running_dovecot(oauth2_introspection_url=endpoint.introspection_url) as server:
        desk = write_desk(root, server, endpoint, auth, shared)
        try:
            yield desk
        finally:
            desk.app.close()


@pytest.mark.parametrize("auth", ["xoauth2", "oauthbearer"])
def test_a_letter_is_read_with_oauth2_and_acknowledged(tmp_path: Path, auth: str) -> None:
    with oauth_desk(tmp_path, auth) as desk:
        uid = desk.dovecot.deliver(letter("Не приходят счета"))
        poller = desk.poller()
        try:
            assert poller.poll_once() == 1
        finally:
            poller.disconnect()
        with desk.app.sessions() as s:
            assert [t.subject for t in s.scalars(select(Ticket))] == ["Не приходят счета"]
        assert MARKER in desk.dovecot.flags()[uid]
        outbox.flush(desk.app.outbox, outbox.make_transport(desk.app.config.outbound),
                     force=True)
        acks = [p for p in (tmp_path / "outbox" / "new").iterdir()
                if f"To: {CLIENT}" in p.read_text(encoding="utf-8", errors="replace")]
        assert len(acks) == 1
        [grant] = desk.endpoint.granted()
        assert grant.scope == "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
        assert f"user=<support>, method={auth.upper()}" in desk.dovecot.log()


def test_the_access_token_is_renewed_before_it_expires(tmp_path: Path) -> None:
    # A 4-second token: renewed once 3 seconds of it are gone (a quarter of its life
    # is the margin when that is under five minutes).
    with oauth_desk(tmp_path, expires_in=4) as desk:
        poller = desk.poller()
        poller.connect()
        poller.disconnect()
        poller.connect()  # at once: the token in hand serves
        poller.disconnect()
        [first] = desk.endpoint.granted()
        time.sleep(max(0.0, first.at + 3.2 - time.monotonic()))
        poller.connect()
        poller.disconnect()
        first_again, second = desk.endpoint.granted()
        assert first_again == first and second.at < first.expires_at  # before it expired
        time.sleep(max(0.0, first.expires_at + 0.2 - time.monotonic()))
        assert not desk.endpoint.valid(first.access_token)  # the server would refuse it now
        desk.dovecot.deliver(letter("После продления токена"))
        try:
            assert poller.poll_once() == 1  # logged in with the renewed token
        finally:
            poller.disconnect()
        assert len(desk.endpoint.granted()) == 2


def test_a_rotated_refresh_token_is_written_back_and_used(tmp_path: Path) -> None:
    with oauth_desk(tmp_path, rotate=True) as desk:
        poller = desk.poller()
        poller.connect()
        poller.disconnect()
        held = desk.refresh_file.read_text(encoding="utf-8").strip()
        assert held != desk.endpoint.first_refresh_token
        assert desk.endpoint.refresh_tokens == {held}  # the first one is dead now
        # A restarted daemon reads the file: the rotated token is what it trades.
        desk.dovecot.deliver(letter("После перезапуска"))
        again = desk.poller()
        try:
            assert again.poll_once() == 1
        finally:
            again.disconnect()
        assert desk.endpoint.refreshes[-1].refresh_token == held
        assert desk.endpoint.refresh_tokens == {desk.refresh_file.read_text().strip()}


def test_a_refused_refresh_token_is_logged_told_once_and_fails_the_probe(
        tmp_path: Path) -> None:
    with oauth_desk(tmp_path) as desk:
        desk.dovecot.deliver(letter("Письмо ждёт в ящике"))
        desk.endpoint.revoke()
        poller = desk.poller()
        with capture_logs() as logs:
            for _ in range(3):
                with pytest.raises(OAuthError):
                    poller.poll_once()
        failed = [e for e in logs if e["event"] == "oauth.renewal_failed"]
        assert len(failed) == 1 and "invalid_grant" in failed[0]["error"]
        assert failed[0]["log_level"] == "error" and failed[0]["section"] == "imap"
        [told] = desk.admin_letters()
        assert told.recipient == "head@example.ru" and told.ticket_id is None
        assert told.subject == ("Остановлено чтение почты (IMAP): не обновляется токен "
                                "OAuth2 для support")
        # A restart asks the endpoint again, and tells nobody again.
        with pytest.raises(OAuthError):
            desk.poller().poll_once()
        assert len([r for r in desk.endpoint.refreshes if not r.access_token]) == 2
        assert len(desk.admin_letters()) == 1

        probe = desk.probe()
        assert probe.returncode == 78 and probe.stdout.startswith("config ok:")
        [line] = probe.stderr.strip().splitlines()
        assert line.startswith(f"imap: support at 127.0.0.1:{desk.dovecot.port} (xoauth2): "
                               "the OAuth2 token can no longer be renewed:")
        assert "invalid_grant" in line

        # The administrator puts a new token in the file: no restart needed.
        desk.refresh_file.write_text(desk.endpoint.grant() + "\n", encoding="utf-8")
        assert poller.poll_once() == 1
        poller.disconnect()
        assert not Path(f"{desk.refresh_file}.refused").exists()
        ok = desk.probe()
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.splitlines()[1].endswith("(xoauth2): ok, INBOX holds 1 messages")


def test_the_letter_to_the_head_of_support_says_what_to_do(tmp_path: Path) -> None:
    with oauth_desk(tmp_path) as desk:
        desk.endpoint.revoke()
        with pytest.raises(OAuthError):
            desk.poller().poll_once()
        outbox.flush(desk.app.outbox, outbox.make_transport(desk.app.config.outbound),
                     force=True)
        import email
        import email.policy

        [raw] = [p.read_bytes() for p in (tmp_path / "outbox" / "new").iterdir()]
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["To"] == "head@example.ru" and msg["Auto-Submitted"] == "auto-generated"
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "не может обновить токен доступа OAuth2 к ящику support" in text
        assert "invalid_grant" in text and str(desk.refresh_file) in text
        assert "supportd check-config --probe" in text
        assert "письма, приходящие в этот ящик, не читаются" in text


def test_a_token_shared_with_the_relay_is_told_once_for_both(tmp_path: Path) -> None:
    from daemon.outbound.oauth2 import TokenSettings, TokenSource

    with oauth_desk(tmp_path, shared=True) as desk:
        desk.endpoint.revoke()
        with pytest.raises(OAuthError):
            desk.poller().poll_once()
        relay_tokens = TokenSource(TokenSettings.of("outbound", desk.app.config.outbound),
                                   on_refusal=desk.app.token_alarm("outbound"))
        with pytest.raises(OAuthError):
            relay_tokens.access_token()  # the outbox meets the same refusal
        [told] = desk.admin_letters()
        assert told.subject == ("Остановлены чтение и отправка почты: не обновляется токен "
                                "OAuth2 для support")
        import email
        import email.policy

        msg = email.message_from_bytes(told.raw, policy=email.policy.default)
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "письма, приходящие в этот ящик, не читаются" in text
        assert "не отправляются и ждут в очереди" in text
