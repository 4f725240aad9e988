"""Render bench/.work/results.json as the Markdown block bench/run.py puts in RESULTS.md.

    .venv/bin/python bench/report.py            # print the block from the last run
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

WORK = Path(__file__).resolve().parent / ".work"


def f0(x: Any) -> str:
    return "n/a" if not isinstance(x, (int, float)) or math.isnan(x) else f"{x:,.0f}"


def f1(x: Any) -> str:
    return "n/a" if not isinstance(x, (int, float)) or math.isnan(x) else f"{x:,.1f}"


def workers_rss(rss: dict[str, Any]) -> str:
    """The daemon's peak split into the listener and its pipeline processes."""
    if not rss.get("daemon_workers_peak_kb"):
        return ""
    return (f": listener {f0(rss['daemon_listener_peak_kb'] / 1024)} + pipeline processes "
            f"{f0(rss['daemon_workers_peak_kb'] / 1024)}, each at its own peak")


def runs(xs: Any, fmt: Any = f1) -> str:
    return " / ".join(fmt(x) for x in xs) if isinstance(xs, list) else "n/a"


def mark(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**missed**")


def get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def err(d: Any) -> str:
    return f"failed: {d['error']}" if isinstance(d, dict) and "error" in d else ""


def render(r: dict[str, Any]) -> str:
    m = r.get("machine", {})
    sz = r.get("sizes", {})
    c = r.get("corpus", {})
    out: list[str] = []
    w = out.append
    w("## One run of `bench/run.py` (issue 5)")
    w("")
    w(f"- Command: `.venv/bin/python {r.get('command', 'bench/run.py')}`"
      + (" (`make bench` runs it without arguments)" if not r.get("quick") else
         " — **a quick smoke run, not the real figures**"))
    w(f"- Machine: {m.get('cores')} cores ({m.get('cpu')}), Python {m.get('python')}, "
      f"SQLite {m.get('sqlite')}, PostgreSQL {m.get('postgresql')}, Linux {m.get('kernel')}; "
      f"load average {m.get('load_before')} at the start (other sessions share the machine)")
    w(f"- Date: {m.get('date')}; the whole run took {f0(r.get('total_seconds'))} s")
    for note in r.get("reruns", []):
        w(f"- Afterwards: {note}")
    dirty = m.get("dirty") or []
    w(f"- Code measured: commit {m.get('commit')}"
      + (f" plus uncommitted changes in {', '.join(d.split()[-1] for d in dirty)}"
         if dirty else " (daemon/ clean)"))
    loads = r.get("load") or {}
    if loads:
        w("- Load average (1 min) before → after each measurement: "
          + ", ".join(f"{k} {a}→{b}" for k, (a, b) in loads.items()))
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(c.get("kinds", {}).items(),
                                                       key=lambda kv: -kv[1]))
    styles = ", ".join(f"{v} {k}" for k, v in sorted(c.get("styles", {}).items(),
                                                        key=lambda kv: -kv[1]))
    w(f"- Corpus (`bench/corpus.py`, seed 1): {c.get('letters')} letters ({kinds}); clients: "
      f"{styles}; {c.get('with_screenshot')} with a 50–300 KB screenshot; "
      f"{f0((c.get('bytes') or 0) / 1e6)} MB in all, median {f0(c.get('median_size'))} B, "
      f"largest {f0(c.get('largest'))} B. Measurements 1, 2 and 4 use exactly these letters; "
      "3 uses them and, for the paced run, the same generator's next letters.")
    w(f"- Repetitions: {sz.get('reps')} of each; the figure is the median, the runs follow it.")
    w("")

    ceil = get(r, "ceiling", "rate")
    ing = r.get("ingest") or {}
    q = r.get("queue") or {}
    sq = get(ing, "sqlite", "rate")
    pg = get(ing, "postgresql", "rate")
    nof = get(ing, "sqlite_nofsync", "rate")
    smtp = r.get("smtp") or {}
    peer = r.get("peer") or {}
    rss = r.get("rss") or {}
    scale = r.get("scale") or {}
    dl = r.get("deadlines") or {}

    def ratio(a: Any, b: Any) -> float:
        try:
            return a / b
        except (TypeError, ZeroDivisionError):
            return float("nan")

    w("### Headline: ratios against the targets")
    w("")
    w("| # | measurement | result | target | |")
    w("|---|---|---|---|---|")
    w(f"| 1 | ceiling: stdlib `BytesParser(policy=default)`, walk, `get_content()` of every "
      f"part | {f1(ceil)} letters/s ({f1(get(r, 'ceiling', 'ms_per_letter'))} ms/letter) "
      f"{err(r.get('ceiling'))}| — | |")
    e2e = ratio(sq, ceil)
    w(f"| 2 | **end to end, `ingest_now` in-process, SQLite** | **{100 * e2e:.0f} % of the "
      f"ceiling** ({f1(sq)} letters/s) {err(ing.get('sqlite'))}| ≥ 50 % | "
      f"{mark(e2e >= 0.5 if not math.isnan(e2e) else None)} |")
    w(f"| 2 | end to end, `ingest_now`, PostgreSQL | {100 * ratio(pg, ceil):.0f} % "
      f"({f1(pg)} letters/s) {err(ing.get('postgresql'))}| stated beside | |")
    qs = get(q, "sqlite", "rate")
    w(f"| 2 | daemon queue, SQLite: accept (spool, fsync) then drain (pipeline, commit, ack "
      f"queued) | {100 * ratio(qs, ceil):.0f} % ({f1(qs)} letters/s; accept "
      f"{f0(get(q, 'sqlite', 'accept_rate'))}/s, drain "
      f"{f1(get(q, 'sqlite', 'drain_rate'))}/s) {err(q.get('sqlite'))}| — | |")
    w(f"| 2 | daemon queue, PostgreSQL | {100 * ratio(get(q, 'postgresql', 'rate'), ceil):.0f} % "
      f"({f1(get(q, 'postgresql', 'rate'))} letters/s; drain "
      f"{f1(get(q, 'postgresql', 'drain_rate'))}/s) {err(q.get('postgresql'))}| — | |")
    procs = q.get("postgresql_procs") or {}
    one, two = get(procs, "1", "drain_rate"), get(procs, "2", "drain_rate")
    if one is not None or two is not None:
        w(f"| 2 | daemon queue, PostgreSQL, drain by `[pipeline] workers` processes, the "
          f"letters that are not replies ({get(procs, '1', 'letters')}): 1 → 2 processes | "
          f"{f1(one)} → {f1(two)} letters/s ({ratio(two, one):.2f}×; 2 processes = "
          f"{100 * ratio(two, ceil):.0f} % of the ceiling) | — | |")
    e2e_smtp = smtp.get("end_to_end_rate")
    if e2e_smtp is not None:
        share = ratio(e2e_smtp, ceil)
        w(f"| 2 | **end to end, the running daemon: {sz.get('smtp_burst')} "
          f"letters over SMTP on {smtp.get('conns')} connections into `supportd run` (listener and "
          f"pipeline process at once), first connection to the last letter committed with its "
          f"acknowledgement queued, SQLite** | **{100 * share:.0f} % of the ceiling** "
          f"({f1(e2e_smtp)} letters/s; runs {runs(smtp.get('end_to_end_rates'))}) | ≥ 50 % | "
          f"{mark(share >= 0.5 if not math.isnan(share) else None)} |")
    pipe = r.get("pipe") or {}
    w(f"| 2 | `supportd ingest` as an MTA pipe runs it, one process per letter | "
      f"{f1(pipe.get('rate'))} letters/s ({f0(pipe.get('ms_per_letter'))} ms/letter, of which "
      f"starting Python + imports + config ≈ {f0(pipe.get('check_config_ms'))} ms) {err(pipe)}"
      f"| — (start-up bound) | |")
    p99 = smtp.get("paced_p99_ms")
    sustained = get(smtp, "paced")
    rate_ok = None
    if isinstance(sustained, list) and sustained:
        rate_ok = all(x["rate"] >= 0.97 * sz.get("smtp_rate", 100) for x in sustained)
    w(f"| 3 | SMTP, {smtp.get('conns')} connections, burst: accepted letters/s, latency "
      f"p50 / p99 | {f1(smtp.get('burst_rate'))}/s, {f1(smtp.get('burst_p50_ms'))} / "
      f"{f1(smtp.get('burst_p99_ms'))} ms {err(smtp)}| — | |")
    w(f"| 3 | **SMTP at {sz.get('smtp_rate')} letters/s for {sz.get('smtp_seconds')} s: "
      f"accept p99** | **{f1(p99)} ms** (p50 {f1(smtp.get('paced_p50_ms'))} ms; sustained "
      f"{f1(smtp.get('paced_rate'))}/s; the pipeline meanwhile processed "
      f"{f1(smtp.get('paced_processing_rate'))}/s) | ≤ 50 ms at 100/s | "
      f"{mark(None if p99 is None else (p99 <= 50 and bool(rate_ok)))} |")
    prate = peer.get("rate")
    vs = ratio(sq, prate)
    w(f"| 4 | **django-helpdesk {peer.get('helpdesk', '')} `get_email`, local folder, SQLite: "
      f"supportd / peer** | **{f1(vs)}×** (peer {f1(prate)} letters/s without its "
      f"{f1(peer.get('startup_s'))} s start-up, {f1(peer.get('rate_with_startup'))}/s with it) "
      f"{err(peer)}| ≥ 6× | {mark(None if math.isnan(vs) else vs >= 6)} |")
    rr = rss.get("ratio")
    w(f"| 5 | **peak RSS, `supportd ingest` of a {f1((rss.get('letter_bytes') or 0) / 1e6)} MB "
      f"letter** | **{f1(rr)}× the letter** ({f0((rss.get('ingest_peak_kb') or 0) / 1024)} MiB; "
      f"{f0((rss.get('ingest_small_kb') or 0) / 1024)} MiB for a small letter) {err(rss)}"
      f"| ≤ 4× | {mark(None if rr is None else rr <= 4)} |")
    w(f"| 5 | peak RSS of `supportd run` taking the same letter over SMTP and processing it, "
      f"its processes summed | "
      f"{f1(rss.get('daemon_ratio'))}× ({f0((rss.get('daemon_peak_kb') or 0) / 1024)} MiB"
      f"{workers_rss(rss)}, {f0((rss.get('daemon_idle_kb') or 0) / 1024)} MiB idle) | ≤ 4× | "
      f"{mark(None if rss.get('daemon_ratio') is None else rss['daemon_ratio'] <= 4)} |")
    size = rss.get("letter_bytes") or 0
    for name, key in (("the listener (`supportd run`)", "listener"),
                      ("the pipeline process (`supportd worker`)", "workers")):
        peak_kb, idle_kb = rss.get(f"daemon_{key}_peak_kb"), rss.get(f"daemon_{key}_idle_kb")
        if not peak_kb or not idle_kb or not size:
            continue
        w(f"| 5 | … {name} alone | {f1(peak_kb * 1024 / size)}× ({f0(peak_kb / 1024)} MiB; "
          f"{f0(idle_kb / 1024)} MiB idle, so the letter added "
          f"{f1((peak_kb - idle_kb) * 1024 / size)}× itself) | ≤ 4× | "
          f"{mark(peak_kb * 1024 / size <= 4)} |")
    for db in ("sqlite", "postgresql"):
        small, big = scale.get(f"{db}_small"), scale.get(f"{db}_big")
        if not small or not big:
            continue
        if "error" in small or "error" in big:
            w(f"| 6 | scale, {db} | {err(small) or err(big)} | within 10 % | |")
            continue
        change = big["rate"] / small["rate"] - 1
        w(f"| 6 | **scale, {db}: ingest rate with {f0(sz.get('scale_big'))} tickets vs "
          f"{f0(sz.get('scale_small'))}** | **{100 * change:+.0f} %** ({f1(big['rate'])} vs "
          f"{f1(small['rate'])} letters/s) | within 10 % | {mark(change >= -0.10)} |")
        tl_s = get(small, "lookups", "tid_subject_to_ticket", "median_us")
        tl_b = get(big, "lookups", "tid_subject_to_ticket", "median_us")
        ir_s = get(small, "lookups", "in_reply_to_ack", "median_us")
        ir_b = get(big, "lookups", "in_reply_to_ack", "median_us")
        w(f"| 6 | scale, {db}: threading lookup, TID / In-Reply-To (median µs) | "
          f"{f0(tl_b)} / {f0(ir_b)} µs vs {f0(tl_s)} / {f0(ir_s)} µs | indexed, no scans | |")
    w(f"| 7 | deadline computations per second, slowest level | {f0(dl.get('min'))}/s "
      f"{err(dl)}| ≥ 50,000 | "
      f"{mark(None if dl.get('min') is None else dl['min'] >= 50_000)} |")
    w("")

    # ------------------------------------------------------------ details
    w("### Details")
    w("")
    w("Letters per second, median first, then each repetition:")
    w("")
    w("| measurement | median | runs |")
    w("|---|---:|---|")
    w(f"| 1 stdlib parse | {f1(ceil)} | {runs(get(r, 'ceiling', 'rates'))} |")
    for key, label in (("sqlite", "ingest_now, SQLite"), ("postgresql", "ingest_now, PostgreSQL"),
                       ("sqlite_nofsync", "ingest_now, SQLite, **fsync off** (diagnostic: "
                                          "os.fsync a no-op, synchronous=OFF)")):
        w(f"| 2 {label} | {f1(get(ing, key, 'rate'))} | {runs(get(ing, key, 'rates'))} |")
    for key in ("sqlite", "postgresql"):
        w(f"| 2 queue {key}: accept only | {f0(get(q, key, 'accept_rate'))} | "
          f"{runs(get(q, key, 'accept_rates'), f0)} |")
        w(f"| 2 queue {key}: drain only | {f1(get(q, key, 'drain_rate'))} | "
          f"{runs(get(q, key, 'drain_rates'))} |")
        w(f"| 2 queue {key}: both | {f1(get(q, key, 'rate'))} | {runs(get(q, key, 'rates'))} |")
    w(f"| 2 `supportd ingest` subprocess ({pipe.get('letters')} letters) | "
      f"{f1(pipe.get('rate'))} | {runs(pipe.get('rates'))} |")
    w(f"| 4 django-helpdesk get_email (start-up subtracted) | {f1(prate)} | "
      f"{runs(peer.get('rates'))} |")
    w("")
    if nof:
        w(f"With durability switched off in-process (diagnostic only, not a mode of supportd) "
          f"it does {f1(nof)} letters/s = {100 * ratio(nof, ceil):.0f} % of the ceiling, "
          f"against {f1(sq)}/s with it: the difference is what fsync costs on this disk, the "
          f"rest is CPU.")
        w("")
    fs = ing.get("fsync") or {}
    per = get(ing, "sqlite", "spool_fsyncs_per_letter")
    if fs and isinstance(per, (int, float)) and nof and sq:
        cost = 1000 / sq - 1000 / nof
        w(f"Durability costs {cost:.1f} ms per letter here (the two figures above): "
          f"{per:.2f} fsyncs per letter from the spool and the attachment store (counted) "
          f"plus the SQLite commit's (WAL, synchronous=FULL), ~{cost / (per + 1):.1f} ms each "
          f"amid the pipeline's writes (an fsync of a lone 3 KB file measured "
          f"{fs['file_ms']:.1f} ms, a folder {fs['dir_ms']:.1f} ms, on an otherwise idle "
          f"disk). The 50 % target allows {2000 / ceil:.1f} ms per letter in all.")
        w("")
    if fs.get("create_ms") is not None:
        w(f"Making an empty file on this disk (the spool's copy of a letter, an attachment, "
          f"the outbox journal's entry, a Maildir letter) took {fs['create_ms']:.2f} ms, "
          f"{fs['create_cpu_ms']:.2f} ms of it CPU (the kernel's): a letter makes 1–2 "
          f"(spool, attachments) and each letter sent 2 (journal, Maildir).")
        w("")
    outcomes = get(ing, "sqlite", "outcomes")
    if outcomes:
        w("What supportd made of the letters (first SQLite repetition; kind → outcome): "
          + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) + ".")
        w("")
    if smtp and "error" not in smtp:
        w("SMTP (each repetition on a fresh desk and a fresh `supportd run`; latency = from "
          "the client's last byte of DATA to the 250):")
        w("")
        w("| run | sent | accepted | s | letters/s | p50 ms | p99 ms | max ms | "
          "processed meanwhile | client late p99 ms |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for phase in ("burst", "paced"):
            for i, x in enumerate(smtp.get(phase, [])):
                w(f"| {phase} {i + 1} | {x['sent']} | {x['accepted']} | {f1(x['seconds'])} | "
                  f"{f1(x['rate'])} | {f1(x['p50_ms'])} | {f1(x['p99_ms'])} | "
                  f"{f1(x['max_ms'])} | {x.get('processed_meanwhile')} | "
                  f"{f1(x.get('late_p99_ms'))} |")
        w("")
    if peer and "error" not in peer:
        w(f"django-helpdesk {peer.get('helpdesk')} on Django {peer.get('django')} "
          f"(`bench/.peer-venv`, settings in `bench/peer/`): wall times "
          f"{runs(peer.get('walls'))} s for {peer.get('letters')} letters, start-up "
          f"{f1(peer.get('startup_s'))} s (an empty folder). It made {peer.get('counts')} and "
          f"left {peer.get('left_in_folder')} letters in the folder. **As shipped it cannot "
          f"read this corpus**: `process_queue` opens each file in text mode in the locale's "
          f"encoding, so under this machine's UTF-8 locale the first 8-bit KOI8-R or "
          f"windows-1251 letter raises `{peer.get('stock_error') or 'UnicodeDecodeError'}` "
          f"and ends the pass; the stock run processed {peer.get('stock_processed')} of "
          f"{peer.get('letters')} letters, and every later run stops at the same file. "
          f"The measured runs use `bench/peer/peer_get_email.py`, which changes only that "
          f"`open` to Latin-1 (every byte survives to the parser).")
        w("")
    elif peer:
        w(f"django-helpdesk: {err(peer)}")
        w("")
    if rss and "error" not in rss:
        t = rss.get("traced") or {}
        w(f"Peak RSS: `supportd ingest` of the {f0(rss.get('letter_bytes'))}-byte letter, "
          f"runs {rss.get('exit_codes')} (exit codes), {f1(rss.get('ingest_seconds'))} s; "
          f"peak {f0((rss.get('ingest_peak_kb') or 0) / 1024)} MiB, "
          f"{f1(rss.get('ratio_over_baseline'))}× the letter above the small-letter baseline. "
          f"tracemalloc in-process: {f0((t.get('traced_peak') or 0) / 2**20)} MiB of Python "
          f"allocations at the peak = {f1((t.get('traced_peak') or 0) / rss['letter_bytes'])}× "
          f"the letter. The daemon answered {rss.get('daemon_code')} after "
          f"{f0(rss.get('daemon_accept_ms'))} ms and processed {rss.get('daemon_processed')} "
          f"letter(s).")
        w("")
        if t.get("stages"):
            w("Where the memory is (tracemalloc, Python allocations in MB above the start; "
              "`parse: …` rows are inside the parse step):")
            w("")
            w("| stage | held before | held after | peak during | biggest live allocation "
              "sites at its end |")
            w("|---|---:|---:|---:|---|")
            for st in t["stages"]:
                top = "; ".join(f"{a.split('/')[-1]} {b / 1e6:.1f}" for a, b in st["top"][:3]
                                if b > 100_000)
                w(f"| {st['stage']} | {st['held_before'] / 1e6:.1f} | "
                  f"{st['held_after'] / 1e6:.1f} | {st['peak'] / 1e6:.1f} | {top} |")
            w("")
    if scale:
        w("Scale (letters: a fresh part of the same generator, numbered on top of the bulk "
          "load; the same letters for both sizes):")
        w("")
        w("| database | tickets | bulk load s | letters/s (runs) | TID µs | In-Reply-To µs | "
          "Message-ID µs | content hash µs | spool id µs | auto-cap µs | pick_assignee µs |")
        w("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for key, x in scale.items():
            if not isinstance(x, dict) or "error" in x:
                w(f"| {key} | {err(x)} |||||||||| ")
                continue
            lk = x.get("lookups", {})

            def us(name: str, lk: dict = lk) -> str:
                return f0(get(lk, name, "median_us"))

            db, _, label = key.partition("_")
            w(f"| {db} | {f0(sz.get('scale_' + label))} | {f1(x.get('load_seconds'))} | "
              f"{f1(x.get('rate'))} ({runs(x.get('rates'))}) | {us('tid_subject_to_ticket')} | "
              f"{us('in_reply_to_ack')} | {us('duplicate_message_id')} | "
              f"{us('duplicate_content_hash')} | {us('inbound_spool_id')} | "
              f"{us('auto_reply_cap_count')} | {us('pick_assignee')} |")
        w("")
        for key in ("sqlite_big", "postgresql_big"):
            plans = get(scale, key, "plans")
            if plans:
                w(f"Query plans at {f0(sz.get('scale_big'))} tickets, {key.split('_')[0]}:")
                w("")
                for name, plan in plans.items():
                    w(f"- {name}: `{plan}`")
                w("")
    if dl and "levels" in dl:
        w("Deadlines (`bench/deadlines.py --n " + f0(dl.get("n")).replace(",", "") + "`, "
          "median of the runs): " + ", ".join(f"{k} {f0(v)}/s" for k, v in
                                               dl["levels"].items()) + ".")
        w("")
    prof = r.get("profile") or {}
    for key, title in (("ingest", "in-process `ingest_now`, SQLite (py-spy, wall clock "
                                  "including I/O waits)"),
                       ("smtp_daemon", "`supportd run` during the first 100/s SMTP run, "
                                       "samples of whichever thread holds the GIL (py-spy --gil)")):
        pr = prof.get(key)
        if not pr or not pr.get("inclusive"):
            continue
        if key == "ingest" and pr.get("roles"):
            w("By stage (share of wall-clock samples): " + ", ".join(
                f"{k} {100 * v:.1f} %" for k, v in pr["roles"].items()) + ".")
            w("")
        if key == "smtp_daemon":
            w(f"During the paced SMTP run some thread of the listener's process (`supportd "
              f"run` itself; the pipeline runs in its worker processes) held the GIL "
              f"{100 * pr.get('gil_busy', float('nan')):.0f} % of the time; by thread: "
              + ", ".join(f"{k} {100 * v:.0f} %" for k, v in pr.get("roles", {}).items())
              + ".")
            w("")
        w(f"Profile of {title}, {pr['samples']} samples; share of samples in which a function "
          "is on the stack (inclusive) and at the top (self):")
        w("")
        w("| inclusive | function | | self | function |")
        w("|---:|---|---|---:|---|")
        inc = [x for x in pr["inclusive"] if not x[0].startswith(("<module>", "main (", "run_child",
                                                                   "child_", "_run_code",
                                                                   "_run_module"))][:25]
        sel = pr["self"][:25]
        for i in range(max(len(inc), len(sel))):
            a = inc[i] if i < len(inc) else ("", 0)
            b = sel[i] if i < len(sel) else ("", 0)
            w(f"| {100 * a[1]:.1f} % | `{a[0]}` | | {100 * b[1]:.1f} % | `{b[0]}` |")
        w("")
    return "\n".join(out)


if __name__ == "__main__":
    print(render(json.loads((WORK / "results.json").read_text())))
    sys.exit(0)
