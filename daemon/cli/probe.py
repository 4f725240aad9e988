"""`supportd check-config --probe`: reach what the config names, and log in.

Plain `check-config` stays offline. With `--probe` it also connects to the IMAP
mailbox (when `[imap] enabled`) and to the SMTP relay (when `[outbound] transport`
is smtp), logs in as the daemon would — password, or an OAuth2 access token renewed
at the token endpoint — and says in one line each what worked and what did not.
A refused login or refresh token exits 78 (a person must act); a server that cannot
be reached, 75. It tells nobody else: the daemon's letter to the admins is the
daemon's business, and a probe's refusal does not stop it being sent.
"""

from __future__ import annotations

import imaplib
import logging
import smtplib
import sys
from typing import NamedTuple

import structlog

from daemon.config.schema import Config, ImapConfig, OutboundConfig
from daemon.intake.imap_login import open_mailbox
from daemon.outbound.oauth2 import OAuthError, TokenSettings, TokenSource, uses_oauth
from daemon.outbound.smtp_relay import open_relay, read_password

EX_TEMPFAIL, EX_CONFIG = 75, 78


class Outcome(NamedTuple):
    code: int  # 0 ok, 75 unreachable, 78 refused
    line: str


def probe(cfg: Config) -> int:
    """Probe what is configured; prints a line for each; the worst exit code."""
    # The lines below say it all; the token source's own log lines would say it twice.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    outcomes = []
    if cfg.imap.enabled:
        outcomes.append(probe_imap(cfg.imap))
    if cfg.outbound.transport == "smtp":
        outcomes.append(probe_relay(cfg.outbound))
    outcomes += probe_scanners(cfg)
    if not outcomes:
        print("probe: nothing to reach ([imap] is off, [outbound] writes into a Maildir, "
              "no scanner configured)")
        return 0
    for outcome in outcomes:
        print(outcome.line, file=sys.stderr if outcome.code else sys.stdout)
    return max(o.code for o in outcomes)


def probe_scanners(cfg: Config) -> list[Outcome]:
    """rspamd or spamd (`[spam] backend`) and clamd (`[antivirus] clamd`), asked to PING."""
    from daemon.scan.scanners import Scanners

    found = Scanners(cfg.spam, cfg.antivirus).probe()
    return [Outcome(0 if reached else EX_TEMPFAIL, line) for reached, line in found]


def _tokens(section: str, box: ImapConfig | OutboundConfig) -> TokenSource | None:
    return TokenSource(TokenSettings.of(section, box)) if uses_oauth(box) else None


def probe_imap(cfg: ImapConfig) -> Outcome:
    where = f"imap: {cfg.username} at {cfg.host}:{cfg.port} ({cfg.auth})"
    try:
        client = open_mailbox(cfg, _tokens("imap", cfg))
        try:
            info = client.select_folder(cfg.folder, readonly=True)
        finally:
            client.logout()
    except Exception as exc:
        return _failed(where, exc, refused=isinstance(exc, imaplib.IMAP4.error))
    return Outcome(0, f"{where}: ok, {cfg.folder} holds {int(info.get(b'EXISTS', 0))} "
                      "messages")


def probe_relay(cfg: OutboundConfig) -> Outcome:
    login = f"{cfg.auth} as {cfg.username}" if cfg.username else "no login"
    where = f"relay: {cfg.host}:{cfg.port} ({login})"
    try:
        tokens = _tokens("outbound", cfg)
        password = "" if tokens is not None else read_password(cfg)
        with open_relay(cfg, password, tokens) as smtp:
            smtp.noop()
    except Exception as exc:
        refused = isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500
        return _failed(where, exc, refused=refused or isinstance(exc, ValueError))
    return Outcome(0, f"{where}: ok")


def _failed(where: str, exc: Exception, *, refused: bool) -> Outcome:
    if isinstance(exc, OAuthError):
        if exc.permanent:
            return Outcome(EX_CONFIG, f"{where}: the OAuth2 token can no longer be renewed: "
                                      f"{exc} (put a new refresh token in its file; "
                                      "docs/admin.md, OAuth2)")
        return Outcome(EX_TEMPFAIL, f"{where}: no OAuth2 token for now: {exc}")
    text = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, OSError) and exc.filename:  # the password file
        return Outcome(EX_CONFIG, f"{where}: cannot read {exc.filename}: {exc.strerror}")
    if refused:
        return Outcome(EX_CONFIG, f"{where}: refused: {text}")
    return Outcome(EX_TEMPFAIL, f"{where}: unreachable: {type(exc).__name__}: {text}")
