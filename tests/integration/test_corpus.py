"""Every letter of the shared real-world corpus, through the real pipeline.

The corpus (`../shared/corpus`, or $SUPPORTD_CORPUS) holds ~1,500 letters
nobody on this project wrote: bounces, broken MIME, odd charsets, TNEF, mbox
files. Each one is fed in-process to one desk (one SQLite database, so threading
and duplicates across letters happen as they would in production) and must be
accounted for:

- exactly one `Inbound` row, outcome ticket / threaded / duplicate / suppressed /
  bounce, with a reason for the last three; or
- refused at the door (`Refused`: empty, or over the size limit), counted apart.

A letter that is shunted, opens a ticket only "flagged after error" (a step
raised), lets an exception escape, takes longer than PER_LETTER_LIMIT, or whose
stored raw bytes differ from the bytes fed, is a failure. The summary (outcome
counts, refused, failures grouped by cause with a traceback, slowest letters,
total time) is printed, written to `corpus-summary.txt` in the test's tmp dir,
and carried in the assertion message, so it is seen with or without `-s`.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from bench.harness.desk_config import write_config
from daemon.app import App
from daemon.config import loader as config_mod
from daemon.intake.ingest import Refused
from daemon.pipeline.runner import Result, TemporaryFailure
from daemon.storage import db
from daemon.storage.models import Inbound, Outgoing, Ticket
from daemon.storage.spool import Spool
from tests.conftest import PROJECT, Desk
from tests.support.corpus import ENV, CorpusLetter, corpus_letters, corpus_root, manifest_names

ROOT = corpus_root(PROJECT)

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not ROOT.is_dir(), reason=f"no corpus at {ROOT} (set {ENV} to run it)"),
]

PER_LETTER_LIMIT = 10.0  # seconds; more than this for one letter is a failure
TOTAL_LIMIT = 480.0  # seconds for the whole corpus (it takes ~30 s on 2 cores)
HANG_GUARD = 120.0  # seconds; a letter still running then is stopped and reported as a hang
ACCOUNTED = {"ticket", "threaded", "duplicate", "suppressed", "bounce"}
NEEDS_REASON = {"duplicate", "suppressed", "bounce"}
DEFAULT_LIMIT = 25 * 1024 * 1024  # [smtp].max_message_size's own default


class LetterTimeout(BaseException):
    """Raised by SIGALRM in a letter that hangs; a BaseException so that the
    runner's `except Exception` (which shunts) cannot swallow it."""


@contextmanager
def hang_guard(seconds: float) -> Iterator[None]:
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise LetterTimeout(f"still running after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def corpus_desk(root: Path, largest: int, extra: str = "") -> Desk:
    """`make_desk`, but with a size limit the corpus's biggest letter fits under.

    The conftest config says 1 MiB for the SMTP tests; the corpus has letters of
    up to a few MB, which a production desk (default 25 MiB) takes."""
    root.mkdir(parents=True, exist_ok=True)
    path = write_config(root, extra=extra)
    limit = max(DEFAULT_LIMIT, largest + 1)
    text, n = re.subn(r"(?m)^max_message_size = \d+$", f"max_message_size = {limit}",
                      path.read_text(encoding="utf-8"))
    assert n == 1, "write_config no longer writes [smtp].max_message_size as expected"
    path.write_text(text, encoding="utf-8")
    cfg = config_mod.load(path)
    assert cfg.smtp.max_message_size == limit
    db.upgrade(cfg.storage.url)
    app = App(cfg)
    app.spool.ensure()
    return Desk(root, path, app)


@contextmanager
def quiet_logger(name: str) -> Iterator[None]:
    """mail-parser warns about every content type it does not handle; not news here."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass
class Fed:
    letter: CorpusLetter
    seconds: float = 0.0
    spool_id: str | None = None
    outcome: str = ""  # the runner's outcome, or refused / escaped / temporary / hang
    reason: str = ""
    trace: str = ""  # the traceback of an error the runner logged or that escaped
    kept: bytes | None = field(default=None, repr=False)  # a shunted letter's bytes on disk
    problems: list[str] = field(default_factory=list)


_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def _frames(trace: str) -> list[tuple[str, str, str]]:
    return _FRAME.findall(trace)


def _where(trace: str) -> str:
    """The innermost project frame of a traceback (else the innermost), for grouping."""
    frames = _frames(trace)
    ours = [f for f in frames if "/daemon/" in f[0]]
    if not (ours or frames):
        return ""
    f, line, func_ = (ours or frames)[-1]
    rel = f[f.index("/daemon/") + 1:] if "/daemon/" in f else Path(f).name
    return f"{rel}:{line} in {func_}"


def _error_line(trace: str) -> str:
    lines = [ln for ln in trace.strip().splitlines() if ln and not ln.startswith(" ")]
    return lines[-1][:300] if lines else ""


def _digest(trace: str) -> list[str]:
    """A short traceback: the project's frames, then the innermost three and the error."""
    frames = _frames(trace)
    out = [f"{f[f.index('/daemon/') + 1:]}:{line} in {func_}"
           for f, line, func_ in frames if "/daemon/" in f]
    out += ["..."] + [f"{Path(f).name}:{line} in {func_}" for f, line, func_ in frames[-3:]]
    return out + [_error_line(trace)]


def feed(desk: Desk, letter: CorpusLetter) -> Fed:
    fed = Fed(letter)
    started = time.perf_counter()
    with capture_logs() as logs:
        try:
            with hang_guard(HANG_GUARD):
                result = desk.ingest(letter.raw)
        except Refused as exc:
            fed.outcome, fed.reason = "refused", str(exc)
        except TemporaryFailure as exc:
            fed.outcome, fed.reason, fed.trace = "temporary", str(exc), traceback.format_exc()
        except LetterTimeout as exc:
            fed.outcome, fed.reason, fed.trace = "hang", str(exc), traceback.format_exc()
        except Exception as exc:
            fed.outcome, fed.reason, fed.trace = "escaped", repr(exc), traceback.format_exc()
        else:
            assert isinstance(result, Result), f"Desk.ingest returned {result!r}"
            fed.spool_id, fed.outcome, fed.reason = result.spool_id, result.outcome, result.reason
    fed.seconds = time.perf_counter() - started
    if not fed.trace:
        fed.trace = "\n".join(str(e.get("trace", "")) for e in logs
                              if e.get("event") == "letter.failed")
    second = [str(e.get("error", "")) for e in logs if e.get("event") == "letter.shunted"]
    if second:  # the flagged-ticket fallback failed too; its error is not in the trace
        fed.reason += f"; flagging it failed too: {second[0]}"
    if fed.outcome == "shunted" and fed.spool_id:
        shunted = desk.app.spool.shunted / fed.spool_id
        fed.kept = Spool.raw_of(shunted) if shunted.exists() else b""
        reason_file = shunted.with_name(f"{fed.spool_id}.reason")
        if reason_file.exists() and not fed.trace:
            fed.trace = reason_file.read_text(encoding="utf-8")
    return fed


def check(fed: Fed, row: Inbound | None, spool: Spool) -> None:
    """Fill `fed.problems` with what is wrong about this letter's accounting."""
    o = fed.outcome
    if fed.seconds > PER_LETTER_LIMIT:
        fed.problems.append(f"slow: {fed.seconds:.1f} s > {PER_LETTER_LIMIT:.0f} s")
    if o == "refused":
        return
    if o in ("escaped", "temporary", "hang"):
        fed.problems.append(f"{o}: {fed.reason}")
        return
    if o == "shunted":
        fed.problems.append(f"shunted: {fed.reason}")
        if fed.kept is not None and fed.kept != fed.letter.raw:
            fed.problems.append("raw bytes differ in the shunt folder")
        return
    if o not in ACCOUNTED:
        fed.problems.append(f"unexpected outcome {o!r}: {fed.reason}")
    if row is None:
        fed.problems.append("no Inbound row for its spool id")
        return
    if row.outcome != o:
        fed.problems.append(f"Inbound says {row.outcome!r}, the runner said {o!r}")
    if "flagged after error" in (row.reason or ""):
        fed.problems.append(f"flagged after error: {row.reason[20:][:300]}")
    if row.outcome in NEEDS_REASON and not (row.reason or "").strip():
        fed.problems.append(f"{row.outcome} without a reason")
    if row.outcome in ("ticket", "threaded") and row.ticket_id is None:
        fed.problems.append(f"{row.outcome} without a ticket")
    try:
        kept = Spool.raw_of(spool.resolve(row.raw_path))
    except OSError as exc:
        fed.problems.append(f"raw bytes not kept: {exc}")
    else:
        if kept != fed.letter.raw:
            fed.problems.append(f"raw bytes differ: kept {len(kept)} bytes, "
                                f"fed {len(fed.letter.raw)}")


def problem_key(fed: Fed, problem: str) -> str:
    kind = problem.split(":", 1)[0]
    if fed.trace and kind in ("shunted", "flagged after error", "escaped", "temporary", "hang"):
        return f"{kind}: {_error_line(fed.trace)[:160]} @ {_where(fed.trace)}"
    return kind if kind in ("slow",) else problem[:200]


def summarize(fed: list[Fed], *, root: Path, total: float, extra: list[str],
              counts: dict[str, int]) -> tuple[str, int]:
    kinds = Counter(f.letter.kind for f in fed)
    files = len({f.letter.name.split("#", 1)[0] for f in fed})
    lines = [f"corpus: {root} ({files} files)",
             f"letters fed: {len(fed)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})",
             f"total time: {total:.1f} s, mean {total / max(len(fed), 1) * 1000:.0f} ms per letter"]
    outcomes = Counter(f.outcome for f in fed)
    lines.append("outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
    lines.append("database: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    flagged = sum(any(p.startswith("flagged") for p in f.problems) for f in fed)
    lines.append(f"flagged after error (counted in 'ticket' above): {flagged}")
    refused = [f for f in fed if f.outcome == "refused"]
    if refused:
        lines.append(f"refused ({len(refused)}):")
        lines += [f"  {f.letter.name}: {f.reason}" for f in refused]
    lines += extra
    lines.append(f"slowest {min(10, len(fed))}:")
    for f in sorted(fed, key=lambda f: -f.seconds)[:10]:
        lines.append(f"  {f.seconds:7.2f} s  {len(f.letter.raw):>9} B  {f.outcome:<10} "
                     f"{f.letter.name}")
    groups: dict[str, list[Fed]] = defaultdict(list)
    for f in fed:
        for p in f.problems:
            groups[problem_key(f, p)].append(f)
    bad = sum(1 for f in fed if f.problems)
    lines.append(f"FAILURES: {bad} letters, {len(groups)} distinct causes")
    for key, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"--- {len(members)} x {key}")
        for f in members[:8]:
            lines.append(f"    {f.letter.name}  [{'; '.join(f.problems)[:300]}]")
        if len(members) > 8:
            lines.append(f"    ... and {len(members) - 8} more")
        if members[0].trace.strip():
            lines += ["    | " + ln for ln in _digest(members[0].trace)]
    return "\n".join(lines), bad


def write_table(path: Path, fed: list[Fed], rows: dict[str, Inbound]) -> None:
    """One line per letter (for triage): name, kind, size, seconds, outcome, ticket, reason."""
    with path.open("w", encoding="utf-8") as out:
        out.write("letter\tkind\tbytes\tseconds\toutcome\tticket_id\tspool_id\treason\n")
        for f in fed:
            row = rows.get(f.spool_id or "")
            reason = (row.reason if row is not None else f.reason).replace("\t", " ")
            out.write(f"{f.letter.name}\t{f.letter.kind}\t{len(f.letter.raw)}\t{f.seconds:.3f}\t"
                      f"{f.outcome}\t{row.ticket_id if row is not None else ''}\t"
                      f"{f.spool_id or ''}\t{' '.join(reason.split())[:500]}\n")


def test_every_corpus_letter_is_accounted_for(
        tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    letters = list(corpus_letters(ROOT))
    assert letters, f"the corpus at {ROOT} has no letters"
    extra: list[str] = []
    listed = manifest_names(ROOT)
    if listed is not None:
        on_disk = {ln.name.split("#", 1)[0] for ln in letters}
        if listed != on_disk:
            extra.append(f"note: MANIFEST.tsv and the folder differ: "
                         f"{len(listed - on_disk)} listed but absent, "
                         f"{len(on_disk - listed)} present but unlisted")
    desk = corpus_desk(tmp_path / "desk", max(len(ln.raw) for ln in letters))
    try:
        started = time.perf_counter()
        with quiet_logger("mailparser"):
            fed = [feed(desk, letter) for letter in letters]
        total = time.perf_counter() - started

        with desk.app.sessions() as s:
            rows = {r.spool_id: r for r in s.scalars(select(Inbound))}
            counts = {"inbound rows": len(rows),
                      "tickets": s.scalar(select(func.count()).select_from(Ticket)) or 0,
                      "outgoing letters": s.scalar(select(func.count()).select_from(Outgoing))
                      or 0}
        for f in fed:
            check(f, rows.get(f.spool_id) if f.spool_id else None, desk.app.spool)
        ours = {f.spool_id for f in fed if f.spool_id}
        strays = set(rows) - ours
        if strays:
            extra.append(f"FAILURE: {len(strays)} Inbound rows belong to no letter fed")
        if total > TOTAL_LIMIT:
            extra.append(f"FAILURE: the corpus took {total:.0f} s > {TOTAL_LIMIT:.0f} s")
        twice = [sid for sid, n in Counter(f.spool_id for f in fed if f.spool_id).items() if n > 1]
        if twice:
            extra.append(f"FAILURE: spool ids handed out twice: {twice[:5]}")
    finally:
        desk.app.close()

    report, bad = summarize(fed, root=ROOT, total=total, extra=extra, counts=counts)
    out = tmp_path / "corpus-summary.txt"
    report += f"\nsummary file: {out} (and corpus-letters.tsv beside it)"
    out.write_text(report + "\n", encoding="utf-8")
    write_table(tmp_path / "corpus-letters.tsv", fed, rows)
    print("\n" + report)
    record_property("corpus_summary", report)
    assert bad == 0 and not strays and not twice and total <= TOTAL_LIMIT, report
