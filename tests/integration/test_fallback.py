"""A bug in any step still leaves a ticket flagged for staff, the raw letter kept whole
(issue 21: "The fallback holds for every letter").

Each step is broken in turn — for a letter with attachments and one without — and
the letter must come out as a ticket that needs attention, its raw bytes in the
store, its sender answered (a person wrote it; unless the bug is in answering) and
nothing shunted. `store`, which
the ticket itself needs, is broken where a bug in it would be survivable: on the
letter's attachments (or, without any, once).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest

from daemon.pipeline.order import STEPS
from tests.conftest import Desk, fixture_bytes, simple_letter

WITH_ATTACHMENT = "attach-png-screenshot.eml"


def broken(real: Callable[..., None], name: str) -> Callable[..., None]:
    calls: list[int] = []

    def run(letter, session, app):  # type: ignore[no-untyped-def]
        calls.append(1)
        if name == "store":
            p = letter.parsed
            if (p is not None and p.attachments) or len(calls) == 1:
                raise RuntimeError(f"a bug in {name}")
            return real(letter, session, app)
        raise RuntimeError(f"a bug in {name}")

    return run


@pytest.mark.parametrize("attachments", [True, False], ids=["with-attachment", "plain"])
@pytest.mark.parametrize("step", [s.name for s in STEPS])
def test_a_bug_in_any_step_still_opens_a_flagged_ticket(
        desk: Desk, monkeypatch: pytest.MonkeyPatch, step: str, attachments: bool) -> None:
    module = importlib.import_module(f"daemon.pipeline.steps.{step}")
    monkeypatch.setattr(module, "run", broken(module.run, step))
    raw = fixture_bytes(WITH_ATTACHMENT) if attachments else simple_letter("Вопрос")
    desk.ingest(raw)
    [t] = desk.tickets()
    assert t["needs_attention"] and "ошибка при обработке письма" in t["attention_reason"]
    stored = desk.app.spool.resolve(t["messages"][0]["raw_path"])
    assert stored.read_bytes().endswith(raw)  # the letter kept whole
    assert not list((desk.root / "spool" / "shunt").glob("*"))
    if step != "answer":  # the client is answered, unless answering is the bug
        assert [m for m in desk.sent() if m["To"] and t["requester"] in str(m["To"])]
    if attachments and step not in ("parse", "store"):
        assert t["messages"][0]["attachments"], "the attachment is kept for staff"
