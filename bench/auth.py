"""What sender authentication costs (issue 11): the drain rate of `ingest_now` with
our own DKIM/SPF/DMARC checks on against off, on the same DKIM-signed letters.

Run: `.venv/bin/python bench/auth.py [--n 200] [--reps 3]`. Every letter of the
benchmark corpus is signed for its From domain (the test key of tests/fixtures/dkim);
a DNS server on loopback (tests/support/dns_stub.py) publishes that key and a
`p=reject` DMARC record for every domain, so "on" verifies a real RSA signature and
looks DMARC up as it would for a client. SPF has no client IP on the ingest path
(none, as for `supportd ingest` and IMAP). The two sides alternate, each repetition
on a fresh warmed desk, so a change of the machine's load falls on both; the figure
is the median of on/off over the pairs, of the wall-clock rate and of the rate by the
process's own CPU time (what a dedicated core would drain: the figure that holds on a
machine busy with other work, as this one usually is).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from email import message_from_bytes
from email.utils import parseaddr
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dkim
import structlog

from bench.harness.desks import letters_for, make_desk, warm_desk
from bench.harness.machine import bench_facts
from bench.harness.paths import WORK
from bench.harness.stats import pairs_summary
from tests.support.dns_stub import DnsStub, dns_stub

KEYS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "dkim"


def signed(raw: bytes, key: bytes) -> tuple[bytes, str]:
    """The letter signed for its From domain, and that domain."""
    domain = parseaddr(message_from_bytes(raw).get("From", ""))[1].rpartition("@")[2].lower()
    if not domain:
        return raw, ""
    head = [b"from", b"to", b"subject", b"date", b"message-id"]
    return dkim.sign(raw, b"s1", domain.encode(), key, include_headers=head) + raw, domain


def publish(stub: DnsStub, domains: set[str]) -> None:
    public = "v=DKIM1; k=rsa; p=" + (KEYS / "test-selector.pub.b64").read_text().strip()
    for d in domains:
        stub.txt[f"s1._domainkey.{d}"] = [public]
        stub.txt[f"_dmarc.{d}"] = ["v=DMARC1; p=reject"]


def one_run(label: str, auth: str, letters: list[tuple[bytes, str]]) -> tuple[float, float]:
    """Letters a second by the wall clock and by this process's CPU time."""
    from daemon.intake.ingest import ingest_now
    from daemon.storage.spool import Envelope

    root = WORK / f"auth-{label}"
    app = make_desk(root, auth=auth)
    warm_desk(app)
    started, cpu = time.perf_counter(), time.process_time()
    for raw, sender in letters:
        ingest_now(app, raw, Envelope(source="ingest", mail_from=sender))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    app.close()
    shutil.rmtree(root, ignore_errors=True)
    return len(letters) / wall, len(letters) / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    key = (KEYS / "test-selector.key").read_bytes()
    corpus = letters_for(args.n, args.seed)
    pairs = [signed(x.raw, key) for x in corpus]
    letters = [(raw, x.sender) for (raw, _), x in zip(pairs, corpus, strict=True)]
    domains = {d for _, d in pairs if d}
    with dns_stub() as stub:
        publish(stub, domains)
        on_cfg = f'verify = true\ndns_servers = ["{stub.server}"]\ndns_timeout = "1s"\n'
        off_cfg = "verify = false\n"
        offs, ons = [], []
        for rep in range(args.reps):
            offs.append(one_run("off", off_cfg, letters))
            ons.append(one_run("on", on_cfg, letters))
            print(f"rep {rep + 1}: off {offs[-1][0]:.1f}/s (cpu {offs[-1][1]:.1f}/s), "
                  f"on {ons[-1][0]:.1f}/s (cpu {ons[-1][1]:.1f}/s)", flush=True)
    facts = bench_facts(None)
    print(f"\n{facts['date']}, {facts['cores']} cores {facts['cpu']}, load before "
          f"{facts['load_before']}, commit {facts['commit']}; {len(letters)} signed letters, "
          f"{len(domains)} domains")
    print("\n".join(pairs_summary(offs, ons)))

if __name__ == "__main__":
    main()
