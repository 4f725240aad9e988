"""The top of the RESULTS.md block: how the run was made (command, machine, code,
load, corpus), then the headline table, each target's figure against it.
"""

from __future__ import annotations

import math

from bench.report_figures import Figures, err, f0, f1, get, mark, ratio, runs, workers_rss


def header(f: Figures) -> list[str]:
    """Command, machine, date, code measured, load, corpus, repetitions."""
    out: list[str] = []
    w = out.append
    r, sz = f.r, f.sz
    m = r.get("machine", {})
    c = r.get("corpus", {})
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
    return out


def ingest_rows(f: Figures) -> list[str]:
    """The headline table's head and its rows 1 and 2 (in-process, queue)."""
    out: list[str] = []
    w = out.append
    r, ceil, ing, q, sq, pg = f.r, f.ceil, f.ing, f.q, f.sq, f.pg
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
    return out


def daemon_rows(f: Figures) -> list[str]:
    """Rows 2 and 3 of the running daemon, and of the MTA pipe."""
    out: list[str] = []
    w = out.append
    sz, ceil, smtp, pipe = f.sz, f.ceil, f.smtp, f.pipe
    e2e_smtp = smtp.get("end_to_end_rate")
    if e2e_smtp is not None:
        share = ratio(e2e_smtp, ceil)
        w(f"| 2 | **end to end, the running daemon: {sz.get('smtp_burst')} "
          f"letters over SMTP on {smtp.get('conns')} connections into `supportd run` (listener and "
          f"pipeline process at once), first connection to the last letter committed with its "
          f"acknowledgement queued, SQLite** | **{100 * share:.0f} % of the ceiling** "
          f"({f1(e2e_smtp)} letters/s; runs {runs(smtp.get('end_to_end_rates'))}) | ≥ 50 % | "
          f"{mark(share >= 0.5 if not math.isnan(share) else None)} |")
    w(f"| 2 | `supportd ingest` as an MTA pipe runs it, one process per letter | "
      f"{f1(pipe.get('rate'))} letters/s ({f0(pipe.get('ms_per_letter'))} ms/letter, of which "
      f"starting Python + imports + config ≈ {f0(pipe.get('check_config_ms'))} ms) {err(pipe)}"
      f"| — (start-up bound) | |")
    thin = f.r.get("pipe_thin") or {}
    if thin:
        w(f"| 2 | … the same beside a running `supportd run` (the thin pipe: spool, wake, exit "
          f"0), one process at a time → two at once | {f1(thin.get('one_rate'))} → "
          f"{f1(thin.get('two_rate'))} letters/s handed over ({f0(thin.get('one_cpu_ms'))} ms "
          f"CPU a letter; the daemon drained them at {f1(thin.get('one_drain_rate'))} → "
          f"{f1(thin.get('two_drain_rate'))}/s, {f0(thin.get('one_daemon_cpu_ms'))} ms CPU "
          f"a letter) {err(thin)}| ≥ 20/s | "
          f"{mark((thin.get('two_rate') or 0) >= 20)} |")
    fx = f.r.get("postfix_pipe") or {}
    if fx:
        w(f"| 2 | **… through a real Postfix: {fx.get('letters')} letters over SMTP into "
          f"Postfix, its pipe(8) runs the thin `ingest`, maxproc 2 → 4** | "
          f"**{f1(fx.get('maxproc2_rate'))} → {f1(fx.get('maxproc4_rate'))} letters/s** "
          f"handed over (end to end {f1(fx.get('maxproc2_end_to_end_rate'))} → "
          f"{f1(fx.get('maxproc4_end_to_end_rate'))}/s; lost "
          f"{fx.get('maxproc2_lost')} / {fx.get('maxproc4_lost')}) {err(fx)}| ≥ 20/s | "
          f"{mark(max(fx.get('maxproc2_rate') or 0, fx.get('maxproc4_rate') or 0) >= 20)} |")
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
    return out


def peer_memory_rows(f: Figures) -> list[str]:
    """Rows 4 (the peer) and 5 (memory)."""
    out: list[str] = []
    w = out.append
    sq, peer, rss, prate = f.sq, f.peer, f.rss, f.prate
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
    return out


def scale_deadline_rows(f: Figures) -> list[str]:
    """Rows 6 (scale, per database) and 7 (deadlines), closing the table."""
    out: list[str] = []
    w = out.append
    sz, scale, dl = f.sz, f.scale, f.dl
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
    return out
