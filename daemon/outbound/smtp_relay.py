"""The SMTP relay: a connection that is authenticated as configured, and one letter sent.

`open_relay` connects (implicit TLS or STARTTLS as configured) and logs in: with
the relay password, or with an OAuth2 access token (SASL XOAUTH2 or OAUTHBEARER,
`[outbound] auth`) from a `TokenSource`. `SmtpTransport.send` hands one letter
over on a fresh connection; `supportd check-config --probe` opens one and says
whether it worked. A refusal (5xx) of the letter itself is a `PermanentError`;
anything else, a refused login included, is for the outbox to retry.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from email.utils import getaddresses
from pathlib import Path

import structlog

from daemon.config.schema import OutboundConfig
from daemon.outbound.oauth2 import TokenSource, oauthbearer, xoauth2

log = structlog.get_logger("supportd.outbox")


class PermanentError(Exception):
    pass


def read_password(cfg: OutboundConfig) -> str:
    if not cfg.password_file:
        return ""
    lines = Path(cfg.password_file).read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0]:
        raise ValueError(f"outbound.password_file {cfg.password_file} is empty")
    return lines[0]


def open_relay(cfg: OutboundConfig, password: str, tokens: TokenSource | None) -> smtplib.SMTP:
    """A connection to the relay, logged in as configured; the caller closes it."""
    cls = smtplib.SMTP_SSL if cfg.ssl else smtplib.SMTP
    smtp = cls(cfg.host, cfg.port, timeout=cfg.timeout)
    try:
        if cfg.starttls and not cfg.ssl:
            smtp.starttls(context=ssl.create_default_context())
        if tokens is not None:
            _oauth_login(smtp, cfg, tokens)
        elif cfg.username:
            smtp.login(cfg.username, password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _oauth_login(smtp: smtplib.SMTP, cfg: OutboundConfig, tokens: TokenSource) -> None:
    token = tokens.access_token()
    if cfg.auth == "oauthbearer":
        mechanism, response = "OAUTHBEARER", oauthbearer(cfg.username, token, cfg.host, cfg.port)
    else:
        mechanism, response = "XOAUTH2", xoauth2(cfg.username, token)
    smtp.ehlo_or_helo_if_needed()
    try:
        smtp.auth(mechanism, _responder(response))
    except smtplib.SMTPAuthenticationError:
        tokens.forget()  # revoked before its time, perhaps: the next login renews it
        raise


def _responder(initial: str) -> Callable[..., str]:
    """smtplib's authobject: the initial response, then an empty line to a challenge
    (XOAUTH2 and OAUTHBEARER send the error as a 334 challenge, RFC 7628 §3.2.3; the
    client answers it with an empty response and the server then says 535)."""
    def respond(challenge: bytes | None = None) -> str:
        return initial if challenge is None else ""
    return respond


class SmtpTransport:
    def __init__(self, cfg: OutboundConfig, tokens: TokenSource | None = None) -> None:
        self.cfg = cfg
        self.tokens = tokens
        self.password = "" if tokens is not None else read_password(cfg)

    def send(self, sender: str, recipients: list[str], raw: bytes) -> None:
        try:
            with open_relay(self.cfg, self.password, self.tokens) as smtp:
                # An internationalised address (RFC 6531/6532) needs a relay that
                # takes SMTPUTF8; one that does not never will (a permanent refusal).
                utf8 = not raw.split(b"\r\n\r\n", 1)[0].isascii() or not all(
                    a.isascii() for a in (sender, *recipients))
                dropped: list[str] = []
                if utf8:
                    smtp.ehlo_or_helo_if_needed()
                    if not smtp.has_extn("smtputf8"):
                        raw, dropped = _without_utf8_copies(sender, raw)
                        recipients = [r for r in recipients if r not in dropped]
                        utf8 = False
                refused = smtp.sendmail(sender, recipients, raw,
                                        mail_options=["SMTPUTF8"] if utf8 else [])
                if dropped:
                    log.warning("outbox.partly_refused", dropped=dropped,
                                reason="the relay does not take SMTPUTF8")
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [c for c, _ in exc.recipients.values()]
            if all(500 <= c < 600 for c in codes):
                raise PermanentError(f"recipients refused: {exc.recipients}") from exc
            raise
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(f"{exc.smtp_code} {exc.smtp_error!r}") from exc
            raise
        if refused:
            log.warning("outbox.partly_refused", refused=str(refused))


def _without_utf8_copies(sender: str, raw: bytes) -> tuple[bytes, list[str]]:
    """For a relay without SMTPUTF8: the letter without its copies (Cc) to addresses
    that are not ASCII, and those addresses. Its sender, its To or any other header
    not ASCII: no letter can be made of it for this relay (a permanent refusal)."""
    refusal = PermanentError("the relay does not take SMTPUTF8, which an address that "
                             "is not ASCII needs")
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines: list[bytes] = []  # one per header, folds kept
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and lines:
            lines[-1] += b"\r\n" + line
        else:
            lines.append(line)
    kept, dropped = [], []
    for line in lines:
        if line.isascii():
            kept.append(line)
            continue
        if not line.lower().startswith(b"cc:") or not sender.isascii():
            raise refusal
        pairs = getaddresses([line[3:].decode("utf-8", "replace").replace("\r\n", "")])
        dropped += [a for _, a in pairs if not a.isascii()]
        ascii_only = [a for _, a in pairs if a.isascii() and "@" in a]
        if ascii_only:
            kept.append(("Cc: " + ",\r\n ".join(ascii_only)).encode("ascii"))
    return b"\r\n".join(kept) + sep + body, dropped
