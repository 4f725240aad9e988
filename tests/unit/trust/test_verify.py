"""Our own DKIM, SPF and DMARC checks against a DNS server on loopback (tests/support).

Every answer comes from the stub: the tests never ask the internet. A name the stub
does not answer at all is a DNS outage: the verdict is "none", in bounded time,
and the failure is remembered so the next letter does not wait again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest

from daemon.trust.check import Checker, Settings
from tests.support.dns_stub import DnsStub, dns_stub

KEYS = Path(__file__).resolve().parents[2] / "fixtures" / "dkim"
KEY = (KEYS / "test-selector.key").read_bytes()
PUBLIC = "v=DKIM1; k=rsa; p=" + (KEYS / "test-selector.pub.b64").read_text().strip()
CLIENT = "romashka.example"
LETTER = (b"From: Ivan <it@romashka.example>\r\nTo: techsupport@example.ru\r\n"
          b"Subject: test\r\nDate: Mon, 30 Nov 2026 10:00:00 +0300\r\n"
          b"Message-ID: <1@romashka.example>\r\n\r\nHello\r\n")


def signed(raw: bytes = LETTER, domain: str = CLIENT) -> bytes:
    return dkim.sign(raw, b"s1", domain.encode(), KEY,
                     include_headers=[b"from", b"to", b"subject", b"date"]) + raw


@pytest.fixture
def stub() -> Iterator[DnsStub]:
    with dns_stub() as s:
        s.txt[f"s1._domainkey.{CLIENT}"] = [PUBLIC]
        s.txt[f"_dmarc.{CLIENT}"] = ["v=DMARC1; p=reject"]
        s.txt[CLIENT] = ["v=spf1 ip4:203.0.113.0/24 -all"]
        yield s


def check(stub: DnsStub, raw: bytes, *, ip: str = "", mail_from: str | None = None,
          timeout: float = 1.0) -> tuple[str, str, str, str]:
    checker = Checker(Settings(verify=True, dns_servers=(stub.server,), dns_timeout=timeout))
    v = checker.verdict([], raw, CLIENT, signatures=raw.count(b"DKIM-Signature:"),
                        client_ip=ip, mail_from=mail_from, helo="mail.romashka.example")
    return v.verdict, v.dkim, v.spf, v.dmarc


def test_a_signed_letter_passes(stub: DnsStub) -> None:
    assert check(stub, signed()) == ("pass", "pass", "none", "pass")


def test_an_altered_letter_fails_and_its_domain_says_reject(stub: DnsStub) -> None:
    forged = signed().replace(b"Hello", b"Pay to account 40817...")
    assert check(stub, forged) == ("fail", "fail", "none", "fail")


def test_an_unsigned_letter_from_a_reject_domain_is_forged(stub: DnsStub) -> None:
    assert check(stub, LETTER, ip="198.51.100.9", mail_from="it@romashka.example") == (
        "fail", "none", "fail", "fail")


def test_a_header_dkimpy_cannot_parse_is_a_permerror_not_a_crash(stub: DnsStub) -> None:
    broken = signed().replace(b"Subject: test", b"X-Mailer : old\r\nSubject: test")
    # The signature cannot be checked, so nothing proves the sender: p=reject says forged.
    assert check(stub, broken) == ("fail", "permerror", "none", "fail")


def test_spf_from_the_right_server_passes(stub: DnsStub) -> None:
    assert check(stub, LETTER, ip="203.0.113.5", mail_from="it@romashka.example") == (
        "pass", "none", "pass", "pass")


def test_a_signature_of_another_domain_aligns_nothing(stub: DnsStub) -> None:
    stub.txt["s1._domainkey.mailer.example"] = [PUBLIC]
    assert check(stub, signed(domain="mailer.example")) == ("fail", "pass", "none", "fail")


def test_no_dmarc_record_and_no_proof_is_no_verdict(stub: DnsStub) -> None:
    del stub.txt[f"_dmarc.{CLIENT}"]
    assert check(stub, LETTER)[0] == "none"
    assert check(stub, signed())[0] == "pass"  # an aligned DKIM pass still proves it


def test_a_dns_outage_is_no_verdict_in_bounded_time_and_remembered(stub: DnsStub) -> None:
    stub.silent |= {f"s1._domainkey.{CLIENT}", f"_dmarc.{CLIENT}"}
    checker = Checker(Settings(verify=True, dns_servers=(stub.server,), dns_timeout=0.3))
    started = time.monotonic()
    v = checker.verdict([], signed(), CLIENT, signatures=1)
    assert (v.verdict, v.dkim, v.dmarc) == ("none", "temperror", "temperror")
    assert time.monotonic() - started < 2
    asked = sum(stub.queries.values())
    started = time.monotonic()
    assert checker.verdict([], signed(), CLIENT, signatures=1).verdict == "none"
    assert time.monotonic() - started < 0.2 and sum(stub.queries.values()) == asked


def test_answers_are_cached(stub: DnsStub) -> None:
    checker = Checker(Settings(verify=True, dns_servers=(stub.server,)))
    for _ in range(3):
        assert checker.verdict([], signed(), CLIENT, signatures=1).verdict == "pass"
    assert stub.queries[(f"_dmarc.{CLIENT}", "TXT")] == 1


def test_no_record_is_remembered_too(stub: DnsStub) -> None:
    del stub.txt[f"_dmarc.{CLIENT}"]
    checker = Checker(Settings(verify=True, dns_servers=(stub.server,)))
    for _ in range(3):
        assert checker.verdict([], LETTER, CLIENT, signatures=0).verdict == "none"
    assert stub.queries[(f"_dmarc.{CLIENT}", "TXT")] == 1


def test_an_answer_is_kept_no_longer_than_its_ttl(stub: DnsStub) -> None:
    stub.ttl = 0
    checker = Checker(Settings(verify=True, dns_servers=(stub.server,)))
    for _ in range(3):
        assert checker.verdict([], signed(), CLIENT, signatures=1).verdict == "pass"
    assert stub.queries[(f"_dmarc.{CLIENT}", "TXT")] == 3


def test_our_mtas_verdict_is_taken_without_asking_dns(stub: DnsStub) -> None:
    checker = Checker(Settings(trusted_ids=("mx.example.ru",), verify=True,
                               dns_servers=(stub.server,)))
    v = checker.verdict([("Authentication-Results",
                          "mx.example.ru; dmarc=fail (p=reject) header.from=romashka.example")],
                        signed(), CLIENT, signatures=1)
    assert (v.verdict, v.source) == ("fail", "mta") and not stub.queries


def test_nothing_checked_without_verify(stub: DnsStub) -> None:
    v = Checker(Settings(verify=False)).verdict([], signed(), CLIENT, signatures=1)
    assert (v.verdict, v.source) == ("none", "") and not stub.queries
