"""An IMAP connection to the configured mailbox, logged in as configured.

With `[imap] auth = "password"` the login is LOGIN with the password file's first
line; with "xoauth2" or "oauthbearer" it is AUTHENTICATE with an access token from a
`TokenSource` (daemon/outbound/oauth2.py), which renews it before it expires. The
poller (`imap_poller`) and `supportd check-config --probe` both open the mailbox here.
"""

from __future__ import annotations

import contextlib
import ssl
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from daemon.config.schema import ImapConfig
from daemon.outbound.oauth2 import TokenSource

CONNECT_TIMEOUT = 60.0


def read_password(cfg: ImapConfig) -> str:
    if not cfg.password_file:
        return ""
    lines = Path(cfg.password_file).read_text(encoding="utf-8").splitlines()
    return lines[0] if lines else ""


def open_mailbox(cfg: ImapConfig, tokens: TokenSource | None) -> IMAPClient:
    """Connected (TLS as configured) and authenticated; the caller logs out.
    Raises what the connection, the login or the token source raise."""
    password = "" if tokens is not None else read_password(cfg)
    context = ssl.create_default_context() if cfg.ssl or cfg.starttls else None
    client = IMAPClient(cfg.host, cfg.port, ssl=cfg.ssl,
                        ssl_context=context if cfg.ssl else None, timeout=CONNECT_TIMEOUT)
    try:
        if cfg.starttls and not cfg.ssl:
            client.starttls(context)
        if tokens is None:
            client.login(cfg.username, password)
        else:
            _authenticate(client, cfg, tokens)
    except BaseException:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise
    return client


def _authenticate(client: IMAPClient, cfg: ImapConfig, tokens: TokenSource) -> None:
    token = tokens.access_token()
    try:
        if cfg.auth == "oauthbearer":
            client.oauthbearer_login(cfg.username, token)
        else:
            client.oauth2_login(cfg.username, token)
    except LoginError:
        tokens.forget()  # revoked before its time, perhaps: the next login renews it
        raise
