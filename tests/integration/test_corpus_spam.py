"""The shared corpus through a real rspamd (issue 18): none lost, every held one listed.

Every letter of `../shared/corpus` is fed to a desk with `[spam] backend =
"rspamd"` at the default thresholds. Each must be accounted for as in
test_corpus.py, with one more outcome: `held`. A held letter has its Inbound row
(with the verdict), is in `supportd spam list --json` under its own spool id, and
its bytes in the quarantine are the bytes fed; no held letter opened a ticket or
caused a letter. The summary says how many were held and how long rspamd took.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from daemon.cli.main import main as cli
from daemon.storage.models import Inbound, Outgoing, Ticket
from tests.integration.test_corpus import (
    ROOT,
    check,
    corpus_desk,
    feed,
    quiet_logger,
    summarize,
)
from tests.support.corpus import corpus_letters
from tests.support.scanners import Rspamd

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not ROOT.is_dir(), reason=f"no corpus at {ROOT}"),
]

TOTAL_LIMIT = 900.0  # seconds: rspamd's own time comes on top of the pipeline's


def test_the_corpus_through_rspamd_loses_nothing_and_lists_every_held_letter(
        tmp_path: Path, rspamd_server: Rspamd, capsys: pytest.CaptureFixture[str],
        record_property: Callable[[str, object], None]) -> None:
    letters = list(corpus_letters(ROOT))
    spam = (f'[spam]\nbackend = "rspamd"\nrspamd_url = "{rspamd_server.url}"\n'
            'timeout = "20s"\n')
    desk = corpus_desk(tmp_path / "desk", max(len(ln.raw) for ln in letters), spam)
    extra: list[str] = []
    try:
        started = time.perf_counter()
        with quiet_logger("mailparser"):
            fed = [feed(desk, letter) for letter in letters]
        total = time.perf_counter() - started
        for f in fed:  # `held` is accounted for here; check() knows the rest
            if f.outcome == "held":
                f.outcome = "suppressed"  # same demands: a row, a reason, bytes kept
        with desk.app.sessions() as s:
            rows = {r.spool_id: r for r in s.scalars(select(Inbound))}
            held_rows = {sid: r for sid, r in rows.items() if r.outcome == "held"}
            counts = {"inbound rows": len(rows), "held": len(held_rows),
                      "tickets": s.scalar(select(func.count()).select_from(Ticket)) or 0,
                      "outgoing letters": s.scalar(select(func.count()).select_from(Outgoing))
                      or 0}
            s.expunge_all()  # read only: what follows changes nothing in the database
        for r in held_rows.values():
            r.outcome = "suppressed"  # as above, for check()
        for f in fed:
            check(f, rows.get(f.spool_id) if f.spool_id else None, desk.app.spool)
        capsys.readouterr()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("daemon.cli.spam._app", lambda _args: desk.app)
            mp.setattr("daemon.cli.main.logs.configure", lambda _cfg: None)
            assert cli(["--config", str(desk.config_path), "spam", "list", "--json"]) == 0
        listed = {e["spool_id"]: e for e in json.loads(capsys.readouterr().out)["letters"]}
        fed_by_id = {f.spool_id: f for f in fed if f.spool_id}
        for sid, row in held_rows.items():
            entry = listed.get(sid)
            f = fed_by_id[sid]
            if entry is None:
                f.problems.append("held but not listed in `supportd spam list`")
                continue
            raw = desk.app.quarantine.letter(entry["id"])
            if raw is None or raw.raw != f.letter.raw:
                f.problems.append("held, but the quarantine does not hold its bytes")
            if row.ticket_id is not None or row.spam is None:
                f.problems.append("held with a ticket, or without its verdict")
        if set(listed) - set(held_rows):
            extra.append(f"FAILURE: {len(set(listed) - set(held_rows))} listed, not held")
        scores = Counter(int((r.spam or {}).get("score") or 0) for r in rows.values()
                         if r.spam)
        extra.append(f"held: {len(held_rows)} of {len(fed)}; rspamd scores (whole points): "
                     + ", ".join(f"{k}:{v}" for k, v in sorted(scores.items())))
        if total > TOTAL_LIMIT:
            extra.append(f"FAILURE: the corpus took {total:.0f} s > {TOTAL_LIMIT:.0f} s")
    finally:
        desk.app.close()
    report, bad = summarize(fed, root=ROOT, total=total, extra=extra, counts=counts)
    (tmp_path / "corpus-spam-summary.txt").write_text(report + "\n", encoding="utf-8")
    print("\n" + report)
    record_property("corpus_spam_summary", report)
    assert bad == 0 and not any(e.startswith("FAILURE") for e in extra), report
