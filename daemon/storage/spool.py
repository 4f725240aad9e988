"""The spool: raw letters on disk, durable before anyone says "accepted".

Layout under `[storage].spool`:

    tmp/                   half-written files (never read), named after their
                           writer so a dead writer's leftovers can be removed
    incoming/ID            accepted letters waiting for the pipeline
    processing/WORKER/ID   claimed by one worker (a rename, so two daemons never
                           both take one letter)
    store/YYYY/MM/DD/ID    processed letters, kept for good; the database points here
                           by a path relative to this folder (`relative`)
    shunt/ID               letters a bug stopped, kept with a .reason file
    quarantine/QID         held letters (spam, malware), whole, with QID.json: the
                           envelope, the verdict, what staff may do (quarantine.py)
    attachments/ab/SHA256  attachment contents, content-addressed
    sent/OUTGOING_ID       the outbox's journal: letters the relay took whose
                           "sent" mark is not yet committed (see outbox.py)
    outbox.lock            held by whoever sends on SQLite (one sender at a time)

A spool file is one line of JSON metadata (envelope, source, time), then the
letter's bytes exactly as received. Writes go to tmp/, are fsync'd, renamed into
place, and the directory is fsync'd: after `accept()` returns, a power cut
cannot lose the letter. A worker that died leaves its claims in processing/;
`recover()` gives them back on start, and the runner calls `recover(others=True)`
on every pass, so a daemon that shares the spool takes over the claims of one
that was killed and not restarted.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path

MAGIC = b"SUPPORTD-SPOOL 1 "


@dataclass(frozen=True)
class Envelope:
    source: str  # smtp | lmtp | imap | ingest
    mail_from: str | None = None  # None: unknown; "": the null sender <>
    rcpt_to: tuple[str, ...] = ()
    source_key: str | None = None  # e.g. imap:host/folder:uidvalidity:uid
    peer: str = ""  # the client's IP, for the listener
    helo: str = ""  # the name it gave in HELO/EHLO/LHLO
    held: str = ""  # released from the quarantine: its entry there (`quarantine.py`)
    arrived_at: str = ""  # released: when it first arrived (ISO 8601; it was held since)


@dataclass
class SpooledLetter:
    spool_id: str
    path: Path
    envelope: Envelope
    received_at: datetime
    raw: bytes = field(repr=False)

    @property
    def sha256(self) -> str:
        return sha256(self.raw).hexdigest()


def _head(envelope: Envelope, now: datetime) -> bytes:
    """A spool file's first line. Its length depends on the envelope only: the time
    is always written with microseconds (`Receiving` writes it over at the end)."""
    meta = {"envelope": {"source": envelope.source, "mail_from": envelope.mail_from,
                         "rcpt_to": list(envelope.rcpt_to),
                         "source_key": envelope.source_key, "peer": envelope.peer,
                         "helo": envelope.helo,
                         **({"held": envelope.held, "arrived_at": envelope.arrived_at}
                            if envelope.held else {})},
            "received_at": now.isoformat(timespec="microseconds")}
    return MAGIC + json.dumps(meta, ensure_ascii=True).encode() + b"\n"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


fsync_dir = _fsync_dir  # for the outbox journal


def new_spool_id(now: datetime) -> str:
    # Sortable by arrival, unique across processes and hosts.
    return f"{now.strftime('%Y%m%dT%H%M%S%f')}-{os.urandom(8).hex()}"


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.incoming = root / "incoming"
        self.processing = root / "processing"
        self.store = root / "store"
        self.shunted = root / "shunt"
        self.attachments = root / "attachments"
        self.sent = root / "sent"
        self.quarantine = root / "quarantine"
        self.worker = worker_name()

    def ensure(self) -> None:
        for d in (self.tmp, self.incoming, self.processing, self.store, self.shunted,
                  self.attachments, self.sent, self.quarantine, self.claim_dir):
            d.mkdir(parents=True, exist_ok=True)

    @property
    def claim_dir(self) -> Path:
        return self.processing / self.worker

    # ------------------------------------------------------------ writing

    def tmp_path(self, name: str) -> Path:
        """A private file in tmp/; its name ends with the writer, for `recover()`."""
        return self.tmp / f"{name}.{os.urandom(4).hex()}+{self.worker}"

    def _write_durably(self, target: Path, data: Iterable[bytes]) -> None:
        tmp = self.tmp_path(target.name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            for chunk in data:
                view = memoryview(chunk)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        os.close(fd)
        try:
            os.rename(tmp, target)
        except BaseException:  # its folder is gone (or full): nothing half-done stays
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(target.parent)

    write_durably = _write_durably  # the quarantine's files

    def accept(self, raw: bytes, envelope: Envelope, *, claim: bool = False,
               now: datetime | None = None) -> SpooledLetter:
        """Store a letter durably. With claim=True it goes straight to this worker
        (the `ingest` command processes its own letter at once)."""
        now = now or datetime.now(UTC)
        spool_id = new_spool_id(now)
        target = (self.claim_dir if claim else self.incoming) / spool_id
        self._write_durably(target, [_head(envelope, now), raw])
        return SpooledLetter(spool_id, target, envelope, now, raw)

    def receive(self, envelope: Envelope) -> Receiving:
        """A letter to be written as it arrives (see `Receiving`)."""
        return Receiving(self, envelope)

    # ------------------------------------------------------------ reading

    @staticmethod
    def read(path: Path) -> SpooledLetter:
        # The head line, then the letter read once into its own bytes: not the whole
        # file and the letter sliced out of it, nor a buffered read that joins its
        # buffer to the rest (either is a second copy of a 25 MB letter).
        with open(path, "rb", buffering=0) as f:
            head = b""
            while (nl := head.find(b"\n")) == -1:
                chunk = f.read(64 * 1024)
                if not chunk:
                    break
                head += chunk
            if not head.startswith(MAGIC) or nl == -1:
                raise ValueError(f"{path} is not a spool file")
            f.seek(nl + 1)
            raw = f.readall()
        meta = json.loads(head[len(MAGIC):nl])
        env = meta["envelope"]
        envelope = Envelope(env["source"], env.get("mail_from"),
                            tuple(env.get("rcpt_to", ())), env.get("source_key"),
                            env.get("peer", ""), env.get("helo", ""),
                            env.get("held", ""), env.get("arrived_at", ""))
        return SpooledLetter(path.name, path, envelope,
                             datetime.fromisoformat(meta["received_at"]), raw)

    def relative(self, path: Path) -> str:
        """A spool file's path as the database keeps it: relative to the spool folder
        ("store/2026/12/06/ID", "attachments/ab/SHA"), so a restore elsewhere works."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def resolve(self, recorded: str) -> Path:
        """The file a database path names (`relative`; an absolute one as it is)."""
        path = Path(recorded)
        return path if path.is_absolute() else self.root / path

    @staticmethod
    def raw_of(stored_path: Path) -> bytes:
        """The letter's bytes exactly as received, from a stored spool file."""
        data = stored_path.read_bytes()
        return data[data.index(b"\n") + 1:] if data.startswith(MAGIC) else data

    # ------------------------------------------------------------ claiming

    def pending(self) -> list[Path]:
        try:
            return sorted(self.incoming.iterdir())
        except FileNotFoundError:
            return []

    def claim(self, path: Path) -> Path | None:
        target = self.claim_dir / path.name
        try:
            os.rename(path, target)
        except FileNotFoundError:
            return None  # another worker took it
        return target

    def claims(self) -> Iterator[Path]:
        yield from sorted(self.claim_dir.iterdir())

    def store_path(self, spool_id: str, received_at: datetime) -> Path:
        return self.store / received_at.strftime("%Y/%m/%d") / spool_id

    def finish_many(self, moves: list[tuple[Path, Path]]) -> list[OSError | None]:
        """Move processed letters to the store (after their transaction committed),
        each folder fsync'd once. An error per move, None where it succeeded."""
        errors: list[OSError | None] = []
        folders: set[Path] = set()
        for claimed, stored in moves:
            try:
                stored.parent.mkdir(parents=True, exist_ok=True)
                os.rename(claimed, stored)
            except OSError as exc:
                errors.append(exc)
                continue
            errors.append(None)
            folders.add(stored.parent)
        for folder in folders:
            with contextlib.suppress(OSError):  # renamed already; recovery covers a loss
                _fsync_dir(folder)
        return errors

    def drop_many(self, claimed: list[Path]) -> None:
        """Remove processed letters whose raw bytes were committed elsewhere (the
        database), each folder fsync'd once. A file that stays (an error) is taken
        again after a restart and found committed: only removed then."""
        folders: set[Path] = set()
        for path in claimed:
            with contextlib.suppress(OSError):
                path.unlink()
                folders.add(path.parent)
        for folder in folders:
            with contextlib.suppress(OSError):
                _fsync_dir(folder)

    def release(self, claimed: Path) -> None:
        """Give a claimed letter back to incoming/ (the database was away)."""
        with contextlib.suppress(FileNotFoundError):
            os.rename(claimed, self.incoming / claimed.name)

    def discard(self, claimed: Path) -> None:
        """Drop a letter that was never acknowledged to its sender (ingest exit 75)."""
        with contextlib.suppress(FileNotFoundError):
            claimed.unlink()
            _fsync_dir(claimed.parent)

    def shunt(self, claimed: Path, reason: str) -> Path:
        target = self.shunted / claimed.name
        os.rename(claimed, target)
        (self.shunted / f"{claimed.name}.reason").write_text(reason, encoding="utf-8")
        return target

    def expire(self, now: datetime, *, shunted: timedelta, tmp: timedelta) -> dict[str, int]:
        """Delete shunted letters older than `shunted` (with their .reason) and files in
        tmp/ older than `tmp` (a writer that died on another host); a zero age keeps
        them. Returns how many of each were deleted."""
        removed = {"shunted": 0, "tmp": 0}
        for key, folder, age in (("shunted", self.shunted, shunted), ("tmp", self.tmp, tmp)):
            if age <= timedelta(0):
                continue
            cutoff = (now - age).timestamp()
            try:
                files = list(folder.iterdir())
            except FileNotFoundError:
                continue
            for f in files:
                with contextlib.suppress(FileNotFoundError):
                    if f.is_file() and f.stat().st_mtime < cutoff:
                        f.unlink()
                        removed[key] += not f.name.endswith(".reason")
        return removed

    def _dead(self, worker: str, *, others: bool) -> bool:
        """Is `worker` (host-pid) a process of this host that is gone?

        At start-up our own pid's leftovers are an earlier process's (pid reuse);
        while running (others=True) our own claims are in use and never "dead"."""
        name, _, pid = worker.rpartition("-")
        if name != socket.gethostname() or not pid.isdigit():
            return False
        if worker == self.worker:
            return not others
        return not _alive(int(pid))

    def recover(self, *, others: bool = False) -> list[str]:
        """Give back claims of workers on this host that are no longer alive, and
        remove their half-written files from tmp/.

        Two daemons sharing the spool may both recover one dead worker at once: a
        file the other one moved first is simply skipped."""
        recovered: list[str] = []
        try:
            workers = list(self.processing.iterdir())
        except FileNotFoundError:
            workers = []
        for d in workers:
            if not self._dead(d.name, others=others):
                continue
            try:
                files = sorted(d.iterdir())
            except (FileNotFoundError, NotADirectoryError):
                continue
            for f in files:
                try:
                    os.rename(f, self.incoming / f.name)
                except FileNotFoundError:
                    continue  # another daemon recovered it first
                recovered.append(f.name)
            if recovered:
                with contextlib.suppress(OSError):
                    _fsync_dir(self.incoming)
            if d != self.claim_dir:
                with contextlib.suppress(OSError):
                    d.rmdir()
        try:
            leftovers = list(self.tmp.iterdir())
        except FileNotFoundError:
            leftovers = []
        for f in leftovers:
            _, plus, writer = f.name.rpartition("+")
            if plus and self._dead(writer, others=others):
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
        return recovered

    # ------------------------------------------------------------ attachments

    def put_attachment(self, content: bytes | Iterator[bytes],
                       digest: str | None = None) -> tuple[str, Path]:
        """Store an attachment durably (the database will point at it). Raises
        OSError (ENOSPC on a full disk) and leaves nothing half-written behind.
        `content`: its bytes, or (with its sha256 `digest`, hex) its pieces in order,
        which are written one at a time and not read at all when it is stored."""
        if isinstance(content, bytes):
            digest = digest or sha256(content).hexdigest()
        elif digest is None:
            raise ValueError("pieces of an attachment need its digest")
        target = self.attachments / digest[:2] / digest
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            self._write_durably(target, [content] if isinstance(content, bytes) else content)
        return digest, target


def is_disk_full(exc: BaseException) -> bool:
    """A full disk or quota: a temporary failure, never a reason to drop a letter."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True



# The time written in a receiving letter's head until `commit` writes the real one
# over it (the same length: an aware UTC time with microseconds).
_STAND_IN = datetime(2000, 1, 1, tzinfo=UTC)


class Receiving:
    """A letter written to tmp/ as it arrives, so a big one is never held whole in
    memory (the listener's DATA past `smtp_listener.SPILL`). The head goes first with
    a stand-in time of the same length; `commit` writes the time of acceptance over
    it, fsyncs and renames into incoming/, exactly what `Spool.accept` leaves behind.
    Until then nothing was accepted: `abort` removes it, and so does `recover()` for
    a writer that died."""

    def __init__(self, spool: Spool, envelope: Envelope) -> None:
        self.spool, self.envelope = spool, envelope
        self.tmp = spool.tmp_path("receiving")
        stand_in = _head(envelope, _STAND_IN)
        self.head_size = len(stand_in)
        self.size = 0  # the letter's bytes written so far
        self.fd: int | None = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            self._write(stand_in)
        except BaseException:
            self.abort()
            raise

    def _write(self, data: bytes | bytearray) -> None:
        assert self.fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def write(self, data: bytes | bytearray) -> None:
        self._write(data)
        self.size += len(data)

    def commit(self, now: datetime) -> tuple[str, Path]:
        """Durable in incoming/ under a spool id of `now`: (spool id, path)."""
        assert self.fd is not None
        head = _head(self.envelope, now)
        assert len(head) == self.head_size
        os.pwrite(self.fd, head, 0)
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = None
        spool_id = new_spool_id(now)
        target = self.spool.incoming / spool_id
        os.rename(self.tmp, target)
        _fsync_dir(target.parent)
        return spool_id, target

    def abort(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        with contextlib.suppress(OSError):
            self.tmp.unlink()
