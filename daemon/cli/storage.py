"""`supportd storage check` and `supportd storage migrate` (daemon/storage/blobs.py).

`check` reads every stored raw letter and attachment and compares it with the
SHA-256 its row names: one line per problem, a summary, exit 65 when any is
found (a mismatch is also a `storage.hash_mismatch` log line). `migrate --to
database` copies what is still in the spool folder into the database's blobs
table, in batches of one transaction each: every copy is read back and verified
before its rows are pointed at it, so it can be stopped at any moment and run
again (it goes on with what is left); the files stay where they were.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from daemon.cli.common import EX_DATAERR, EX_TEMPFAIL, EX_USAGE, _app, _print_json

BATCH = 200  # rows a transaction: a stop loses at most this much work, never data


def cmd_storage_check(args: argparse.Namespace) -> int:
    from daemon.storage import blobs, db

    app = _app(args)
    counts = {"letters": 0, "attachments": 0}
    problems: list[dict[str, str]] = []
    try:
        with app.sessions() as session:
            for f in blobs.check(session, app.spool.root):
                counts["letters" if f.what.startswith("letter") else "attachments"] += 1
                if f.problem:
                    problems.append({"what": f.what, "locator": f.locator,
                                     "problem": f.problem})
                    if not args.json:
                        print(f"{f.what}: {f.problem}")
    except Exception as exc:
        if db.is_temporary(exc):
            print(f"database unavailable: {exc}", file=sys.stderr)
            return EX_TEMPFAIL
        raise
    if args.json:
        _print_json({**counts, "problems": problems})
    else:
        print(f"checked {counts['letters']} letters and {counts['attachments']} attachments: "
              + (f"{len(problems)} problems" if problems else "all match their hashes"))
    return EX_DATAERR if problems else 0


@dataclass
class Moved:
    rows: int = 0
    bytes: int = 0
    failed: int = 0


def _migrate_table(app: Any, model: Any, column: str, digest: Any, moved: Moved) -> None:
    """Point every row of `model` whose `column` names a file at a verified copy in
    the database, a batch a transaction. `digest`: the column holding the hash the
    bytes must have, or None (a message's raw letter: the hash of what is read)."""
    from sqlalchemy import literal, select, update

    from daemon.storage import blobs, db

    col = getattr(model, column)
    last = 0
    while True:
        with db.unit_of_work(app.sessions) as session:
            q = (select(model.id, col, digest if digest is not None else literal(""))
                 .where(col.is_not(None), ~col.startswith(blobs.DB), model.id > last)
                 .order_by(model.id).limit(BATCH))
            rows = session.execute(q).all()
            if not rows:
                return
            for rid, locator, expected in rows:
                last = rid
                what = f"{model.__tablename__} {rid}"
                try:
                    data = blobs.fetch(session, locator, app.spool.root)
                except (blobs.Missing, OSError) as exc:
                    print(f"{what}: {exc}", file=sys.stderr)
                    moved.failed += 1
                    continue
                expected = expected or sha256(data).hexdigest()
                blobs.read(session, locator, expected, what, app.spool.root)  # a mismatch stops it
                new = blobs.put(session, data, expected)
                blobs.read(session, new, expected, what)  # the copy, read back
                session.execute(update(model).where(model.id == rid).values({column: new}))
                moved.rows += 1
                moved.bytes += len(data)


def cmd_storage_migrate(args: argparse.Namespace) -> int:
    from daemon.storage import blobs, db
    from daemon.storage.models import Attachment, Inbound, Message

    if args.to not in ("database", args.cfg.storage.url):
        print(f"--to: {args.to!r}: this version moves stored letters into the database "
              "only (--to database, or the [storage] url itself)", file=sys.stderr)
        return EX_USAGE
    app = _app(args)
    moved = Moved()
    try:
        for model, column, digest in ((Inbound, "raw_path", Inbound.sha256),
                                      (Message, "raw_path", None),
                                      (Attachment, "stored_path", Attachment.sha256)):
            _migrate_table(app, model, column, digest, moved)
    except blobs.HashMismatch as exc:
        print(f"stopped: {exc} (see `supportd storage check`)", file=sys.stderr)
        return EX_DATAERR
    except Exception as exc:
        if db.is_temporary(exc):
            print(f"database unavailable: {exc}; run it again to go on", file=sys.stderr)
            return EX_TEMPFAIL
        raise
    print(f"moved {moved.rows} rows ({moved.bytes} bytes) into the database"
          + (f"; {moved.failed} could not be read (left as they are)" if moved.failed else ""))
    return EX_DATAERR if moved.failed else 0


def add_parsers(sub: Any) -> None:
    sp = sub.add_parser("storage", help="stored raw letters and attachments").add_subparsers(
        dest="st_command", required=True)
    s = sp.add_parser("check", help="verify every stored letter and attachment against its "
                                    "hash (exit 65 when one does not match or is missing)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_storage_check)
    s = sp.add_parser("migrate", help="copy stored letters and attachments from the spool "
                                      "folder into the database (resumable, verified)")
    s.add_argument("--to", required=True, help="database (the [storage] url's database)")
    s.set_defaults(func=cmd_storage_migrate)
