"""Step: who the letter is proven to be from (`daemon.trust`), before its transaction.

The verdict is our MTA's Authentication-Results where it wrote them, else our own
DKIM, SPF and DMARC checks (`[auth] verify`). Run by the runner before the
letter's transaction opens, as parsing is: a DNS answer may take its time, and the
database's write lock must not wait for it. SPF is asked only about a client the
listener itself spoke to: behind our own MTA (LMTP from localhost, a relay in
`[auth] internal_hosts`) the peer is our relay, not the sender.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy.orm import Session

from daemon.app import App
from daemon.pipeline.context import Letter


def _outside_client(peer: str, internal_hosts: tuple[str, ...]) -> str:
    if not peer or peer.lower() in {h.lower() for h in internal_hosts}:
        return ""
    try:
        return "" if ipaddress.ip_address(peer).is_loopback else peer
    except ValueError:
        return ""


def run(letter: Letter, session: Session, app: App) -> None:
    p = letter.parsed
    if p is None or not p.from_addr or p.from_problem:
        return  # no From domain to prove
    env = letter.spooled.envelope
    letter.auth = app.trust.verdict(
        p.message.raw_items(), letter.spooled.raw, p.from_addr.rpartition("@")[2],
        signatures=len(p.message.get_all("DKIM-Signature") or []),
        client_ip=_outside_client(env.peer, app.config.auth.internal_hosts),
        mail_from=env.mail_from, helo=env.helo)
