"""Authentication-Results our own MTA wrote (RFC 8601), and nobody else's.

Anyone upstream can write an Authentication-Results header with our MTA's
authserv-id into a letter. Our MTA adds its own above the Received header it
writes for the hop from outside, so only the headers above the first Received
*from outside* count: Received headers of our own hops (from localhost, or from a
host named in `[auth] internal_hosts`, e.g. a content filter's re-injection) are
passed over, and the first other one ends the region. A header lower down with
our authserv-id is a forgery and cannot outvote a `fail`.

Pure: headers in, `Method`s out. Parsing is authres's; the DMARC policy, which
MTAs write as a comment ("p=reject", "policy=reject") that authres drops, is read
from the clause's text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Iterable

import authres
import authres.dmarc

from daemon.trust.domains import normalise
from daemon.trust.verdict import Method

_PARSER = authres.FeatureContext(authres.dmarc)
_FROM_PART = re.compile(r"^\s*from\s+(\S+)(?:\s+\(([^)]*)\))?", re.I)
_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")
_POLICY = re.compile(r"\bdmarc\s*=\s*\w+[^;]*?\b(?:p|policy)\s*=\s*(none|quarantine|reject)\b",
                     re.I)
# Which property names the domain each method vouches for.
_DOMAIN_OF = {"spf": (("smtp", "mailfrom"), ("smtp", "helo")),
              "dkim": (("header", "d"), ("header", "i")),
              "dmarc": (("header", "from"),),
              "auth": (("smtp", "auth"),)}  # SMTP AUTH at our own submission port


def is_from_outside(received: str, internal_hosts: Collection[str]) -> bool:
    """A Received header for a hop from outside our own relays."""
    m = _FROM_PART.match(" ".join(received.split()))
    if m is None:
        return False  # "by host with local": no outside peer in it
    internal = {h.lower() for h in internal_hosts}
    names = {m.group(1).lower().strip("[]")}
    for ip in _IP.findall(m.group(2) or "") + _IP.findall(m.group(1)):
        names.add(ip.lower())
        try:
            if ipaddress.ip_address(ip).is_loopback:
                return False
        except ValueError:
            pass
    return not names & ({"localhost", "localhost.localdomain"} | internal)


def ours(headers: Iterable[tuple[str, str]], trusted_ids: Collection[str],
         internal_hosts: Collection[str] = ()) -> list[str]:
    """The values of the Authentication-Results headers our MTA added: those with a
    trusted authserv-id above the first Received header from outside, in order."""
    trusted = {t.lower() for t in trusted_ids if t}
    found: list[str] = []
    if not trusted:
        return found
    for name, value in headers:
        key = name.lower()
        if key == "received" and is_from_outside(str(value), internal_hosts):
            break
        if key == "authentication-results":
            text = " ".join(str(value).split())
            if authserv_id(text) in trusted:
                found.append(text)
    return found


def authserv_id(value: str) -> str:
    head = value.split(";", 1)[0].strip()
    return head.split(" ", 1)[0].lower() if head else ""


def methods(values: Iterable[str]) -> list[Method]:
    """The results in our MTA's headers; a header that does not parse gives none."""
    out: list[Method] = []
    for value in values:
        try:
            header = _PARSER.parse_value(value)
        except Exception:  # authres raises its own SyntaxError and others on junk
            continue
        policy = m.group(1).lower() if (m := _POLICY.search(value)) else ""
        for r in header.results:
            method = str(r.method).lower()
            if method not in _DOMAIN_OF:
                continue
            props = {(p.type.lower(), p.name.lower()): str(p.value) for p in r.properties}
            found = next((props[k] for k in _DOMAIN_OF[method] if k in props), "")
            # SMTP AUTH names a login (a user, or a whole address), not a domain.
            domain = found.strip().lower() if method == "auth" else normalise(found)
            out.append(Method(method, str(r.result).lower(), domain,
                              policy if method == "dmarc" else ""))
    return out
