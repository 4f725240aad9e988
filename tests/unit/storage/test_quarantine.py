"""The quarantine on disk: a held letter kept whole, listed, released back into the
spool as a new arrival that names its entry, deleted, expired (`storage/quarantine`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from daemon.storage.quarantine import Quarantine, expiry, qid_of
from daemon.storage.spool import Envelope, Spool

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
RAW = b"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n"


def held(tmp_path: Path, level: str = "hold") -> tuple[Spool, Quarantine, str]:
    spool = Spool(tmp_path / "spool")
    spool.ensure()
    letter = spool.accept(RAW, Envelope("smtp", "a@b.example", ("t@example.ru",),
                                        peer="203.0.113.5", helo="b.example"), now=NOW)
    q = Quarantine(spool)
    qid = q.hold(letter, {"reason": "spam", "level": level, "held_at": NOW.isoformat(),
                          "expires_at": expiry(level, NOW, 7), "verdict": {"score": 9.0}})
    assert qid == qid_of(letter.spool_id) and len(qid) == 10
    return spool, q, qid


def test_held_whole_and_listed(tmp_path: Path) -> None:
    _, q, qid = held(tmp_path)
    [record] = q.entries()
    assert record["id"] == qid and record["envelope"]["peer"] == "203.0.113.5"
    assert record["arrived_at"] == NOW.isoformat() and record["size"] == len(RAW)
    letter = q.letter(qid.upper())  # a QID read back from a letter may be upper case
    assert letter is not None and letter.raw == RAW
    assert letter.envelope.helo == "b.example"


def test_release_is_a_new_arrival_naming_its_entry(tmp_path: Path) -> None:
    spool, q, qid = held(tmp_path)
    later = NOW + timedelta(hours=4)
    released = q.release(qid, later, "agent1@example.ru")
    assert released is not None and q.entries() == [] and q.get(qid) is None
    [pending] = [p for p in spool.pending() if p.name == released.spool_id]
    again = Spool.read(pending)
    assert again.raw == RAW and again.received_at == later
    assert again.envelope.held == qid and again.envelope.arrived_at == NOW.isoformat()
    assert q.released_record(qid)["released_by"] == "agent1@example.ru"  # type: ignore[index]
    assert q.release(qid, later, "x") is None  # once


def test_delete_and_nonsense_ids(tmp_path: Path) -> None:
    _, q, qid = held(tmp_path)
    assert not q.delete("../../etc") and q.get("../x") is None and q.letter("zz") is None
    assert q.delete(qid) and q.entries() == [] and not q.delete(qid)


def test_only_reject_level_letters_expire(tmp_path: Path) -> None:
    _, q, _ = held(tmp_path, "hold")
    assert q.expired(NOW + timedelta(days=365)) == []
    _, q2, qid2 = held(tmp_path / "2", "reject")
    assert q2.expired(NOW + timedelta(days=6)) == []
    assert [r["id"] for r in q2.expired(NOW + timedelta(days=7))] == [qid2]
