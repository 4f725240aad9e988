"""Our own DKIM, SPF and DMARC checks, for letters our MTA wrote no verdict on.

DKIM with dkimpy (each of the first three signatures verified against its key in
DNS), SPF with pyspf (the client's IP, MAIL FROM and HELO, as the listener
recorded them; a letter without a client IP, from `ingest` or IMAP, has no SPF
result), DMARC by `dmarc.evaluate` on the From domain's record (or its
organisational domain's). Every DNS answer comes through `dns.Dns`: bounded and
cached; a lookup that fails makes that method's result `temperror`, which judges
as "none" — a DNS outage never fails a letter nor makes it look forged.
"""

from __future__ import annotations

import dkim
import spf

from daemon.trust.dmarc import evaluate, parse_record
from daemon.trust.dns import Dns, TempFailure
from daemon.trust.domains import normalise, org_domain
from daemon.trust.verdict import Method

MAX_SIGNATURES = 3  # a letter with more is not verified past them (work bound)


def check_dkim(raw: bytes, signatures: int, resolver: Dns) -> list[Method]:
    out: list[Method] = []
    for idx in range(min(signatures, MAX_SIGNATURES)):
        try:  # dkimpy parses the letter here: a header it cannot read (`X-Foo : bar`)
            checker = dkim.DKIM(raw)
        except dkim.MessageFormatError:  # is a signature that cannot verify, not a crash
            out.append(Method("dkim", "permerror", ""))
            continue
        try:
            ok = checker.verify(idx=idx, dnsfunc=resolver.dkim_txt)
        except TempFailure:
            out.append(Method("dkim", "temperror", _signing_domain(checker)))
            continue
        except dkim.ValidationError:  # a body hash or signature that does not match
            out.append(Method("dkim", "fail", _signing_domain(checker)))
            continue
        except Exception:  # dkimpy's other errors, and what broken signatures raise
            out.append(Method("dkim", "permerror", _signing_domain(checker)))
            continue
        out.append(Method("dkim", "pass" if ok else "fail", _signing_domain(checker)))
    return out


def _signing_domain(checker: dkim.DKIM) -> str:
    d = (getattr(checker, "signature_fields", None) or {}).get(b"d", b"")
    return normalise(d.decode("ascii", "replace")) if isinstance(d, bytes) else ""


def check_spf(client_ip: str, mail_from: str | None, helo: str, timeout: float) -> Method:
    sender = mail_from or (f"postmaster@{helo}" if helo else "")
    domain = normalise(sender) if sender else normalise(helo)
    if not client_ip or not domain:
        return Method("spf", "none", domain)
    try:
        result, _ = spf.check2(i=client_ip, s=sender, h=helo or domain, timeout=timeout,
                               querytime=timeout * 5)
    except Exception:  # pyspf's own, and dnspython's past its handlers
        result = "temperror"
    return Method("spf", str(result).lower(), domain)


def check_dmarc(from_domain: str, results: list[Method], resolver: Dns) -> Method:
    try:
        record = parse_record(resolver.txt(f"_dmarc.{from_domain}"))
        at_org = False
        org = org_domain(from_domain)
        if record is None and org is not None and org != from_domain:
            record, at_org = parse_record(resolver.txt(f"_dmarc.{org}")), True
    except TempFailure:
        return Method("dmarc", "temperror", from_domain)
    return evaluate(from_domain, record, at_org_domain=at_org, results=results)


def verify(raw: bytes, from_domain: str, *, signatures: int, client_ip: str,
           mail_from: str | None, helo: str, resolver: Dns, timeout: float) -> list[Method]:
    """The results of our own checks of a letter whose From names `from_domain`."""
    results = check_dkim(raw, signatures, resolver)
    results.append(check_spf(client_ip, mail_from, helo, timeout))
    if from_domain:
        results.append(check_dmarc(from_domain, results, resolver))
    return results
