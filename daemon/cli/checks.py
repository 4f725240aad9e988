"""`check-config`'s look at the host: what the config names must be there and usable.

The loader checks the config's own sense (types, ranges, names); these checks look
at this machine, as the service user (check-config is the unit's ExecStartPre):
the database URL's dialect and driver, that every path is absolute, that the
folders exist (or can be made by the daemon in a folder that exists) and can be
written, the files that must be read can be, and that every letter template
renders with sample data. A problem here would otherwise surface only when a
letter comes, and every letter would fail alike. Each problem names its key.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
from pathlib import Path

from daemon.config.schema import Config, ConfigError, ImapConfig, OutboundConfig, Problems
from daemon.config.show import hide_password

# The dialects and drivers supportd runs on, and the module each driver imports.
_DRIVERS = {"sqlite": {"": "sqlite3", "pysqlite": "sqlite3"},
            "postgresql": {"psycopg": "psycopg"}}
_PG_EXAMPLE = "postgresql+psycopg://USER:PASSWORD@HOST:5432/DATABASE"


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def database_url(url: str, p: Problems) -> Path | None:
    """The dialect and driver of `storage.url`; for SQLite, the database file."""
    scheme, sep, rest = url.partition("://")
    dialect, _, driver = scheme.partition("+")
    shown = hide_password(url)
    if not sep:
        return None  # the loader said so
    if dialect in ("postgres", "pgsql", "psql"):
        p.add("storage.url", f"{shown!r}: SQLAlchemy does not know the name {dialect!r}; "
                             f"write {_PG_EXAMPLE}")
        return None
    if dialect not in _DRIVERS:
        p.add("storage.url", f"{shown!r}: supportd runs on SQLite (sqlite:////ABSOLUTE/PATH) "
                             f"or PostgreSQL ({_PG_EXAMPLE}), not {dialect!r}")
        return None
    if driver not in _DRIVERS[dialect]:
        what = "no driver, which means psycopg2" if not driver else f"the driver {driver!r}"
        p.add("storage.url", f"{shown!r} names {what}; supportd ships psycopg 3: write "
                             f"{_PG_EXAMPLE}")
        return None
    module = _DRIVERS[dialect][driver]
    if importlib.util.find_spec(module) is None:
        p.add("storage.url", f"the driver {module} is not installed in this Python "
                             "(reinstall supportd)")
    if dialect != "sqlite":
        return None
    path = rest[1:] if rest.startswith("/") else rest
    path = path.split("?", 1)[0]
    if path in ("", ":memory:"):
        p.add("storage.url", f"{url!r} is a database in memory: each process would have its "
                             "own, empty one; write sqlite:////var/lib/supportd/supportd.db")
        return None
    if not Path(path).is_absolute():
        p.add("storage.url", f"{url!r}: the path {path!r} is relative, so the database would "
                             f"be looked for in the current folder ({Path.cwd()}); write an "
                             f"absolute one after three slashes: sqlite:////var/lib/supportd/"
                             "supportd.db")
        return None
    return Path(path)


def folder(key: str, path: Path, p: Problems, *, write: bool = True) -> None:
    """A folder the daemon uses: there (or to be made by the daemon in a folder that
    is there), and writable by this user when it must write."""
    user = _user()
    need = os.W_OK | os.X_OK if write else os.R_OK | os.X_OK
    how = "writable" if write else "readable"
    if path.exists():
        if not path.is_dir():
            p.add(key, f"{path} is not a folder")
        elif not os.access(path, need):
            p.add(key, f"{path} is not {how} by {user}")
        return
    parent = path.parent
    if not write or not parent.is_dir():
        missing = path if not write else parent
        p.add(key, f"{missing} does not exist: create it (install -d -o {user} {path})")
    elif not os.access(parent, os.W_OK | os.X_OK):
        p.add(key, f"{path} does not exist, and {parent} is not writable by {user} to make "
                   f"it: create it (install -d -o {user} {path})")


def _absolute(key: str, text: str, p: Problems) -> Path | None:
    path = Path(text)
    if path.is_absolute():
        return path
    p.add(key, f"{text!r} is relative: it would be read from the current folder "
               f"({Path.cwd()}); write an absolute path")
    return None


def readable_file(key: str, text: str, p: Problems, *, rewritten: bool = False) -> None:
    path = _absolute(key, text, p)
    if path is None:
        return
    if not path.is_file():
        p.add(key, f"{path} does not exist")
    elif not os.access(path, os.R_OK):
        p.add(key, f"{path} is not readable by {_user()}")
    elif rewritten and not os.access(path.parent, os.W_OK | os.X_OK):
        p.add(key, f"{path.parent} is not writable by {_user()} (a renewed token is "
                   "written beside the old one)")


def _files(cfg: Config, p: Problems) -> None:
    boxes: list[tuple[str, ImapConfig | OutboundConfig]] = []
    if cfg.imap.enabled:
        boxes.append(("imap", cfg.imap))
    if cfg.outbound.transport == "smtp":
        boxes.append(("outbound", cfg.outbound))
    for section, box in boxes:
        for name in ("password_file", "oauth_client_secret_file", "oauth_refresh_token_file"):
            if getattr(box, name):
                readable_file(f"{section}.{name}", getattr(box, name), p,
                              rewritten=name == "oauth_refresh_token_file")


def host_problems(cfg: Config) -> list[ConfigError]:
    """Every problem of the host with this config, each naming its key; [] when none."""
    p = Problems()
    database = database_url(cfg.storage.url, p)
    if database is not None:
        folder("storage.url", database.parent, p)
    spool = _absolute("storage.spool", cfg.storage.spool, p)
    if spool is not None:
        folder("storage.spool", spool, p)
    if cfg.outbound.transport == "maildir":
        maildir = _absolute("outbound.maildir", cfg.outbound.maildir, p)
        if maildir is not None:
            folder("outbound.maildir", maildir, p)
    _files(cfg, p)
    if cfg.service.templates and _absolute("service.templates", cfg.service.templates,
                                           p) is None:
        return p.found
    from daemon.outbound.samples import template_problems  # Jinja2: only here

    for problem in template_problems(cfg):
        p.add("service.templates", problem)
    return p.found
