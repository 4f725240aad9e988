"""A DNS server for tests: UDP on 127.0.0.1, answering from a dict, stopped by the test.

Records are TXT strings and A addresses by name; every other name is NXDOMAIN.
A name in `silent` gets no answer at all (a resolver's timeout), which is how the
tests show a DNS outage. `queries` counts what was asked, for the cache tests.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsStub:
    def __init__(self) -> None:
        self.txt: dict[str, list[str]] = {}
        self.a: dict[str, list[str]] = {}
        self.silent: set[str] = set()
        self.ttl = 60  # of every answer
        self.queries: Counter[tuple[str, str]] = Counter()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def server(self) -> str:
        """As `[auth] dns_servers` takes it."""
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except Exception:
                continue
            answer = self._answer(query)
            if answer is not None:
                self.sock.sendto(answer.to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries[(name, kind)] += 1
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        records = {"TXT": self.txt, "A": self.a}.get(kind, {})
        if name in records:
            values = [_txt(v) for v in records[name]] if kind == "TXT" else records[name]
            response.answer.append(dns.rrset.from_text_list(
                question.name, self.ttl, dns.rdataclass.IN, question.rdtype, values))
        elif name not in self.txt and name not in self.a:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response

    def start(self) -> DnsStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        self._thread.join(timeout=2)
        self.sock.close()


def _txt(value: str) -> str:
    """A TXT string in zone-file form, split into 255-octet strings."""
    chunks = [value[i:i + 250] for i in range(0, len(value), 250)] or [""]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


@contextmanager
def dns_stub() -> Iterator[DnsStub]:
    stub = DnsStub().start()
    try:
        yield stub
    finally:
        stub.stop()
