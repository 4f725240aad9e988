"""Reading a spool file back: the letter's bytes exactly as accepted, read once."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from daemon.storage.spool import Envelope, Spool


def test_a_letter_reads_back_as_it_was_accepted_with_its_envelope(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.ensure()
    raw = b"Subject: x\r\n\r\n" + os.urandom(200_000) + b"\n\n\r\n"  # newlines in the body
    env = Envelope("smtp", "a@client.example", ("techsupport@example.ru",), None, "127.0.0.1")
    accepted = spool.accept(raw, env)
    back = Spool.read(accepted.path)
    assert back.raw == raw and back.envelope == env
    assert back.received_at == accepted.received_at and back.spool_id == accepted.spool_id


def test_a_big_letter_is_held_once_while_it_is_read(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.ensure()
    path = spool.accept(b"Subject: big\r\n\r\n" + b"A" * 8_000_000, Envelope("ingest")).path
    tracemalloc.start()
    try:
        letter = Spool.read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(letter.raw) == 8_000_016
    assert peak < 8_000_016 * 1.1  # not the file and then a slice of it


@pytest.mark.parametrize("content", [b"", b"From: x\r\n\r\nhello\r\n", b"SUPPORTD-SPOOL 1 {}"])
def test_a_file_that_is_no_spool_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "f"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        Spool.read(path)
