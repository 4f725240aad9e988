"""DNS for our own checks: bounded, cached, and never a stall of the pipeline.

One resolver per process (dnspython), from `[auth] dns_servers` (empty: the
system's resolv.conf) and `[auth] dns_timeout`, the longest wait for one answer.
Answers are kept for their TTL (no record: NEGATIVE_TTL) as the strings the checks
read, in front of dnspython's own cache, whose every lookup costs about half a
millisecond of Python (bench/auth.py: most letters ask the same few domains). A
lookup that timed out or met a broken server is remembered as such for a minute, so
a dead DNS costs one wait per name, not one per letter. A lookup that fails so
raises `TempFailure`; the verdict is then "none" (temporary), never an error of the
letter.

pyspf asks dnspython's default resolver, so `install` makes this one the default:
a process has one DNS configuration (a reload installs the new one).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import dns.exception
import dns.name
import dns.resolver

FAILURE_MEMORY = 60.0  # seconds a failed lookup is not tried again
NEGATIVE_TTL = 300.0  # seconds "no such record" is believed (RFC 2308's usual bound)
_MAX_REMEMBERED = 4096


class TempFailure(Exception):
    """The DNS did not answer in time, or answered with an error: try later."""


def parse_server(text: str) -> tuple[str, int]:
    """'192.0.2.1', '192.0.2.1:5353', '[2001:db8::1]:53' or '2001:db8::1'."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 53)
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, 53


class Dns:
    def __init__(self, servers: tuple[str, ...] = (), timeout: float = 2.0) -> None:
        if servers:
            self.resolver = dns.resolver.Resolver(configure=False)
            parsed = [parse_server(s) for s in servers]
            self.resolver.nameservers = [host for host, _ in parsed]
            self.resolver.nameserver_ports = {host: port for host, port in parsed}
        else:
            self.resolver = dns.resolver.Resolver()
        self.resolver.timeout = self.resolver.lifetime = timeout
        self.resolver.cache = dns.resolver.LRUCache(_MAX_REMEMBERED)
        self._failed: OrderedDict[str, float] = OrderedDict()
        self._answers: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def install(self) -> None:
        dns.resolver.default_resolver = self.resolver

    def txt(self, name: str) -> list[str]:
        """The TXT strings at `name` (each record's strings joined); [] for none."""
        key = name.lower().rstrip(".")
        now = time.monotonic()
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None and now < kept[0]:
                return kept[1]
            failed_at = self._failed.get(key)
            if failed_at is not None and now - failed_at < FAILURE_MEMORY:
                raise TempFailure(f"{key}: no answer a moment ago")
        try:
            answer = self.resolver.resolve(key, "TXT", search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return self._keep(key, now + NEGATIVE_TTL, [])
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            with self._lock:
                self._failed[key] = time.monotonic()
                while len(self._failed) > _MAX_REMEMBERED:
                    self._failed.popitem(last=False)
            raise TempFailure(f"{key}: {type(exc).__name__}") from exc
        texts = [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
        # dnspython's expiration is on the wall clock; the TTL left is what is kept.
        return self._keep(key, now + max(0.0, answer.expiration - time.time()), texts)

    def _keep(self, key: str, until: float, texts: list[str]) -> list[str]:
        with self._lock:
            self._answers[key] = (until, texts)
            self._answers.move_to_end(key)
            while len(self._answers) > _MAX_REMEMBERED:
                self._answers.popitem(last=False)
        return texts

    def dkim_txt(self, name: bytes, timeout: int = 5) -> bytes | None:
        """dkimpy's `dnsfunc`: the key record at `name`, or None."""
        texts = self.txt(name.decode("ascii", "replace"))
        return texts[0].encode() if texts else None
