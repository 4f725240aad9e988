"""The `spamassassin` backend: spamd over its own protocol (issue 18), a real spamd.

GTUBE is held and not answered; `#spam TID` on a ticket that slipped through and a
release teach spamd's Bayes (TELL), and the staff member is told it learned.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.pipeline import runner
from tests.conftest import Desk, make_desk, simple_letter
from tests.support.scanners import GTUBE, Spamd, spamd_running


@pytest.fixture(scope="module")
def spamd_server() -> Iterator[Spamd]:
    with spamd_running() as server:
        yield server


@pytest.fixture
def desk(tmp_path: Path, spamd_server: Spamd) -> Iterator[Desk]:
    d = make_desk(tmp_path, extra=f'[spam]\nbackend = "spamassassin"\n'
                                  f'spamd = "{spamd_server.address}"\nhold_score = 5.0\n'
                                  'reject_score = 20.0\n')
    yield d
    d.app.close()


def body(m) -> str:  # type: ignore[no-untyped-def]
    return str(m.get_body(("plain",)).get_content())


def test_gtube_held_then_released_and_learned(desk: Desk) -> None:
    desk.ingest(simple_letter("Не работает выгрузка", sender="ivan@client.example"))
    [t] = desk.tickets()
    assert t["spam"]["backend"] == "spamassassin" and t["spam"]["score"] < 5
    r = desk.ingest(simple_letter("Заработок без вложений", GTUBE,
                                  sender="offers@bulk.example"))
    assert r.outcome == "held"  # type: ignore[attr-defined]
    [entry] = desk.app.quarantine.entries()
    assert "GTUBE" in entry["verdict"]["symbols"] and entry["level"] == "reject"
    staff = "agent1@example.ru"
    desk.ingest(simple_letter(f"Re: [{t['tid']}] Не работает выгрузка",
                              f"#spam {t['tid']}\n#release {entry['id']}", sender=staff))
    [report] = [m for m in desk.sent() if staff in str(m["To"]) and "Карантин" in
                str(m["Subject"])]
    assert "фильтр спама дообучен" in body(report)
    runner.drain(desk.app)
    assert [x["requester"] for x in desk.tickets()] == ["ivan@client.example",
                                                        "offers@bulk.example"]
