"""Stored raw letters and attachments, wherever they are kept, read back verified.

A row names what it keeps by a locator (`inbound.raw_path`, `messages.raw_path`,
`attachments.stored_path`), and by its SHA-256 (`inbound.sha256`,
`attachments.sha256`):

    store/2026/12/06/ID              a letter in the spool folder (its file begins with
                                     the spool's head line; the letter follows), by its
                                     path relative to `[storage] spool`
    attachments/ab/SHA256            an attachment in the spool folder
    db:SHA256                        the `blobs` table of the database (`[storage]
                                     blobs = "database"`): content-addressed, so a
                                     letter or attachment met twice is kept once

`[storage] blobs` says where new ones go; what is already stored stays readable
wherever it is (`supportd storage migrate` moves it). Whatever reads one back
goes through `read`, which compares it with the hash its row names: a mismatch is
a `storage.hash_mismatch` line in the log and `HashMismatch`. `check` walks every
one (`supportd storage check`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from daemon.storage.models import Attachment, Blob, Inbound
from daemon.storage.spool import MAGIC

log = structlog.get_logger("supportd.storage")

DB = "db:"
BACKENDS = ("spool", "database")


class HashMismatch(Exception):
    """Stored bytes that are not what their row says they are."""


class Missing(Exception):
    """A locator that names nothing."""


def locator_of(digest: str) -> str:
    return DB + digest


def in_database(locator: str) -> bool:
    return locator.startswith(DB)


def raw_of(data: bytes) -> bytes:
    """The letter's bytes of a spool file (past its head line); other files as they are."""
    return data[data.index(b"\n") + 1:] if data.startswith(MAGIC) else data


def put(session: Session, data: bytes, digest: str | None = None) -> str:
    """Keep `data` in the database in the caller's transaction; its locator. A blob
    already there (the same bytes, met before) is kept once."""
    digest = digest or sha256(data).hexdigest()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(Blob).values(sha256=digest, size=len(data), data=data)
                    .on_conflict_do_nothing(index_elements=["sha256"]))
    return locator_of(digest)


def fetch(session: Session, locator: str, spool_root: Path | None = None) -> bytes:
    """The stored bytes as they are (unverified); a spool path relative to
    `spool_root`, as the database keeps it. Raises Missing."""
    if in_database(locator):
        data = session.scalar(select(Blob.data).where(Blob.sha256 == locator[len(DB):]))
        if data is None:
            raise Missing(f"{locator}: no such blob")
        return bytes(data)
    path = Path(locator)
    if not path.is_absolute() and spool_root is not None:
        path = spool_root / path
    try:
        return raw_of(path.read_bytes())
    except FileNotFoundError:
        raise Missing(f"{locator}: no such file") from None


def read(session: Session, locator: str, digest: str, what: str = "",
         spool_root: Path | None = None) -> bytes:
    """The bytes behind `locator`, verified against `digest`. Raises Missing, or
    HashMismatch after logging it."""
    data = fetch(session, locator, spool_root)
    got = sha256(data).hexdigest()
    if got != digest:
        log.error("storage.hash_mismatch", locator=locator, what=what, expected=digest,
                  got=got, size=len(data),
                  hint="the stored copy changed since it was written; `supportd storage check`")
        raise HashMismatch(f"{locator}: sha256 {got}, its row says {digest}")
    return data


@dataclass(frozen=True)
class Finding:
    what: str  # "letter SPOOL_ID" | "attachment ID (NAME)"
    locator: str
    problem: str  # "" when it is fine


def stored(session: Session) -> Iterator[tuple[str, str, str]]:
    """(what, locator, sha256) of every stored letter and attachment."""
    q = select(Inbound.spool_id, Inbound.raw_path, Inbound.sha256).order_by(Inbound.id)
    for spool_id, locator, digest in session.execute(q.execution_options(yield_per=500)):
        yield f"letter {spool_id}", locator, digest
    q2 = (select(Attachment.id, Attachment.filename, Attachment.stored_path, Attachment.sha256)
          .where(Attachment.stored_path.is_not(None)).order_by(Attachment.id))
    for aid, name, path, digest in session.execute(q2.execution_options(yield_per=500)):
        yield f"attachment {aid} ({name})", path or "", digest


def check(session: Session, spool_root: Path | None = None) -> Iterator[Finding]:
    """Every stored letter and attachment read and compared with its hash. One read
    of a content-addressed blob or file serves every row that names it."""
    verdicts: dict[tuple[str, str], str] = {}
    for what, locator, digest in stored(session):
        key = (locator, digest)
        problem = verdicts.get(key)
        if problem is None:
            try:
                read(session, locator, digest, what, spool_root)
                problem = ""
            except (Missing, HashMismatch, OSError) as exc:
                problem = str(exc)
            if len(verdicts) > 100_000:  # a bound on memory; a repeat is read again
                verdicts.clear()
            verdicts[key] = problem
        yield Finding(what, locator, problem)
