"""`supportd backup DIR` and `supportd restore DIR`: the database and the spool's
letters, consistent, with a manifest of hashes, restorable on another host.

A backup folder holds:

    manifest.json          what is in it: the version and schema that wrote it, the
                           database file, and every file with its sha256 and size
    database.sqlite        SQLite's online backup (a consistent copy while the
                           daemon runs), or database.pgdump (`pg_dump -Fc`)
    spool/store/...        the stored letters (raw, as received)
    spool/attachments/...  the attachments, content-addressed
    spool/incoming/...     letters in flight at the time (not yet processed)

The database is copied first, the files after it: every letter the copied database
knows is in the copied store (a letter is moved to the store only after its
commit, and one committed but not yet moved is copied from where it waits), and a
letter stored meanwhile is in the backup's files, where `store reimport` finds it.

Restore checks every hash first and changes nothing when one differs; an SQLite
database it replaces is kept beside it (`.before-restore-STAMP`), never deleted;
the spool's files are added to, never removed (letters stored after the backup
stay, for `store reimport`). The database keeps paths relative to the spool folder
(migration 0013), so a restore under another `[storage] spool` or host works.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from daemon.storage.revisions import sqlite_file
from daemon.storage.spool import Spool

MANIFEST = "manifest.json"
KEPT = ("store", "attachments")  # the spool's folders kept for good
IN_FLIGHT = ("incoming", "processing")  # letters not yet processed: back into incoming/


class BackupError(Exception):
    """A backup or restore that cannot be done: one line saying why (nothing changed)."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it (no +driver)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(tool: str, *args: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (apt-get install postgresql-client)")
    p = subprocess.run([tool, *args], capture_output=True, text=True)
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines()
        raise BackupError(f"{tool} failed: {lines[-1] if lines else f'exit {p.returncode}'}")


def dump_database(url: str, target: Path) -> Path:
    path = sqlite_file(url)
    if path is not None:
        if not path.exists():
            raise BackupError(f"no database at {path}")
        out = target / "database.sqlite"
        src, dst = sqlite3.connect(path), sqlite3.connect(out)
        try:
            src.backup(dst)  # the online backup API: a consistent copy under writers
        finally:
            dst.close()
            src.close()
        return out
    if make_url(url).get_backend_name() != "postgresql":
        raise BackupError(f"cannot back up a {make_url(url).get_backend_name()} database")
    out = target / "database.pgdump"
    _run("pg_dump", "--format=custom", "--no-owner", f"--file={out}", f"--dbname={_libpq(url)}")
    return out


def _files(spool: Spool) -> Iterator[tuple[Path, str]]:
    """(file, its place in the backup) for every file of the spool to keep."""
    for part in KEPT:
        root = spool.root / part
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if path.is_file():
                yield path, f"spool/{path.relative_to(spool.root)}"
    for part in IN_FLIGHT:
        root = spool.root / part
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if path.is_file():
                yield path, f"spool/incoming/{path.name}"


@dataclass(frozen=True)
class Summary:
    database: str
    files: int
    size: int


def backup(url: str, spool: Spool, target: Path, *, version: str, revision: str | None,
           now: datetime) -> Summary:
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new folder")
    target.mkdir(parents=True, exist_ok=True)
    database = dump_database(url, target)
    files: dict[str, dict[str, Any]] = {}
    for path, name in _files(spool):
        out = target / name
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(path, out)
        except FileNotFoundError:
            continue  # moved on meanwhile (processed, or recovered): found at its new place
        files[name] = {"sha256": sha256_of(out), "size": out.stat().st_size}
    manifest = {"supportd": version, "schema": revision, "created_at": now.isoformat(),
                "database": {"file": database.name, "sha256": sha256_of(database),
                             "kind": "sqlite" if database.suffix == ".sqlite" else "postgresql"},
                "files": files}
    tmp = target / f"{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, target / MANIFEST)
    return Summary(database.name, len(files), sum(f["size"] for f in files.values()))


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{source} holds no {MANIFEST}: not a supportd backup") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source / MANIFEST} cannot be read: {exc}") from None
    return manifest


def verify(source: Path, manifest: dict[str, Any]) -> None:
    """Every file there, with its hash; BackupError naming the first that is not."""
    wanted = {manifest["database"]["file"]: manifest["database"]["sha256"],
              **{name: f["sha256"] for name, f in manifest["files"].items()}}
    bad = [name for name, digest in wanted.items()
           if not (source / name).is_file() or sha256_of(source / name) != digest]
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise BackupError(f"{source / bad[0]} is missing or damaged (sha256 differs){more}: "
                          "nothing restored")


def restore_database(url: str, source: Path, manifest: dict[str, Any], stamp: str) -> None:
    dump = source / manifest["database"]["file"]
    path = sqlite_file(url)
    if (path is not None) != (manifest["database"]["kind"] == "sqlite"):
        raise BackupError(f"the backup holds a {manifest['database']['kind']} database; "
                          "storage.url names another kind")
    if path is None:
        _run("pg_restore", "--clean", "--if-exists", "--no-owner", f"--dbname={_libpq(url)}",
             str(dump))
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            os.rename(old, Path(f"{path}.before-restore-{stamp}{suffix}"))
    shutil.copy2(dump, path)


def restore_files(spool: Spool, source: Path, manifest: dict[str, Any]) -> int:
    """Add the backup's files to the spool (none removed, an existing one kept);
    letters in flight go to incoming/ unless already stored. Returns files added."""
    spool.ensure()
    stored = {p.name for p in spool.store.rglob("*")} if spool.store.exists() else set()
    added = 0
    for name in manifest["files"]:
        rel = Path(name).relative_to("spool")
        target = spool.root / rel
        if rel.parts[0] == "incoming" and rel.name in stored:
            continue
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / name, target)
        added += 1
    return added
