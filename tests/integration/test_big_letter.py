"""A 25 MB-class letter through `ingest`: its attachment stored whole and judged.

The big base64 body never goes through the stdlib parser (`daemon.skeleton`); the
stored file, its sha256, size and §5.7 verdict (a BMP packed in a ZIP: accepted,
listed) must be what they are for the same letter parsed whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from daemon import config as config_mod
from daemon import db
from daemon.app import App
from daemon.models import Attachment
from tests.conftest import Desk, write_config
from tests.unit.test_skeleton import big_letter, zip_with_bmp


@pytest.fixture
def big_desk(tmp_path: Path) -> Iterator[Desk]:
    """A desk that takes letters up to 30 MB (the tests' default is 1 MB)."""
    path = write_config(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "max_message_size = 1048576", "max_message_size = 31457280"), encoding="utf-8")
    cfg = config_mod.load(path)
    db.upgrade(cfg.storage.url)
    app = App(cfg)
    app.spool.ensure()
    yield Desk(tmp_path, path, app)
    app.close()


def test_a_big_zip_is_stored_with_its_hash_and_judged_by_its_contents(big_desk: Desk) -> None:
    desk = big_desk
    content = zip_with_bmp(6_000_000)
    result = desk.ingest(big_letter(content), sender="ivan@client.example")
    assert result.outcome == "ticket"  # type: ignore[attr-defined]
    with desk.app.sessions() as s:
        [att] = s.scalars(select(Attachment)).all()
        assert (att.filename, att.size, att.detected_type, att.verdict) == \
               ("выгрузка.zip", len(content), "zip", "accepted")
        assert att.sha256 == hashlib.sha256(content).hexdigest()
        assert att.stored_path is not None
        assert Path(att.stored_path).read_bytes() == content
    [ack] = desk.sent()[:1]
    assert "screen.bmp" in ack.get_body(("plain",)).get_content()  # type: ignore[union-attr]
