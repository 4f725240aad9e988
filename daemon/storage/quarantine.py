"""The quarantine: letters held back from the desk, kept whole for staff to judge.

A letter judged spam (`[spam] hold_score`) becomes no ticket and gets no answer
(an answer to a forged sender is backscatter); a letter whose attachment carries
malware opens its ticket without the file, and its raw bytes come here. Nothing is
lost: under the spool's `quarantine/` each entry is two files, written durably
before the letter's transaction commits:

    QID        the spool file as it was: one line of envelope, then the raw bytes
    QID.json   the record: why (spam | malware), the verdict, sender, subject,
               arrival, and when a letter at `reject_score` expires

QID is ten hex digits of the letter's spool id: short enough to write in a
`#release` line. Staff list, show, release and delete entries (`supportd spam`,
or `#spam` and `#release QID` by e-mail). A release writes the letter back into
`incoming/` as if it had just arrived (it is accepted now, §5.11), naming its
entry and its first arrival, and removes the entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from daemon.storage.spool import MAGIC, Spool, SpooledLetter

_QID = re.compile(r"^[0-9a-f]{10}$")


def qid_of(spool_id: str) -> str:
    return hashlib.sha256(spool_id.encode()).hexdigest()[:10]


class Quarantine:
    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.root = spool.quarantine

    def _paths(self, qid: str) -> tuple[Path, Path] | None:
        qid = qid.strip().lower()
        if not _QID.match(qid):
            return None
        return self.root / qid, self.root / f"{qid}.json"

    def hold(self, letter: SpooledLetter, record: dict[str, Any]) -> str:
        """Keep a letter whole with its record; its QID. Written again, the same."""
        qid = qid_of(letter.spool_id)
        self.root.mkdir(parents=True, exist_ok=True)
        raw_path, record_path = self.root / qid, self.root / f"{qid}.json"
        with open(letter.path, "rb") as f:  # the spool file: envelope line and bytes
            data = f.read()
        if not data.startswith(MAGIC):  # a letter in hand whose file moved: the bytes only
            data = letter.raw
        self.spool.write_durably(raw_path, [data])
        env = letter.envelope
        full = {"id": qid, "spool_id": letter.spool_id,
                "arrived_at": env.arrived_at or letter.received_at.isoformat(),
                "envelope": {"mail_from": env.mail_from, "rcpt_to": list(env.rcpt_to),
                             "peer": env.peer, "helo": env.helo, "source": env.source},
                "size": len(letter.raw), **record}
        self.spool.write_durably(record_path, [json.dumps(full, ensure_ascii=False,
                                                          indent=1).encode()])
        return qid

    def entries(self) -> list[dict[str, Any]]:
        """Every entry's record, the oldest first."""
        found = []
        with contextlib.suppress(FileNotFoundError):
            for path in self.root.glob("*.json"):
                with contextlib.suppress(OSError, ValueError):
                    found.append(json.loads(path.read_text(encoding="utf-8")))
        return sorted(found, key=lambda r: (str(r.get("held_at", "")), str(r.get("id"))))

    def get(self, qid: str) -> dict[str, Any] | None:
        paths = self._paths(qid)
        if paths is None:
            return None
        try:
            return dict(json.loads(paths[1].read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def letter(self, qid: str) -> SpooledLetter | None:
        paths = self._paths(qid)
        if paths is None or not paths[0].exists():
            return None
        return Spool.read(paths[0])

    def release(self, qid: str, now: datetime, by: str) -> SpooledLetter | None:
        """Back into incoming/, accepted `now`; None when there is no such entry. Its
        record moves to released/, where the pipeline finds the verdict it had."""
        held = self.letter(qid)
        record = self.get(qid)
        if held is None or record is None:
            return None
        qid = qid.strip().lower()
        record.update(released_at=now.isoformat(), released_by=by)
        released_dir = self.root / "released"
        released_dir.mkdir(parents=True, exist_ok=True)
        self.spool.write_durably(released_dir / f"{qid}.json",
                                 [json.dumps(record, ensure_ascii=False, indent=1).encode()])
        envelope = replace(held.envelope, held=qid,
                           arrived_at=str(record.get("arrived_at", "")))
        released = self.spool.accept(held.raw, envelope, now=now)
        self.delete(qid)
        return released

    def released_record(self, qid: str) -> dict[str, Any] | None:
        try:
            path = self.root / "released" / f"{qid.strip().lower()}.json"
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def delete(self, qid: str) -> bool:
        paths = self._paths(qid)
        if paths is None or not paths[1].exists():
            return False
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return True

    def expired(self, now: datetime) -> list[dict[str, Any]]:
        """Entries whose `expires_at` has passed (letters at [spam] reject_score)."""
        out = []
        for record in self.entries():
            expires = record.get("expires_at")
            if expires and datetime.fromisoformat(expires) <= now:
                out.append(record)
        return out


def expiry(level: str, held_at: datetime, keep_days: int) -> str | None:
    """When a held letter leaves the quarantine by itself: only at reject level."""
    return (held_at + timedelta(days=keep_days)).isoformat() if level == "reject" else None
