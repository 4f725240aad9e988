"""The rest of the RESULTS.md block: every repetition's rate, what durability costs,
what supportd made of the letters, the SMTP runs, the peer, where the memory is,
scale, deadlines and the profiles.
"""

from __future__ import annotations

from bench.report_figures import Figures, err, f0, f1, get, ratio, runs


def rates(f: Figures) -> list[str]:
    """Letters per second of every repetition."""
    out: list[str] = []
    w = out.append
    r, ceil, ing, q, pipe, peer, prate = f.r, f.ceil, f.ing, f.q, f.pipe, f.peer, f.prate
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
    return out


def durability(f: Figures) -> list[str]:
    """What fsync costs on this disk, and making a file."""
    out: list[str] = []
    w = out.append
    ceil, ing, sq, nof = f.ceil, f.ing, f.sq, f.nof
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
    return out


def outcomes_smtp(f: Figures) -> list[str]:
    """What supportd made of the letters; the SMTP runs."""
    out: list[str] = []
    w = out.append
    ing, smtp = f.ing, f.smtp
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
    return out


def peer_text(f: Figures) -> list[str]:
    """django-helpdesk: versions, times, and why it needs a patch."""
    out: list[str] = []
    w = out.append
    peer = f.peer
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
    return out


def memory_text(f: Figures) -> list[str]:
    """Peak RSS in words, and where the Python memory is by stage."""
    out: list[str] = []
    w = out.append
    rss = f.rss
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
    return out


def scale_table(f: Figures) -> list[str]:
    """Scale: rates and lookups per size, query plans."""
    out: list[str] = []
    w = out.append
    sz, scale = f.sz, f.scale
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
    return out


def deadlines_text(f: Figures) -> list[str]:
    """Deadlines per level."""
    out: list[str] = []
    w = out.append
    dl = f.dl
    if dl and "levels" in dl:
        w("Deadlines (`bench/deadlines.py --n " + f0(dl.get("n")).replace(",", "") + "`, "
          "median of the runs): " + ", ".join(f"{k} {f0(v)}/s" for k, v in
                                               dl["levels"].items()) + ".")
        w("")
    return out


def profile_tables(f: Figures) -> list[str]:
    """The py-spy profiles: by stage or thread, then by function."""
    out: list[str] = []
    w = out.append
    r = f.r
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
    return out
