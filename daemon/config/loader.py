"""Loading the configuration: TOML walked against the declarations of `schema`.

Every problem is a `ConfigError` naming the key (as ``section.key``): an unknown
key, a wrong type, a bad value; all of a file's problems are found before any is
raised, together as one `ConfigErrors`, so `check-config` lists them all at once.
`validate` holds the checks that need more than a type; the SLA tables are checked
by `sla_config`, which builds them. The checks of the host (folders, templates, the
database driver) are `check-config`'s: `daemon/cli/checks.py`.
"""

from __future__ import annotations

import dataclasses
import keyword
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from daemon.config import notices, schedules, sla_config
from daemon.config.schema import (
    Config,
    ConfigError,
    ConfigErrors,  # noqa: F401  (the CLI reads it from here)
    Duration,
    ImapConfig,
    OutboundConfig,
    Problems,
    parse_duration,
)

# Never a path relative to the current folder: a demo config found because of where
# a command was started would answer for the real desk (`make run` names its own).
DEFAULT_CONFIG_PATHS = (Path("/etc/supportd/supportd.toml"),)


def _coerce(key: str, hint: Any, value: Any, problems: Problems | None = None) -> Any:
    """`value` as `hint`; a table's bad keys go to `problems` and the rest is kept."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(key, f"must be a table, not {type(value).__name__}")
        return _build(hint, value, key, problems)
    if origin is tuple:
        (item,) = [a for a in typing.get_args(hint) if a is not Ellipsis]
        if not isinstance(value, list):
            raise ConfigError(key, "must be a list")
        found, items = Problems(), []
        for i, v in enumerate(value):
            with found.check():
                items.append(_coerce(f"{key}[{i}]", item, v, problems))
        found.raise_any()
        return tuple(items)
    if origin in (Mapping, dict) or origin is typing.get_origin(Mapping[str, str]):
        _, vtype = typing.get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(key, "must be a table")
        return types.MappingProxyType(
            {str(k): _coerce(f"{key}.{k}", vtype, v) for k, v in value.items()})
    if hint is Duration:
        return _duration(key, value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be a whole number, not {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"must be a number, not {value!r}")
        return float(value)
    if hint is str:
        if isinstance(value, date | time):  # TOML dates in an override table
            return value.isoformat()
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, not {value!r}")
        return value
    raise ConfigError(key, f"unsupported type {hint!r}")  # a bug in the declarations


def _duration(key: str, value: Any) -> str:
    """A duration key's value: "90s", "30m", "6h", "2d", or whole seconds (300)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(key, f"{value!r} is not a duration: write whole seconds (300) "
                               "or '90s', '30m', '6h', '2d'")
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(key, f"{value} is negative: write whole seconds (300) "
                                   "or '90s', '30m', '6h', '2d'")
        return f"{value}s"
    try:
        parse_duration(value)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from None
    return value


def _build(cls: Any, table: Mapping[str, Any], prefix: str, problems: Problems | None = None
           ) -> Any:
    """`cls` from a TOML table. Each bad key goes to `problems` (raised at once when
    none is given) and is left at its default, so the rest is still built and checked."""
    own = problems is None
    problems = problems or Problems()
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else k
        name = f"{k}_" if keyword.iskeyword(k) else k  # [[notice]] from = … is `from_`
        if name not in names or k == "source":
            problems.add(key, "unknown key")
            continue
        with problems.check():
            kwargs[name] = _coerce(key, hints[name], v, problems)
    if own:
        problems.raise_any()
    return cls(**kwargs)


def find(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file in force: `--config`, else $SUPPORTD_CONFIG, else
    /etc/supportd/supportd.toml if it exists; never one found in the current folder."""
    if path is not None:
        return Path(path)
    if os.environ.get("SUPPORTD_CONFIG"):
        return Path(os.environ["SUPPORTD_CONFIG"])
    return next((p for p in DEFAULT_CONFIG_PATHS if p.exists()), None)


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate (`find` says which file). Raises `ConfigError`, or
    `ConfigErrors` naming every bad key at once."""
    found = find(path)
    problems = Problems()
    if found is None:
        cfg = Config()
    else:
        try:
            data = tomllib.loads(found.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("(file)", f"{found} does not exist") from None
        except OSError as exc:
            raise ConfigError("(file)", f"cannot read {found}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("(file)", f"{found} is not valid TOML: {exc}") from None
        cfg = dataclasses.replace(_build(Config, data, "", problems), source=str(found))
    with problems.check():
        validate(cfg)
    problems.raise_any()
    return cfg


_DNS_SERVER = re.compile(
    r"^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|[0-9A-Fa-f:]+|\[[0-9A-Fa-f:]+\](:\d{1,5})?)$")


def _durations(cfg: Config) -> list[tuple[str, str]]:
    """Every key declared as a `Duration`, with its value: ("imap.poll_interval", "60s")."""
    found = []
    for section in dataclasses.fields(cfg):
        value = getattr(cfg, section.name)
        if dataclasses.is_dataclass(value):
            hints = typing.get_type_hints(type(value))
            found += [(f"{section.name}.{f.name}", getattr(value, f.name))
                      for f in dataclasses.fields(value) if hints[f.name] is Duration]
    return found


_OAUTH_REQUIRED = ("username", "oauth_token_url", "oauth_client_id", "oauth_refresh_token_file")
_OAUTH_KEYS = ("oauth_token_url", "oauth_client_id", "oauth_client_secret_file",
               "oauth_refresh_token_file", "oauth_scope")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _validate_oauth(section: str, box: ImapConfig | OutboundConfig) -> None:
    """`auth` and the OAuth2 keys of [imap] or [outbound]."""
    if box.auth not in ("password", "xoauth2", "oauthbearer"):
        raise ConfigError(f"{section}.auth", f"{box.auth!r}: use password, xoauth2 or "
                                             "oauthbearer")
    if box.auth == "password":
        stray = next((k for k in _OAUTH_KEYS if getattr(box, k)), None)
        if stray is not None:
            raise ConfigError(f"{section}.auth", f"is 'password' but {section}.{stray} is "
                                                 "set: use 'xoauth2' or 'oauthbearer'")
        return
    for key in _OAUTH_REQUIRED:
        if not getattr(box, key):
            raise ConfigError(f"{section}.{key}",
                              f"is required when {section}.auth is {box.auth!r}")
    if box.password_file:
        raise ConfigError(f"{section}.password_file",
                          f"is not read when {section}.auth is {box.auth!r}; remove it")
    url = urlsplit(box.oauth_token_url)
    # The client secret and the refresh token travel in the request: TLS, except to
    # this host (a local token proxy, the tests).
    if not url.hostname or not (url.scheme == "https" or (
            url.scheme == "http" and url.hostname in _LOOPBACK)):
        raise ConfigError(f"{section}.oauth_token_url",
                          f"{box.oauth_token_url!r} is not an https:// URL")


# Open files the listener's process needs: a socket and a spool file for each
# connection (a letter in DATA past 4 MB, its fsync), and room for the rest (the
# database, the pipes to the pipeline processes, the outbox, IMAP, the log).
FILES_PER_CONNECTION = 2
FILES_BESIDE_CONNECTIONS = 128


def files_needed(cfg: Config) -> int:
    return FILES_PER_CONNECTION * cfg.smtp.max_connections + FILES_BESIDE_CONNECTIONS


def check_open_files(cfg: Config, limit: int) -> None:
    """The listener's caps below the process's open-file limit (RLIMIT_NOFILE, the
    unit's LimitNOFILE): past it accept() fails and real senders wait with the idle."""
    if cfg.smtp.enabled and 0 <= limit < files_needed(cfg):
        raise ConfigError(
            "smtp.max_connections",
            f"{cfg.smtp.max_connections} connections need {files_needed(cfg)} open files "
            f"({FILES_PER_CONNECTION} each and {FILES_BESIDE_CONNECTIONS} more), but this "
            f"process may open {limit} (LimitNOFILE in the unit, ulimit -n in a shell): "
            f"lower it or raise the limit")


_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def warnings(cfg: Config) -> list[str]:
    """What is allowed but unsafe, said on every `check-config` and at every start."""
    found = []
    if cfg.auth.accept_unauthenticated_staff:
        found.append("auth.accept_unauthenticated_staff is on: anyone who writes From: a "
                     "staff address is believed; their answers reach clients and their "
                     "#commands run. Use it only on a desk no stranger can write to.")
    if not (cfg.auth.trusted_ids or cfg.security.trusted_authserv_ids or cfg.auth.verify):
        staff = "" if cfg.auth.accept_unauthenticated_staff else (
            "staff letters are not acted on, and ")
        found.append("no way to authenticate senders ([auth] trusted_authserv_id empty, "
                     f"verify off): {staff}forged letters from registered addresses keep "
                     "their commercial level")
    return found


def _validate_dkim(cfg: Config) -> None:
    out = cfg.outbound
    if bool(out.dkim_selector) != bool(out.dkim_key_file):
        key = "outbound.dkim_key_file" if out.dkim_selector else "outbound.dkim_selector"
        raise ConfigError(key, "DKIM signing needs both dkim_selector and dkim_key_file")
    if not out.dkim_key_file:
        return
    try:
        head = Path(out.dkim_key_file).read_bytes()[:4096]
    except OSError as exc:
        raise ConfigError("outbound.dkim_key_file", f"cannot read it: {exc}") from None
    if b"-----BEGIN" not in head or b"PRIVATE KEY-----" not in head:
        raise ConfigError("outbound.dkim_key_file", "is not a PEM private key")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}", out.dkim_selector):
        raise ConfigError("outbound.dkim_selector", f"{out.dkim_selector!r} is not a selector")


SPAM_BACKENDS = ("rspamd", "spamassassin", "headers", "off")


def socket_address(key: str, text: str) -> tuple[str, str, int]:
    """'unix:/run/clamav/clamd.ctl' -> ("unix", path, 0); 'tcp:HOST:PORT' -> ("tcp",
    host, port). ConfigError naming `key` otherwise."""
    kind, _, rest = text.partition(":")
    if kind == "unix" and rest.startswith("/"):
        return "unix", rest, 0
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return "tcp", host.strip("[]"), int(port)
    raise ConfigError(key, f"{text!r}: write 'unix:/absolute/path' or 'tcp:HOST:PORT'")


def _validate_scanners(cfg: Config) -> None:
    spam = cfg.spam
    if spam.backend not in SPAM_BACKENDS:
        raise ConfigError("spam.backend", f"{spam.backend!r}: use {', '.join(SPAM_BACKENDS)}")
    if not 0 < spam.hold_score <= spam.reject_score:
        raise ConfigError("spam.hold_score", f"{spam.hold_score}: must be above 0 and not "
                          f"above spam.reject_score ({spam.reject_score})")
    if spam.keep_days < 1:
        raise ConfigError("spam.keep_days", "must be at least 1")
    for url_key in ("rspamd_url", "rspamd_controller_url"):
        url = getattr(spam, url_key)
        if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
            raise ConfigError(f"spam.{url_key}", f"{url!r} is not an http:// URL")
    if spam.backend == "spamassassin":
        socket_address("spam.spamd", spam.spamd)
    if cfg.antivirus.clamd:
        socket_address("antivirus.clamd", cfg.antivirus.clamd)
    for key, text in (("spam.timeout", spam.timeout), ("antivirus.timeout",
                                                       cfg.antivirus.timeout)):
        if parse_duration(text).total_seconds() < 1:
            raise ConfigError(key, "must be at least 1s")


def validate(cfg: Config) -> None:
    """Checks that need more than a type: addresses, enums, durations, ranges. Every
    problem is found before any is raised (`ConfigErrors` when there are several)."""
    p = Problems()
    _validate_service(cfg, p)
    _validate_mail(cfg, p)
    _validate_rest(cfg, p)
    _validate_regulation(cfg, p)
    if not any(e.key == "service.timezone" for e in p.found):  # the calendar needs it
        with p.check():
            sla_config.validate(cfg)
    p.raise_any()


def _validate_service(cfg: Config, p: Problems) -> None:
    if not _ADDRESS.match(cfg.service.address):
        p.add("service.address", f"{cfg.service.address!r} is not an e-mail address")
    try:
        ZoneInfo(cfg.service.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        p.add("service.timezone", f"unknown time zone {cfg.service.timezone!r}")
    if not re.fullmatch(r"[A-Z]{1,8}", cfg.service.tid_prefix):
        p.add("service.tid_prefix", "must be 1-8 capital Latin letters")
    if not cfg.storage.url or "://" not in cfg.storage.url:
        p.add("storage.url", f"{cfg.storage.url!r} is not a database URL")
    if cfg.storage.blobs not in ("spool", "database"):
        p.add("storage.blobs", f"{cfg.storage.blobs!r}: use \"spool\" or \"database\"")
    for key, text in _durations(cfg):  # a Config built in code, not read from TOML
        try:
            parse_duration(text)
        except ValueError as exc:
            p.add(key, str(exc))
    for i, s in enumerate(cfg.staff):
        if not _ADDRESS.match(s.email):
            p.add(f"staff[{i}].email", f"{s.email!r} is not an e-mail address")
        if s.role not in ("agent", "head", "developer"):
            p.add(f"staff[{i}].role", f"{s.role!r}: use agent, head or developer")
    for i, notice in enumerate(cfg.notice):
        with p.check():
            notices.check(notice, f"notice[{i}]", cfg.tz)


def _validate_mail(cfg: Config, p: Problems) -> None:
    for section, port in (("smtp", cfg.smtp.port), ("imap", cfg.imap.port),
                          ("outbound", cfg.outbound.port), ("metrics", cfg.metrics.port)):
        if not 0 < port < 65536:
            p.add(f"{section}.port", f"{port} is not a TCP port")
    if cfg.smtp.max_message_size < 1024:
        p.add("smtp.max_message_size", "must be at least 1024 bytes")
    if cfg.smtp.timeout < 1:
        p.add("smtp.timeout", "must be at least 1 second")
    if cfg.smtp.max_connections < 1:
        p.add("smtp.max_connections", "must be at least 1")
    elif not 1 <= cfg.smtp.max_connections_per_client <= cfg.smtp.max_connections:
        p.add("smtp.max_connections_per_client",
              f"{cfg.smtp.max_connections_per_client}: use 1 to "
              f"smtp.max_connections ({cfg.smtp.max_connections})")
    if cfg.outbound.transport not in ("maildir", "smtp"):
        p.add("outbound.transport", f"{cfg.outbound.transport!r}: use maildir or smtp")
    with p.check():
        _validate_dkim(cfg)
    if cfg.outbound.max_attempts < 1:
        p.add("outbound.max_attempts", "must be at least 1")
    if cfg.imap.enabled and not cfg.imap.username:
        p.add("imap.username", "is required when imap.enabled is true")
    for section, box in (("imap", cfg.imap), ("outbound", cfg.outbound)):
        with p.check():
            _validate_oauth(section, box)
    for i, server in enumerate(cfg.auth.dns_servers):
        if not _DNS_SERVER.match(server):
            p.add(f"auth.dns_servers[{i}]",
                  f"{server!r}: use an IP address, 'IP:port' or '[IPv6]:port'")


def _validate_rest(cfg: Config, p: Problems) -> None:
    if not 1 <= cfg.tickets.max_participants <= 100:
        p.add("tickets.max_participants", f"{cfg.tickets.max_participants}: use 1 to 100")
    if cfg.abuse.new_tickets_per_hour < 1:
        p.add("abuse.new_tickets_per_hour", "must be at least 1")
    with p.check():
        _validate_scanners(cfg)
    if not 0 < cfg.scheduler.warn_at < 1:
        p.add("scheduler.warn_at", "must be between 0 and 1")
    if not 1 <= cfg.pipeline.workers <= 64:
        p.add("pipeline.workers", f"{cfg.pipeline.workers}: use 1 to 64")
    elif cfg.pipeline.workers > 1 and cfg.storage.url.startswith("sqlite"):
        # One writer at a time: a second worker only waits for the first one's
        # commit (measured: no faster, and the listener slower; docs/admin.md).
        p.add("pipeline.workers",
              f"{cfg.pipeline.workers}: SQLite takes 1 worker; more need PostgreSQL")
    if cfg.logging.level not in ("debug", "info", "warning", "error"):
        p.add("logging.level", f"{cfg.logging.level!r}: use debug, info, warning or error")
    if cfg.logging.format not in ("auto", "json", "console"):
        p.add("logging.format", f"{cfg.logging.format!r}: use auto, json or console")
    for i, address in enumerate(cfg.reports.to):
        if not _ADDRESS.match(address):
            p.add(f"reports.to[{i}]", f"{address!r} is not an e-mail address")
    with p.check():
        schedules.of(cfg)  # names the key of a time it cannot read


def _validate_regulation(cfg: Config, p: Problems) -> None:
    """[scope], [knowledge] and the head of support's address (issue 13)."""
    from daemon.config import rule_files

    head = cfg.service.head_address
    if head:
        if not _ADDRESS.match(head):
            p.add("service.head_address", f"{head!r} is not an e-mail address")
        elif head.lower() == cfg.service.address.lower():
            p.add("service.head_address", "is the support address itself")
        elif not any(s.role == "head" for s in cfg.staff):
            p.add("service.head_address",
                  "no [[staff]] member has role = \"head\" to receive its letters")
    for key in ("scope.min_score", "scope.margin", "knowledge.min_score"):
        section, name = key.split(".")
        if getattr(getattr(cfg, section), name) < (1 if name == "min_score" else 0):
            p.add(key, "must be at least 1" if name == "min_score" else "must not be negative")
    if cfg.scope.out_of_scope_score < cfg.scope.min_score:
        p.add("scope.out_of_scope_score", f"{cfg.scope.out_of_scope_score} is below "
                                          f"scope.min_score ({cfg.scope.min_score})")
    if not 1 <= cfg.knowledge.max_entries <= 10:
        p.add("knowledge.max_entries", f"{cfg.knowledge.max_entries}: use 1 to 10")
    if cfg.scope.enabled:
        with p.check():
            rule_files.load_topics("scope.rules", cfg.scope_rules_path)
        import importlib.util

        missing = [m for m in ("pymorphy3", "pymorphy3_dicts_ru")
                   if importlib.util.find_spec(m) is None]
        if missing:  # letters would get no topic, each one flagged
            p.add("scope.enabled", "the Russian morphology is not installed ("
                  + ", ".join(m.replace("_", "-") for m in missing)
                  + "): reinstall supportd, or set it to false")
    if cfg.knowledge.folder:
        with p.check():
            rule_files.load_entries("knowledge.folder", Path(cfg.knowledge.folder))
