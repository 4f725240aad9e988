"""The config file of a desk, written the same way for the tests, `bench/run.py` and
the soak: one writer, so a desk measured is configured as a desk tested.

`write_config` writes `supportd.toml` in a folder: the service address, a SQLite
database in the folder (or the URL given), the spool and an outbox Maildir beside it,
the SMTP listener on a free loopback port, JSON logs, and the three staff of `STAFF`.
The callers say what differs: the benchmark's desks take the default 25 MiB letter
limit and keep the listener off unless they run a daemon; the soak's speaks LMTP.
"""

from __future__ import annotations

import socket
from pathlib import Path

DESK_ADDRESS = "techsupport@example.ru"
TEST_LETTER_LIMIT = 1_048_576  # 1 MiB: the tests' big-letter refusals stay quick

STAFF = """
[[staff]]
name = "Анна Петрова"
email = "agent1@example.ru"
phone = "+7 000 000-00-01"
role = "agent"

[[staff]]
name = "Игорь Смирнов"
email = "agent2@example.ru"
phone = "+7 000 000-00-02"
role = "agent"

[[staff]]
name = "Руководитель"
email = "head@example.ru"
phone = "+7 000 000-00-09"
role = "head"
"""


# The test desk's MTA: letters carrying its Authentication-Results are as a real
# Postfix with OpenDMARC would mark them; none of our own DNS checks (no DNS here).
TEST_AUTH = 'trusted_authserv_id = "mx.example.ru"\nverify = false\n'


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(root: Path, db_url: str | None = None, extra: str = "",
                 smtp_port: int | None = None, outbound: str | None = None, *,
                 listen: bool = True, max_message_size: int = TEST_LETTER_LIMIT,
                 lmtp: bool | None = None, retry_base: str | None = "1s",
                 log_level: str | None = None, auth: str | None = TEST_AUTH) -> Path:
    """`root/supportd.toml` for a desk living in `root`; returns its path.

    `outbound`: the [outbound] lines (default: a Maildir in `root/outbox`).
    `lmtp`, `retry_base`, `log_level`: their lines are written only when not None;
    `auth`: the [auth] lines (default: our MTA is mx.example.ru, no DNS asked)."""
    url = db_url or f"sqlite:///{root}/supportd.db"
    out = outbound or f'transport = "maildir"\nmaildir = "{root}/outbox"'
    lmtp_line = "" if lmtp is None else f"lmtp = {'true' if lmtp else 'false'}\n"
    retry_line = "" if retry_base is None else f'retry_base = "{retry_base}"\n'
    level_line = "" if log_level is None else f'level = "{log_level}"\n'
    text = f"""[service]
address = "{DESK_ADDRESS}"
timezone = "Europe/Moscow"

[storage]
url = "{url}"
spool = "{root}/spool"

[smtp]
enabled = {'true' if listen else 'false'}
host = "127.0.0.1"
port = {smtp_port or free_port()}
{lmtp_line}max_message_size = {max_message_size}

[imap]
enabled = false

[outbound]
{out}
{retry_line}
{"" if auth is None else "[auth]" + chr(10) + auth}
[logging]
format = "json"
{level_line}{STAFF}
{extra}
"""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "supportd.toml"
    path.write_text(text, encoding="utf-8")
    return path
