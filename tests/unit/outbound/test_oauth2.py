"""The OAuth2 token source against a real token endpoint on loopback, its clock in hand.

The endpoint is tests/support/oauth_endpoint.py (HTTP on 127.0.0.1); the clock the
token source reads is a number the test moves, so hours of token life pass at once.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from daemon.outbound.oauth2 import (
    BACKOFF_FIRST,
    OAuthError,
    TokenSettings,
    TokenSource,
    oauthbearer,
    xoauth2,
)
from tests.support.oauth_endpoint import TokenEndpoint, running_endpoint

USER = "techsupport@example.ru"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    with running_endpoint(USER, client_secret="s3cret") as ep:
        yield ep


def source(tmp_path: Path, ep: TokenEndpoint, clock: Clock, *, scope: str = "mail",
           refusals: list[OAuthError] | None = None, client_id: str = "supportd-test",
           token_url: str = "") -> TokenSource:
    refresh = tmp_path / "imap.refresh"
    if not refresh.exists():
        refresh.write_text(ep.first_refresh_token + "\n", encoding="utf-8")
    secret = tmp_path / "client.secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    settings = TokenSettings("imap", USER, token_url or ep.token_url, client_id, str(secret),
                             str(refresh), scope)
    told = refusals if refusals is not None else []
    return TokenSource(settings, on_refusal=told.append, clock=clock)


def test_the_token_is_kept_and_renewed_a_margin_before_it_expires(
        tmp_path: Path, endpoint: TokenEndpoint) -> None:
    clock = Clock()
    tokens = source(tmp_path, endpoint, clock)
    first = tokens.access_token()
    assert endpoint.valid(first) and [r.scope for r in endpoint.refreshes] == ["mail"]
    clock.now += 3600 - 301  # five minutes and a second before the hour is up
    assert tokens.access_token() == first and len(endpoint.refreshes) == 1
    clock.now += 2
    second = tokens.access_token()
    assert second != first and len(endpoint.refreshes) == 2


def test_a_short_lived_token_is_renewed_at_three_quarters_of_its_life(tmp_path: Path) -> None:
    with running_endpoint(USER, client_secret="s3cret", expires_in=8) as ep:
        clock = Clock()
        tokens = source(tmp_path, ep, clock)
        first = tokens.access_token()
        clock.now += 5.9
        assert tokens.access_token() == first
        clock.now += 0.2
        assert tokens.access_token() != first and len(ep.refreshes) == 2


def test_a_rotated_refresh_token_is_written_back(tmp_path: Path) -> None:
    with running_endpoint(USER, client_secret="s3cret", rotate=True) as ep:
        clock = Clock()
        tokens = source(tmp_path, ep, clock)
        with capture_logs() as logs:
            tokens.access_token()
        held = (tmp_path / "imap.refresh").read_text(encoding="utf-8").strip()
        assert held != ep.first_refresh_token and ep.refresh_tokens == {held}
        assert stat.S_IMODE(os.stat(tmp_path / "imap.refresh").st_mode) == 0o600
        assert [e["rotated"] for e in logs if e["event"] == "oauth.renewed"] == [True]
        clock.now += 3600
        tokens.access_token()  # traded the written token, got another
        assert ep.refreshes[-1].refresh_token == held and ep.granted()[-1] == ep.refreshes[-1]
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            "client.secret", "imap.refresh", "imap.refresh.lock"]  # no temporary files


def test_a_temporary_failure_keeps_a_valid_token_and_backs_off(
        tmp_path: Path, endpoint: TokenEndpoint) -> None:
    clock = Clock()
    tokens = source(tmp_path, endpoint, clock)
    first = tokens.access_token()
    clock.now += 3400  # past the renewal point, still valid
    endpoint.fail_next(1)
    with capture_logs() as logs:
        assert tokens.access_token() == first
        assert tokens.access_token() == first  # within the pause: the endpoint not asked
    assert [e["event"] for e in logs] == ["oauth.renewal_deferred"]
    assert len(endpoint.refreshes) == 1
    clock.now += BACKOFF_FIRST
    assert tokens.access_token() != first


def test_without_a_valid_token_a_temporary_failure_is_raised_and_retried_later(
        tmp_path: Path, endpoint: TokenEndpoint) -> None:
    clock = Clock()
    tokens = source(tmp_path, endpoint, clock)
    endpoint.fail_next(2)
    for pause in (1.0, 2.0):
        with pytest.raises(OAuthError) as err:
            tokens.access_token()
        assert not err.value.permanent and "HTTP 503 temporarily_unavailable" in str(err.value)
        clock.now += pause - 0.1
        with pytest.raises(OAuthError):
            tokens.access_token()  # still pausing
        clock.now += 0.1
    assert tokens.access_token()
    assert endpoint.failing == 0 and len(endpoint.granted()) == 1


def test_an_endpoint_that_cannot_be_reached_is_temporary(tmp_path: Path,
                                                         endpoint: TokenEndpoint) -> None:
    from bench.harness.desk_config import free_port

    tokens = source(tmp_path, endpoint, Clock(),
                    token_url=f"http://127.0.0.1:{free_port()}/token")
    with pytest.raises(OAuthError) as err:
        tokens.access_token()
    assert not err.value.permanent and "unreachable" in str(err.value)


def test_a_refused_refresh_token_is_reported_once(tmp_path: Path,
                                                  endpoint: TokenEndpoint) -> None:
    clock, refusals = Clock(), []
    tokens = source(tmp_path, endpoint, clock, refusals=refusals)
    endpoint.revoke()
    with capture_logs() as logs:
        for _ in range(3):
            with pytest.raises(OAuthError) as err:
                tokens.access_token()
            assert err.value.permanent
            clock.now += 60
    assert "HTTP 400 invalid_grant (AADSTS50173: The provided grant has expired due to it " \
           "being revoked.)" in str(err.value)
    assert [e["event"] for e in logs] == ["oauth.renewal_failed"]
    assert len(refusals) == 1 and len(endpoint.refreshes) == 1  # the endpoint asked once
    clock.now += 900  # a quarter of an hour on, it is asked again, and nobody told again
    with pytest.raises(OAuthError):
        tokens.access_token()
    assert len(endpoint.refreshes) == 2 and len(refusals) == 1
    (tmp_path / "imap.refresh").write_text(endpoint.grant() + "\n", encoding="utf-8")
    assert tokens.access_token()  # a new token in the file is tried at once


def test_a_new_refusal_after_a_new_token_is_told_again(tmp_path: Path,
                                                       endpoint: TokenEndpoint) -> None:
    clock, refusals = Clock(), []
    tokens = source(tmp_path, endpoint, clock, refusals=refusals)
    endpoint.revoke()
    with pytest.raises(OAuthError):
        tokens.access_token()
    (tmp_path / "imap.refresh").write_text("rt-typed-wrong\n", encoding="utf-8")
    with pytest.raises(OAuthError):
        tokens.access_token()
    assert len(refusals) == 2 and refusals[0].fingerprint != refusals[1].fingerprint


@pytest.mark.parametrize(("change", "needle"), [
    ("client", "HTTP 401 invalid_client (unknown client)"),
    ("missing", "imap.oauth_refresh_token_file"),
    ("empty", "is empty"),
])
def test_what_a_person_must_fix_is_permanent(tmp_path: Path, endpoint: TokenEndpoint,
                                             change: str, needle: str) -> None:
    tokens = source(tmp_path, endpoint, Clock(),
                    client_id="someone-else" if change == "client" else "supportd-test")
    if change == "missing":
        (tmp_path / "imap.refresh").unlink()
    elif change == "empty":
        (tmp_path / "imap.refresh").write_text("\n", encoding="utf-8")
    with pytest.raises(OAuthError) as err:
        tokens.access_token()
    assert err.value.permanent and needle in str(err.value)


def test_forget_makes_the_next_call_renew(tmp_path: Path, endpoint: TokenEndpoint) -> None:
    tokens = source(tmp_path, endpoint, Clock())
    first = tokens.access_token()
    tokens.forget()
    assert tokens.access_token() != first and len(endpoint.refreshes) == 2


def test_sasl_responses() -> None:
    assert xoauth2("a@b.ru", "T") == "user=a@b.ru\x01auth=Bearer T\x01\x01"
    assert oauthbearer("a,=b@c.ru", "T", "imap.example", 993) == (
        "n,a=a=2C=3Db@c.ru,\x01host=imap.example\x01port=993\x01auth=Bearer T\x01\x01")
