"""What `letter.parse` makes of the fixture letters, pinned.

`tests/fixtures/parsed-fixtures.json` was written by the parser as it was before
the one-parse rewrite (mail-parser's full parse, then a second stdlib walk): the
same addresses, subject, text, HTML, attachments (name, declared type, size,
sha256, inline) and defect categories must come out of the single parse. A name
mail-parser makes up at random (an unnamed `attachment` part, an rtf) is pinned
by its extension alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from daemon.mail.letter import parse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
GOLDEN = json.loads((FIXTURES / "parsed-fixtures.json").read_text(encoding="utf-8"))
_RANDOM_NAME = re.compile(r"^[a-z]{10}\.(txt|rtf)$")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_a_fixture_parses_as_it_did_before(name: str) -> None:
    p = parse((FIXTURES / "eml" / name).read_bytes())
    want = GOLDEN[name]
    got = {
        "from": [p.from_name, p.from_addr], "to": p.to, "cc": p.cc, "reply_to": p.reply_to,
        "subject": p.subject, "message_id": p.message_id, "in_reply_to": p.in_reply_to,
        "references": p.references, "date": p.date.isoformat() if p.date else None,
        "text_sha256": _sha(p.text), "text_start": p.text[:60], "html_sha256": _sha(p.html),
        "attachments": [{"filename": "*" + a.filename[-4:] if _RANDOM_NAME.match(a.filename)
                         else a.filename, "content_type": a.content_type,
                         "sha256": hashlib.sha256(a.content).hexdigest(),
                         "size": len(a.content), "inline": a.inline} for a in p.attachments],
        "defects": sorted(p.defects), "degraded": p.degraded,
    }
    assert got == want
