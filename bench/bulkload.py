"""The scale benchmark's helpers: a bulk load of N old tickets, and timed lookups.

`bulk_load` writes N tickets as a desk would have them after years of work: each
with its client letter and our acknowledgement (two `messages`), the
acknowledgement's `outgoing` row and the letter's `inbound` row; all closed but
the last 200. Columns are read from the migrated database, so a column added
later gets a filler when it is NOT NULL without a server default. SQLite gets
`executemany` on its own connection; PostgreSQL gets COPY.

`lookups` times the statements the pipeline runs per letter against that data,
one fresh session each, as each letter has its own transaction. `plans` shows
how the database runs them (EXPLAIN).
"""

from __future__ import annotations

import hashlib
import json
import operator
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.engine import make_url

from daemon.threading_tid import format_tid  # noqa: E402

CHUNK = 20_000
OPEN_TAIL = 200
AGENTS = ("agent1@example.ru", "agent2@example.ru")
DESK = "techsupport@example.ru"


BASE = datetime(2024, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=730)


def requester(i: int) -> str:
    return f"client{i % 50_000}@bulk.example"


def content_hash(i: int) -> str:
    return hashlib.sha256(f"bulk-{i}".encode()).hexdigest()


def in_id(i: int) -> str:
    return f"<bulk.{i}@client.example>"


def ack_id(i: int) -> str:
    return f"<supportd.ack.{i}.{i:016x}@example.ru>"


def _tables(n: int, sqlite: bool) -> list[tuple[str, Callable[[int], Iterator[dict[str, Any]]]]]:
    """Row makers per table, values already in the form the driver takes."""
    step = SPAN.total_seconds() / max(1, n)
    days = [(BASE + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(SPAN.days + 10)]
    # SQLite: naive UTC text, as SQLAlchemy's DateTime stores it; PostgreSQL: COPY text.
    suffix = "" if sqlite else "+00"

    def ts(i: int, extra: int = 0) -> str:
        d, r = divmod(int(i * step) + extra, 86400)
        return f"{days[d]} {r // 3600:02d}:{r % 3600 // 60:02d}:{r % 60:02d}{suffix}"

    yes, no = (1, 0) if sqlite else ("t", "f")
    day, hour, sec = 86400, 3600, 1
    to_desk = json.dumps([DESK])

    def tickets(i: int) -> Iterator[dict[str, Any]]:
        t = ts(i)
        closed = i <= n - OPEN_TAIL
        yield dict(id=i, tid=format_tid(i), subject=f"Архивное обращение {i}",
                   status="closed" if closed else "open", sla_level="consultation",
                   emergency=no, developers_involved=no, requester=requester(i),
                   requester_name="", participants="[]", identified_by="",
                   assignee=AGENTS[i % 2], received_at=t, clock_started_at=t,
                   reaction_due=ts(i, day), first_response_at=ts(i, hour),
                   awaiting_reaction=no, needs_attention=no, attention_reason="",
                   missing_info="[]", credentials_shared=no, created_at=t, updated_at=t,
                   closed_at=ts(i, 2 * day) if closed else None)

    def outgoing(i: int) -> Iterator[dict[str, Any]]:
        t = ts(i)
        yield dict(id=i, ticket_id=i, kind="ack", automatic=yes, recipient=requester(i),
                   subject=f"[SD-{i}] Архивное обращение", message_id=ack_id(i),
                   raw=b"", status="sent", attempts=1, next_attempt_at=t, last_error="",
                   created_at=t, sent_at=t)

    def messages(i: int) -> Iterator[dict[str, Any]]:
        t = ts(i)
        who = requester(i)
        yield dict(id=2 * i - 1, ticket_id=i, direction="in", kind="client",
                   from_addr=who, to_addrs=to_desk, cc_addrs="[]",
                   subject=f"Архивное обращение {i}", message_id=in_id(i), at=t,
                   body_text=f"Текст обращения {i}", raw_path="",
                   content_hash=content_hash(i), outgoing_id=None)
        yield dict(id=2 * i, ticket_id=i, direction="out", kind="ack", from_addr=DESK,
                   to_addrs=f'["{who}"]', cc_addrs="[]",
                   subject=f"[SD-{i}] Архивное обращение", message_id=ack_id(i),
                   at=ts(i, sec), body_text="Обращение зарегистрировано.",
                   raw_path="", content_hash=None, outgoing_id=i)

    def inbound(i: int) -> Iterator[dict[str, Any]]:
        t = ts(i)
        yield dict(id=i, spool_id=f"bulk-{i:09d}", source="smtp", envelope_from=requester(i),
                   envelope_to=to_desk, received_at=t, processed_at=t, size=3000,
                   sha256="0" * 64, raw_path="", message_id_header=in_id(i),
                   outcome="ticket", reason="new", ticket_id=i)

    return [("tickets", tickets), ("outgoing", outgoing), ("messages", messages),
            ("inbound", inbound)]


def _filler(col: dict[str, Any], sqlite: bool) -> Any:
    name = type(col["type"]).__name__.lower()
    if "bool" in name:
        return 0 if sqlite else "f"
    if "int" in name or "numeric" in name:
        return 0
    if "date" in name or "time" in name:
        return "2024-11-01 00:00:00" if sqlite else "2024-11-01 00:00:00+00:00"
    if "json" in name:
        return "[]"
    if "binary" in name or "blob" in name or "bytea" in name:
        return b""
    return ""


def _columns(engine: Engine, table: str, sample: dict[str, Any]) -> tuple[list[str], dict]:
    sqlite = engine.dialect.name == "sqlite"
    cols = inspect(engine).get_columns(table)
    names, fill = [], {}
    for c in cols:
        if c["name"] in sample or (not c["nullable"] and c.get("default") is None):
            names.append(c["name"])
            if c["name"] not in sample:
                fill[c["name"]] = _filler(c, sqlite)
    return names, fill


def bulk_load(engine: Engine, n: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    dialect = engine.dialect.name
    for table, rows_of in _tables(n, dialect == "sqlite"):
        t0 = time.perf_counter()
        sample = next(rows_of(1))
        names, fill = _columns(engine, table, sample)
        getter = operator.itemgetter(*names)

        def rows(lo: int, hi: int, rows_of: Any = rows_of, getter: Any = getter,
                 fill: dict = fill) -> Iterator[tuple]:
            for i in range(lo, hi):
                for r in rows_of(i):
                    if fill:
                        r.update(fill)
                    yield getter(r)

        if dialect == "sqlite":
            _load_sqlite(engine, table, names, rows, n)
        else:
            _load_pg(engine, table, names, rows, n)
        timings[table] = time.perf_counter() - t0
    with engine.begin() as conn:
        if dialect == "postgresql":
            for table, _ in _tables(n, False):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))
    return timings


def _load_sqlite(engine: Engine, table: str, names: list[str], rows: Any, n: int) -> None:
    import sqlite3

    path = make_url(str(engine.url)).database
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-400000")
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    for lo in range(1, n + 1, CHUNK):
        hi = min(n + 1, lo + CHUNK)
        con.executemany(sql, rows(lo, hi))
        con.commit()
    con.close()


def _load_pg(engine: Engine, table: str, names: list[str], rows: Any, n: int) -> None:
    import psycopg

    u = make_url(str(engine.url))
    with psycopg.connect(host=u.host, port=u.port or 5432, user=u.username,
                         password=u.password, dbname=u.database) as con:
        with con.cursor() as cur:
            # Trusted rows: skip the per-row foreign-key triggers, as a restore does.
            cur.execute("SET session_replication_role = replica")
        with con.cursor() as cur, cur.copy(
                f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
            for lo in range(1, n + 1, CHUNK):
                # Our values hold no tab, newline or backslash: plain COPY text.
                copy.write("".join(
                    "\t".join(r"\N" if v is None else "" if v == b"" else str(v) for v in r)
                    + "\n" for r in rows(lo, min(n + 1, lo + CHUNK))))
        con.commit()


def _time(fn: Callable[[int], Any], keys: list[int]) -> dict[str, float]:
    times = []
    for k in keys:
        t0 = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"median_us": statistics.median(times) * 1e6,
            "p99_us": times[min(len(times) - 1, int(0.99 * len(times)))] * 1e6,
            "count": len(times)}


def lookups(app: Any, n: int, count: int, seed: int) -> dict[str, Any]:
    from daemon.pipeline.steps.store import pick_assignee
    from daemon.storage.models import Inbound, Message, Ticket
    from daemon.threading_tid import find_tid

    rnd = random.Random(seed)
    keys = [rnd.randint(1, n) for _ in range(count)]
    since = datetime.now(UTC) - timedelta(hours=24)

    def tid(k: int) -> None:
        subject = f"Re: [{format_tid(k)}] Архивное обращение {k}"
        with app.sessions() as s:
            t = s.get(Ticket, find_tid(subject))
            assert t is not None and t.id == k

    def in_reply_to(k: int) -> None:
        with app.sessions() as s:
            got = s.scalar(select(Message.ticket_id).where(
                Message.message_id.in_([ack_id(k)]), Message.direction == "out").limit(1))
            assert got == k

    def message_id(k: int) -> None:
        with app.sessions() as s:
            s.scalar(select(Message).where(Message.message_id == in_id(k),
                                           Message.direction == "in",
                                           Message.from_addr == requester(k)).limit(1))

    def by_content(k: int) -> None:
        with app.sessions() as s:
            s.scalar(select(Message).where(Message.content_hash == content_hash(k),
                                           Message.direction == "in",
                                           Message.at >= since).limit(1))

    def spool_id(k: int) -> None:
        with app.sessions() as s:
            s.scalar(select(Inbound).where(Inbound.spool_id == f"bulk-{k:09d}"))

    def auto_cap(k: int) -> None:
        with app.sessions() as s:
            app.notifier.automatic_sent_last_hour(s, requester(k))

    def assignee(k: int) -> None:
        with app.sessions() as s:
            pick_assignee(s, app)

    out = {"tid_subject_to_ticket": _time(tid, keys),
           "in_reply_to_ack": _time(in_reply_to, keys),
           "duplicate_message_id": _time(message_id, keys),
           "duplicate_content_hash": _time(by_content, keys),
           "inbound_spool_id": _time(spool_id, keys),
           "auto_reply_cap_count": _time(auto_cap, keys),
           "pick_assignee": _time(assignee, keys[: max(5, count // 40)])}
    return out


def plans(app: Any) -> dict[str, str]:
    """EXPLAIN of the per-letter statements, mirrored from the steps as plain SQL."""
    sqlite = app.engine.dialect.name == "sqlite"
    true = "1" if sqlite else "true"
    stmts = {
        "tid → ticket (thread.py)": "SELECT * FROM tickets WHERE id = 4242",
        "In-Reply-To → ticket (thread.py)":
            "SELECT ticket_id FROM messages WHERE message_id IN ('<a@b>') "
            "AND direction = 'out' LIMIT 1",
        "duplicate Message-ID (screen.py)":
            "SELECT id FROM messages WHERE message_id = '<a@b>' AND direction = 'in' "
            "AND from_addr = 'a@b' LIMIT 1",
        "duplicate content hash (screen.py)":
            "SELECT id FROM messages WHERE content_hash = 'x' AND direction = 'in' "
            "AND at >= '2026-01-01' LIMIT 1",
        "spool id done? (runner.py)": "SELECT id FROM inbound WHERE spool_id = 'x'",
        "auto-reply cap (notifier.py)":
            f"SELECT count(*) FROM outgoing WHERE recipient = 'a@b' AND automatic = {true} "
            "AND created_at >= '2026-01-01'",
        "pick_assignee (store.py)":
            "SELECT assignee, count(*) FROM tickets WHERE status != 'closed' AND assignee IN "
            "('agent1@example.ru', 'agent2@example.ru') GROUP BY assignee",
    }
    out = {}
    with app.engine.connect() as conn:
        for name, sql in stmts.items():
            rows = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + sql)
            lines = [str(r[-1]) if sqlite else str(r[0]) for r in rows]
            out[name] = " | ".join(ln.strip() for ln in lines)
    return out
