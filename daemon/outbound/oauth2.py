"""OAuth2 access tokens for the mailbox and the relay (SASL XOAUTH2 and OAUTHBEARER).

Microsoft 365, Gmail and Yandex 360 take an access token instead of a password. The
token lives an hour or so; what lasts is the refresh token, which an administrator
obtains once and puts in a file (`oauth_refresh_token_file`). A `TokenSource` trades
it at the provider's token endpoint (RFC 6749 §6: POST grant_type=refresh_token),
keeps the access token with its expiry and renews it a margin before it expires, so
a login never carries a token about to lapse. A provider that rotates refresh tokens
(Microsoft does) sends a new one with each renewal: it replaces the file atomically.

Two kinds of failure. A network error, a timeout or a 5xx is temporary: a token
that is still valid goes on being used, and renewal is tried again after a pause
that doubles (1 s to 5 min). A refusal (invalid_grant: revoked, expired, the
password changed; invalid_client; a missing file) is permanent: nothing will work
until a person acts, so it is reported once per refused token (`on_refusal`: the
log line `oauth.renewal_failed` and a letter to the admins, `token_alarm`) and the
endpoint is not asked again for 15 minutes unless the files change.

Processes and threads that share a refresh-token file take turns renewing (flock on
`FILE.lock`), so a rotated token is never traded twice at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from daemon.config.schema import ImapConfig, OutboundConfig

log = structlog.get_logger("supportd.oauth")

RENEW_MARGIN = 300.0  # seconds before expiry to renew; at most a quarter of the lifetime
DEFAULT_LIFETIME = 3600.0  # when the endpoint does not say (expires_in is RECOMMENDED)
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 300.0
REFUSED_RETRY = 900.0  # a refused token: ask the endpoint again this often at most
HTTP_TIMEOUT = 30.0
OAUTH_MECHANISMS = ("xoauth2", "oauthbearer")


class OAuthError(Exception):
    """No access token. `permanent`: refused, a person must act (the message says what);
    otherwise temporary. `fingerprint` names what was refused (files and settings)."""

    def __init__(self, message: str, *, permanent: bool, fingerprint: str = "") -> None:
        super().__init__(message)
        self.permanent = permanent
        self.fingerprint = fingerprint


@dataclass(frozen=True)
class TokenSettings:
    section: str  # "imap" or "outbound": named in logs, errors and the letter
    username: str
    token_url: str
    client_id: str
    client_secret_file: str
    refresh_token_file: str
    scope: str

    @classmethod
    def of(cls, section: str, cfg: ImapConfig | OutboundConfig) -> TokenSettings:
        return cls(section, cfg.username, cfg.oauth_token_url, cfg.oauth_client_id,
                   cfg.oauth_client_secret_file, cfg.oauth_refresh_token_file, cfg.oauth_scope)

    @property
    def refused_marker(self) -> Path:
        """Written when a refusal was reported (`token_alarm`), removed on success."""
        return Path(f"{self.refresh_token_file}.refused")

    @property
    def lock_file(self) -> Path:
        return Path(f"{self.refresh_token_file}.lock")


def uses_oauth(cfg: ImapConfig | OutboundConfig) -> bool:
    return cfg.auth in OAUTH_MECHANISMS


class TokenSource:
    """The access token for one config section; safe to share between threads."""

    def __init__(self, settings: TokenSettings, *,
                 on_refusal: Callable[[OAuthError], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.on_refusal = on_refusal
        self.clock = clock
        self.log = log.bind(section=settings.section)
        self._token = ""
        self._expires_at = self._renew_at = 0.0
        self._failure: OAuthError | None = None
        self._retry_at = 0.0
        self._delay = BACKOFF_FIRST
        self._reported = ""  # the fingerprint of the refusal already reported
        self._unsaved: tuple[str, str] | None = None  # (token read, rotated one not saved)
        self._mutex = threading.Lock()

    def access_token(self) -> str:
        """A token with some life left; renewed first when it is near its end.
        Raises OAuthError when there is none."""
        with self._mutex:
            now = self.clock()
            if self._token and now < self._renew_at:
                return self._token
            valid = self._token if now < self._expires_at else ""
            failure = self._failure
            if failure is not None and now < self._retry_at and not self._files_changed(failure):
                if valid:
                    return valid
                raise failure
            try:
                self._renew(now)
            except OAuthError as exc:
                self._failed(exc, now)
                if valid:
                    return valid  # still good for a while; the next call tries again
                raise
            return self._token

    def forget(self) -> None:
        """The server refused the token we gave: the next call renews."""
        with self._mutex:
            self._renew_at = self._expires_at = 0.0
            self._token = ""

    # ------------------------------------------------------------ renewal

    def _renew(self, now: float) -> None:
        s = self.settings
        with file_lock(s.lock_file):
            refresh, secret, fingerprint = self._read_files()
            answer = _post(s.token_url, _form(refresh, s.client_id, secret, s.scope),
                           fingerprint)
            token = answer.get("access_token")
            if not isinstance(token, str) or not token:
                raise OAuthError(f"{s.token_url} answered without an access_token",
                                 permanent=False, fingerprint=fingerprint)
            rotated = answer.get("refresh_token")
            if isinstance(rotated, str) and rotated and rotated != refresh:
                self._save_rotated(refresh, rotated)
        lifetime = _lifetime(answer.get("expires_in"))
        self._token = token
        self._expires_at = now + lifetime
        self._renew_at = self._expires_at - min(RENEW_MARGIN, lifetime / 4)
        self._failure, self._delay = None, BACKOFF_FIRST
        self.log.info("oauth.renewed", expires_in=round(lifetime),
                      rotated=isinstance(rotated, str) and rotated != refresh)
        if self._reported or s.refused_marker.exists():
            self._reported = ""
            with contextlib.suppress(FileNotFoundError):
                s.refused_marker.unlink()
            self.log.info("oauth.renewal_recovered")

    def _read_files(self) -> tuple[str, str, str]:
        """(refresh token, client secret, fingerprint of them and the settings)."""
        s = self.settings
        refresh = _first_line(f"{s.section}.oauth_refresh_token_file", s.refresh_token_file,
                              self._fingerprint)
        if self._unsaved is not None and self._unsaved[0] == refresh:
            refresh = self._unsaved[1]  # the file still holds the token traded last time
        secret = ""
        if s.client_secret_file:
            secret = _first_line(f"{s.section}.oauth_client_secret_file",
                                 s.client_secret_file, self._fingerprint)
        return refresh, secret, _digest(s, refresh, secret)

    def _fingerprint(self) -> str:
        """What a refusal was about, read anew: a change means someone acted."""
        s = self.settings
        parts = []
        for path in (s.refresh_token_file, s.client_secret_file):
            try:
                parts.append(Path(path).read_text(encoding="utf-8").strip() if path else "")
            except OSError as exc:
                parts.append(f"unreadable: {type(exc).__name__}")
        return _digest(s, *parts)

    def _files_changed(self, failure: OAuthError) -> bool:
        return failure.permanent and self._fingerprint() != failure.fingerprint

    def _save_rotated(self, old: str, new: str) -> None:
        path = Path(self.settings.refresh_token_file)
        try:
            write_atomically(path, new + "\n")
            self._unsaved = None
        except OSError as exc:
            self._unsaved = (old, new)
            self.log.error("oauth.rotated_not_saved", file=str(path), error=str(exc),
                           hint="the provider sent a new refresh token that could not be "
                                "written; make the file's folder writable for supportd")

    def _failed(self, exc: OAuthError, now: float) -> None:
        self._failure = exc
        if not exc.permanent:
            self._retry_at = now + self._delay
            self.log.warning("oauth.renewal_deferred", error=str(exc), retry_in=self._delay)
            self._delay = min(self._delay * 2, BACKOFF_MAX)
            return
        self._retry_at = now + REFUSED_RETRY
        if exc.fingerprint == self._reported:
            return
        self.log.error("oauth.renewal_failed", error=str(exc),
                       refresh_token_file=self.settings.refresh_token_file,
                       hint="put a new refresh token in the file (docs/admin.md, OAuth2)")
        if self.on_refusal is None:
            self._reported = exc.fingerprint
            return
        try:
            self.on_refusal(exc)
            self._reported = exc.fingerprint
        except Exception as alarm:  # e.g. the database is away: try again next time
            self.log.warning("oauth.alarm_failed", error=f"{type(alarm).__name__}: {alarm}")


# ---------------------------------------------------------------- the exchange


def _form(refresh: str, client_id: str, secret: str, scope: str) -> dict[str, str]:
    form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": client_id}
    if secret:
        form["client_secret"] = secret
    if scope:
        form["scope"] = scope
    return form


def _post(url: str, form: dict[str, str], fingerprint: str) -> dict[str, Any]:
    """The endpoint's JSON answer to a successful request; OAuthError otherwise."""
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(form).encode("ascii"), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/json", "User-Agent": "supportd"})
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        # RFC 6749 §5.2: a refusal is a 400 (401 for a bad client) with a JSON error;
        # 408, 429 and 5xx are the server's trouble, not ours.
        refusal = _refusal(exc.code, exc.read())
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        raise OAuthError(f"{url} refused renewal: {refusal}", permanent=permanent,
                         fingerprint=fingerprint) from None
    except (OSError, ValueError) as exc:  # URLError, timeouts, resets; a bad URL
        reason = getattr(exc, "reason", None) or exc
        raise OAuthError(f"{url} unreachable: {reason}", permanent=False,
                         fingerprint=fingerprint) from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise OAuthError(f"{url} answered with something other than a JSON object",
                         permanent=False, fingerprint=fingerprint)
    return answer


def _refusal(status: int, body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        text = data["error"]
        description = data.get("error_description")
        if isinstance(description, str) and description.strip():
            text += f" ({description.strip().splitlines()[0][:300]})"
        return f"HTTP {status} {text}"
    return f"HTTP {status}"


def _lifetime(expires_in: Any) -> float:
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME
    return seconds if seconds > 0 else DEFAULT_LIFETIME


def _first_line(key: str, path: str, fingerprint: Callable[[], str]) -> str:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise OAuthError(f"{key} {path}: {exc.strerror or exc}", permanent=True,
                         fingerprint=fingerprint()) from None
    if not lines or not lines[0].strip():
        raise OAuthError(f"{key} {path} is empty", permanent=True, fingerprint=fingerprint())
    return lines[0].strip()


def _digest(s: TokenSettings, *parts: str) -> str:
    text = "\x00".join((s.token_url, s.client_id, s.scope, *parts))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# ---------------------------------------------------------------- files


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Take turns with other processes and threads on `path` (each open is its own
    lock); a folder we cannot write to goes without (one daemon is the usual case)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` (mode 0600): a crash leaves the old file or the new."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------- SASL


def xoauth2(user: str, token: str) -> str:
    """The client's response of Google's and Microsoft's XOAUTH2 mechanism."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def oauthbearer(user: str, token: str, host: str, port: int) -> str:
    """The client's response of OAUTHBEARER (RFC 7628 §3.1)."""
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
