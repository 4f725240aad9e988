"""Hostile letters through the real pipeline: nothing crashes, hangs or is lost.

Three stories. Mutated letters (hypothesis breaks valid ones: cut, flipped bytes,
broken boundaries and base64, wrong charsets, NULs, CR/LF in header values and file
names, very long lines) each end accounted, with their raw bytes kept byte for byte,
in bounded time. The named pathological letters (10,000 parts, nesting 1,000 deep, a
1 MB header line, a 5 MB subject, 100,000 fields, 50,000 addresses, ...) are each
handled in bounded time, and still give their sender a ticket. And nothing a client
writes in a subject, a file name or an address gets a header or a recipient into the
letters we send.
"""

from __future__ import annotations

import base64
import email
import email.policy
import email.quoprimime
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import getaddresses

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from daemon.config import loader as config_mod
from daemon.intake.ingest import Refused
from daemon.mail import guard
from daemon.outbound.outbox import recipients_of
from daemon.pipeline.runner import Result
from daemon.storage.models import Inbound, Message, Outgoing
from daemon.storage.spool import Spool
from tests.conftest import Desk, make_desk, simple_letter

OUTCOMES = {"ticket", "threaded", "duplicate", "suppressed", "bounce"}
# Bugs outside the parser that the fuzzing found and that are not fixed yet (none now):
# such a letter is kept and flagged for staff, but through the runner's error path.
KNOWN_BUGS: tuple[re.Pattern[str], ...] = ()
TIME_BOUND = 5.0  # seconds per letter; the worst measured below is ~2.7 s on a 20 MB letter
VICTIM = "victim@evil.example"


# ---------------------------------------------------------------- helpers


def stored_raw(desk: Desk, spool_id: str) -> bytes:
    with desk.app.sessions() as s:
        row = s.scalar(select(Inbound).where(Inbound.spool_id == spool_id))
        assert row is not None, "every letter has its Inbound row"
        return Spool.raw_of(desk.app.spool.resolve(row.raw_path))


def inbound_count(desk: Desk) -> int:
    with desk.app.sessions() as s:
        return len(s.scalars(select(Inbound.id)).all())


def outgoing(desk: Desk, after: int = 0) -> list[Outgoing]:
    with desk.app.sessions() as s:
        return list(s.scalars(select(Outgoing).where(Outgoing.id > after)
                              .order_by(Outgoing.id)))


def last_outgoing_id(desk: Desk) -> int:
    rows = outgoing(desk)
    return rows[-1].id if rows else 0


def texts_of(desk: Desk, tid: str) -> list[str]:
    with desk.app.sessions() as s:
        from daemon.storage.models import Ticket

        ticket = s.scalar(select(Ticket).where(Ticket.tid == tid))
        assert ticket is not None
        return [m.body_text for m in s.scalars(select(Message).where(
            Message.ticket_id == ticket.id, Message.direction == "in"))]


def header_names(raw: bytes) -> list[str]:
    """The names of the header fields of a built letter, as any MTA would split them."""
    head = re.split(rb"\r\n\r\n|\n\n", raw, maxsplit=1)[0]
    return [ln.split(b":", 1)[0].strip().decode("latin-1").lower()
            for ln in re.split(rb"\r\n|\r|\n", head) if ln and ln[:1] not in b" \t"]


def assert_no_injection(row: Outgoing, expected: list[str]) -> None:
    names = header_names(row.raw)
    assert "bcc" not in names, f"{row.kind}: a Bcc header in {names}"
    assert names.count("to") == 1 and names.count("cc") <= 1 and names.count("subject") == 1
    assert recipients_of(row.raw, row.recipient) == expected, row.kind
    m = email.message_from_bytes(row.raw, policy=email.policy.default)
    assert m["Bcc"] is None
    # What we quote of the client's Message-ID is one word, never a line of theirs.
    raw_header = email.message_from_bytes(row.raw, policy=email.policy.compat32)
    assert len(str(raw_header["In-Reply-To"] or "x").split()) == 1
    everyone = [a for _, a in getaddresses([str(v) for v in
                                            (m.get_all("To") or []) + (m.get_all("Cc") or [])])]
    assert VICTIM not in everyone and VICTIM not in recipients_of(row.raw, row.recipient)


def ingest(desk: Desk, raw: bytes, sender: str | None = None) -> Result:
    result = desk.ingest(raw, sender=sender)
    assert isinstance(result, Result)
    return result


def timed(desk: Desk, raw: bytes, sender: str | None = None) -> tuple[Result, float]:
    start = time.perf_counter()
    result = ingest(desk, raw, sender)
    return result, time.perf_counter() - start


# ---------------------------------------------------------------- (a) mutated letters


def _rich() -> bytes:
    m = EmailMessage()
    m["From"] = "Иван Клиентов <ivan@client.example>"
    m["To"] = "techsupport@example.ru"
    m["Cc"] = "Пётр <petr@client.example>"
    m["Subject"] = "Не формируется отчёт «Сверка» — ошибка 500"
    m["Message-ID"] = "<rich@client.example>"
    m.set_content("Здравствуйте! Версия 3.14, система edo.client.example.\nИНН 7707083893.")
    m.add_alternative("<p>Здравствуйте!<br>Версия 3.14</p>", subtype="html")
    m.add_attachment(b"\x89PNG\r\n\x1a\n" + bytes(100), maintype="image", subtype="png",
                     filename="снимок экрана 1.png")  # RFC 2231
    m.add_attachment(b"PK\x05\x06" + bytes(18), maintype="application", subtype="zip",
                     filename="архив.zip")
    inner = EmailMessage()
    inner["From"] = "boss@client.example"
    inner["Subject"] = "Пересылаю"
    inner.set_content("Внутреннее письмо.")
    m.add_attachment(inner)
    return m.as_bytes(policy=email.policy.SMTP)


def _koi8() -> bytes:
    subject = "=?koi8-r?b?" + base64.b64encode("Ошибка входа".encode("koi8-r")).decode() + "?="
    body = "Не могу войти, логин: romashka-admin. Версия 3.2.1".encode("koi8-r")
    name = "=?windows-1251?b?" + base64.b64encode("отчёт.pdf".encode("cp1251")).decode() + "?="
    return (b"From: =?koi8-r?b?" + base64.b64encode("Пётр".encode("koi8-r")) +
            b"?= <petr@client.example>\r\nTo: techsupport@example.ru\r\n"
            b"Subject: " + subject.encode() + b"\r\nMessage-ID: <koi8@client.example>\r\n"
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="==b1=="\r\n\r\n'
            b'--==b1==\r\nContent-Type: text/plain; charset="koi8-r"\r\n'
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n"
            b'--==b1==\r\nContent-Type: application/pdf; name="' + name.encode() + b'"\r\n'
            b"Content-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="' + name.encode() + b'"\r\n\r\n'
            + base64.encodebytes(b"%PDF-1.4\n" + bytes(300)).replace(b"\n", b"\r\n")
            + b"--==b1==--\r\n")


def _html_1251() -> bytes:
    html = "<html><body><p>Срочно!</p><style>p{}</style><p>Не работает ЭДО</p></body></html>"
    return (b"From: anna@romashka.example\r\nTo: techsupport@example.ru\r\n"
            b"Subject: =?windows-1251?q?=D1=F0=EE=F7=ED=EE?=\r\nX-Priority: 1\r\n"
            b"Content-Type: text/html; charset=windows-1251\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            + email.quoprimime.body_encode(html.encode("cp1251").decode("latin-1")).encode())


def _bounce() -> bytes:
    return (b"From: MAILER-DAEMON@mx.client.example\r\nTo: techsupport@example.ru\r\n"
            b"Subject: Undelivered Mail Returned to Sender\r\n"
            b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"\r\n"
            b"\r\n--R\r\nContent-Type: text/plain\r\n\r\nI'm sorry.\r\n"
            b"--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
            b"Final-Recipient: rfc822; ivan@client.example\r\nAction: failed\r\n"
            b"Status: 5.1.1\r\n\r\n--R\r\nContent-Type: message/rfc822\r\n\r\n"
            b"Message-ID: <supportd.ack.1.x@example.ru>\r\nSubject: [SD-000013] x\r\n\r\nx\r\n"
            b"--R--\r\n")


def _tnef() -> bytes:
    return (b"From: ivan@client.example\r\nTo: techsupport@example.ru\r\nSubject: winmail\r\n"
            b'Content-Type: multipart/mixed; boundary="T"\r\n\r\n--T\r\n'
            b"Content-Type: text/plain\r\n\r\nsee attached\r\n--T\r\n"
            b"Content-Type: application/ms-tnef; name=winmail.dat\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + base64.encodebytes(b"\x78\x9f\x3e\x22" + bytes(range(256)) * 4).replace(
                b"\n", b"\r\n") + b"--T--\r\n")


SEEDS = [_rich(), _koi8(), _html_1251(), _bounce(), _tnef(),
         simple_letter("Re: [SD-000013] Не формируется отчёт", sender="ivan@client.example")]

INJECTIONS = [b"\r\nBcc: " + VICTIM.encode(), b"\rBcc: " + VICTIM.encode(),
              b"\nBcc: " + VICTIM.encode(), b"=0D=0ABcc:_" + VICTIM.encode(),
              b"%0D%0ABcc%3A%20victim%40evil.example", b"\r\n Bcc: " + VICTIM.encode()]
LABELS = [b"koi8-r", b"windows-1251", b"utf-8", b"x-unknown", b"base64", b"rot13",
          b"utf-16", b"cp866", b"iso-2022-jp", b"", b"\"", b"us-ascii"]
_BASE64_LINE = re.compile(rb"^[A-Za-z0-9+/]{16,}={0,2}\r?$", re.M)
_DASH_LINE = re.compile(rb"^--[^\r\n]*\r?\n", re.M)
_CHARSET = re.compile(rb"charset=\"?([\w-]*)\"?", re.I)
_HEADER_VALUE = re.compile(rb"^(?:Subject|From|To|Content-Disposition|Content-Type):[^\r\n]*",
                           re.M | re.I)


def _nth(pattern: re.Pattern[bytes], raw: bytes, n: int) -> re.Match[bytes] | None:
    found = list(pattern.finditer(raw))
    return found[n % len(found)] if found else None


def mutate(raw: bytes, op: tuple[str, int, int, bytes]) -> bytes:
    kind, at, n, data = op
    pos = at % (len(raw) + 1)
    if kind == "truncate":
        return raw[:pos]
    if kind == "flip" and raw:
        pos %= len(raw)
        return raw[:pos] + bytes([raw[pos] ^ (n % 255 + 1)]) + raw[pos + 1:]
    if kind == "insert":
        return raw[:pos] + data + raw[pos:]
    if kind == "splice":
        return raw[:pos] + raw[pos + n % 2000:]
    if kind == "nuls":
        return raw[:pos] + b"\x00" * (n % 50 + 1) + raw[pos:]
    if kind == "long-line":
        return raw[:pos] + b"X" * (n % 200_000) + raw[pos:]
    if kind == "long-header":
        end = raw.find(b"\n") + 1
        return raw[:end] + b"X-Long: " + b"a" * (n % 300_000) + b"\r\n" + raw[end:]
    if kind == "line-ends":
        return raw.replace(b"\r\n", [b"\n", b"\r", b"\r\r\n"][n % 3])
    if kind in ("dup-boundary", "drop-boundary"):
        m = _nth(_DASH_LINE, raw, n)
        if m is None:
            return raw
        line = m.group(0) * (n % 5 + 2) if kind == "dup-boundary" else b""
        return raw[:m.start()] + line + raw[m.end():]
    if kind == "bad-base64":
        m = _nth(_BASE64_LINE, raw, n)
        junk = [b"!!!!", b"====", b"\x00\xff", b"A", data, b"=" * 77][n % 6]
        return raw if m is None else raw[:m.start()] + junk + raw[m.end():]
    if kind == "charset":
        m = _nth(_CHARSET, raw, n)
        return raw if m is None else raw[:m.start(1)] + LABELS[n % len(LABELS)] + raw[m.end(1):]
    if kind == "inject":
        m = _nth(_HEADER_VALUE, raw, n)
        where = m.end() if m is not None else pos
        return raw[:where] + INJECTIONS[n % len(INJECTIONS)] + raw[where:]
    return raw


KINDS = ["truncate", "flip", "insert", "splice", "nuls", "long-line", "long-header",
         "line-ends", "dup-boundary", "drop-boundary", "bad-base64", "charset", "inject"]
operations = st.tuples(st.sampled_from(KINDS), st.integers(0, 10**7), st.integers(0, 10**6),
                       st.binary(max_size=40))


def test_mutated_letters_are_all_accounted_kept_whole_and_quick(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    desk = make_desk(tmp_path_factory.mktemp("mutated"))
    limit = desk.app.config.smtp.max_message_size
    seen_outgoing = [0]
    outcomes: Counter[str] = Counter()

    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.sampled_from(SEEDS), st.lists(operations, min_size=1, max_size=4),
           st.sampled_from([None, None, "", "ivan@client.example"]))
    # Found here: 122,402 letters X in the From made two address searches quadratic (31 s).
    @example(_koi8(), [("long-line", 3000, 122_402, b"")], None)
    # And a byte not UTF-8 in a DSN's Final-Recipient reached the database as a surrogate.
    @example(_bounce(), [("nuls", 5, 7, b""), ("flip", 9321482, 127, b"")], None)
    # And «From:\r\n Bcc: victim@…» was read as a name holding the address to answer.
    @example(SEEDS[0], [("truncate", 5, 0, b""), ("inject", 0, 185, b"")], None)
    # And 47,854 X in a bounce's text: the search for the addresses it names was quadratic.
    @example(_bounce(), [("long-line", 112, 47_854, b"")], None)
    def one_letter(seed: bytes, ops: list[tuple[str, int, int, bytes]],
                   sender: str | None) -> None:
        raw = seed
        for op in ops:
            raw = mutate(raw, op)
        if not raw.strip() or len(raw) > limit:
            event("refused: empty or too big")
            outcomes["refused"] += 1
            with pytest.raises(Refused):
                desk.ingest(raw, sender=sender)
            return
        before = inbound_count(desk)
        result, elapsed = timed(desk, raw, sender)
        assert elapsed < TIME_BOUND
        assert result.outcome in OUTCOMES, result
        event(result.outcome)
        outcomes[result.outcome] += 1
        reason = result.reason
        assert "flagged after error" not in reason or any(b.match(reason) for b in KNOWN_BUGS)
        assert inbound_count(desk) == before + 1
        assert stored_raw(desk, result.spool_id) == raw
        rows = outgoing(desk, seen_outgoing[0])
        seen_outgoing[0] = rows[-1].id if rows else seen_outgoing[0]  # blame this letter only
        for row in rows:
            assert_no_injection(row, [row.recipient])

    try:
        one_letter()
    finally:
        desk.app.close()
    print(dict(outcomes))
    # Not vacuous: most letters got through to the pipeline, and took different roads.
    assert outcomes.total() - outcomes["refused"] >= 150
    assert {"ticket", "duplicate", "suppressed"} <= set(outcomes)


def test_a_bounce_returning_a_message_id_with_8bit_bytes_is_no_error(desk: Desk) -> None:
    result = ingest(desk, _bounce().replace(b"<supportd", b"<\x80supportd"), sender="")
    assert "flagged after error" not in result.reason


# ---------------------------------------------------------------- (b) pathological letters

HEAD = ("From: Клиент <{who}@client.example>\r\nTo: techsupport@example.ru\r\n"
        "Message-ID: <{who}@client.example>\r\nMIME-Version: 1.0\r\n")


def head(who: str, subject: str = "Проблема") -> bytes:
    return HEAD.format(who=who).encode() + b"Subject: " + subject.encode() + b"\r\n"


def ten_thousand_parts() -> bytes:
    parts = b"".join(b"--B\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i
                     for i in range(10_000))
    return (head("parts") + b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n' + parts
            + b"--B--\r\n")


def nested_multiparts(depth: int = 1_000) -> bytes:
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n'
                       % (i, i) for i in range(depth))
    closing = b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    return head("deep") + opening + b"Content-Type: text/plain\r\n\r\nbottom\r\n" + closing


def nested_messages(depth: int = 1_000) -> bytes:
    return head("rfc822") + b"".join(b"Content-Type: message/rfc822\r\n\r\nSubject: %d\r\n" % i
                                     for i in range(depth)) + b"\r\nbottom\r\n"


def megabyte_header_line() -> bytes:
    return (head("longline") + b"X-Junk: " + b"a" * 1_000_000 + b"\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            + "Текст письма на месте.\r\n".encode())


def encoded_words(n: int) -> bytes:
    word = b"=?utf-8?b?" + base64.b64encode("Привет".encode()) + b"?="
    return b" ".join([word] * n)


def hundred_thousand_fields(after: bytes) -> bytes:
    junk = b"".join(b"X-Junk-%d: v\r\n" % i for i in range(100_000))
    return (b"To: techsupport@example.ru\r\n" + junk + after
            + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + "Текст.\r\n".encode())


def base64_garbage() -> bytes:
    junk = bytes(range(256)) * 2000 + b"!@#$%^&*()" * 1000
    return (head("b64") + b'Content-Type: multipart/mixed; boundary="G"\r\n\r\n--G\r\n'
            b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64"
            b"\r\n\r\n" + junk + b"\r\n--G\r\nContent-Type: application/pdf\r\n"
            b'Content-Disposition: attachment; filename="x.pdf"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + junk + b"\r\n--G--\r\n")


def fifty_thousand_addresses() -> bytes:
    to = b",\r\n ".join(b'"User %d" <user%d@spam.example>' % (i, i) for i in range(50_000))
    return (head("manyto").replace(b"To: techsupport@example.ru\r\n", b"To: " + to + b"\r\n")
            + "\r\nТекст.\r\n".encode())


def never_closing_boundary() -> bytes:
    return (head("unclosed") + b'Content-Type: multipart/mixed; boundary="NEVER"\r\n\r\n'
            b"--NEVER\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + "Первая часть.\r\n".encode() + b"line of text\r\n" * 70_000)


def million_lines() -> bytes:
    return head("lines") + b"\r\n" + b"a\r\n" * 1_000_000


def runs_of_blanks() -> bytes:
    """Long runs of what reply, robot and secret rules read: blanks, blank lines, rules,
    scheme-like characters, #solved-like line starts. Each was a quadratic search."""
    text = ("Не открывается отчёт.\r\n" + " " * 200_000 + "\r\n" + "\t \r\n" * 50_000
            + "-" * 50_000 + "\r\n" + "a." * 50_000 + "\r\n" + "\r\n" * 100_000
            + " * " * 30_000 + "\r\n")
    return (head("blanks") + b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            + text.encode())


def bounce_of_runs() -> bytes:
    """A bounce whose report is runs of blank lines and of address characters."""
    return _bounce().replace(b"I'm sorry.\r\n", b"I'm sorry." + b"X" * 200_000
                             + b"\r\n" * 200_000 + b" \r\n" * 50_000 + b">" * 50_000 + b"\r\n")


def mislabelled_cp1251() -> bytes:
    return (head("cp1251") + b"Content-Type: text/plain; charset=iso-8859-1\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n"
            + "Добрый день, не открывается отчёт. ".encode("cp1251") * 150_000)


def unclosed_scripts() -> bytes:
    return (head("html") + b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello</p>"
            + b"<script " * 200_000)


def nuls_everywhere() -> bytes:
    return (head("nul", "Про\x00блема") + b"X-Null: a\x00b\r\n\r\n" + b"te\x00xt\x00" * 10_000)


@pytest.fixture(scope="module")
def big_desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """One desk for the pathological letters, taking the default 25 MB letters."""
    desk = make_desk(tmp_path_factory.mktemp("pathological"))
    text = desk.config_path.read_text(encoding="utf-8")
    desk.config_path.write_text(text.replace("max_message_size = 1048576",
                                             "max_message_size = 26214400"), encoding="utf-8")
    desk.app.reconfigure(config_mod.load(desk.config_path))
    assert desk.app.config.smtp.max_message_size == 26214400
    yield desk
    desk.app.close()


def ticket_of(desk: Desk, tid: str | None) -> dict:
    [t] = [t for t in desk.tickets() if t["tid"] == tid]
    return t


def acked(desk: Desk, who: str, after: int) -> list[Outgoing]:
    rows = [r for r in outgoing(desk, after) if r.recipient == f"{who}@client.example"]
    for r in rows:
        assert_no_injection(r, [r.recipient])
    return rows


def ingest_in_time(desk: Desk, raw: bytes, who: str) -> tuple[dict, int]:
    after = last_outgoing_id(desk)
    result, elapsed = timed(desk, raw, f"{who}@client.example")
    assert elapsed < TIME_BOUND, f"{elapsed:.1f} s"
    assert result.outcome == "ticket"
    assert stored_raw(desk, result.spool_id) == raw
    return ticket_of(desk, result.tid), after


@pytest.mark.parametrize("make, who, why", [
    (ten_thousand_parts, "parts", "parts: 501 > 500"),
    (nested_multiparts, "deep", "nesting: 51 > 50"),
    (nested_messages, "rfc822", "nesting: 51 > 50"),
    (million_lines, "lines", "lines: 1000"),
], ids=["10000-parts", "nesting-1000", "rfc822-nesting-1000", "million-lines"])
def test_a_letter_too_complex_to_parse_still_opens_a_ticket_from_its_header(
        big_desk: Desk, make: Callable[[], bytes], who: str, why: str) -> None:
    t, after = ingest_in_time(big_desk, make(), who)
    assert t["requester"] == f"{who}@client.example" and t["subject"] == "Проблема"
    assert t["needs_attention"] and why in t["attention_reason"]
    assert "headers only" in t["attention_reason"]
    assert len(acked(big_desk, who, after)) == 1  # the client is told the ticket number


def test_a_megabyte_header_line_is_cut_and_the_letter_read(big_desk: Desk) -> None:
    t, after = ingest_in_time(big_desk, megabyte_header_line(), "longline")
    assert "header fields cut" in t["attention_reason"] and "x-junk" in t["attention_reason"]
    assert texts_of(big_desk, t["tid"]) == ["Текст письма на месте."]
    assert len(acked(big_desk, "longline", after)) == 1


def test_a_reply_with_a_five_megabyte_subject_still_joins_its_ticket(big_desk: Desk) -> None:
    first_letter = head("subject") + "\r\nПервое письмо.\r\n".encode()
    first, _ = ingest_in_time(big_desk, first_letter, "subject")
    tid = first["tid"]
    reply = (head("subject", "").replace(b"Message-ID: <subject@", b"Message-ID: <subject2@")
             .replace(b"Subject: \r\n", b"Subject: Re: [" + tid.encode() + b"] "
                      + encoded_words(220_000) + b"\r\n") + "\r\nДополнение.\r\n".encode())
    assert len(reply) > 5_000_000
    after = last_outgoing_id(big_desk)
    result, elapsed = timed(big_desk, reply, "subject@client.example")
    assert elapsed < TIME_BOUND, f"{elapsed:.1f} s"
    assert (result.outcome, result.tid) == ("threaded", tid)
    assert stored_raw(big_desk, result.spool_id) == reply
    assert texts_of(big_desk, tid) == ["Первое письмо.", "Дополнение."]
    [ack] = acked(big_desk, "subject", after)
    assert len(ack.subject) < 2100  # the subject we send is the ticket's, not the 5 MB


def test_a_hundred_thousand_fields_do_not_hide_the_sender(big_desk: Desk) -> None:
    raw = hundred_thousand_fields("From: fields@client.example\r\nSubject: Найдите меня\r\n"
                                  "Message-ID: <fields@client.example>\r\n".encode())
    t, after = ingest_in_time(big_desk, raw, "fields")
    assert t["requester"] == "fields@client.example" and t["subject"] == "Найдите меня"
    assert "header fields dropped" in t["attention_reason"]
    assert len(acked(big_desk, "fields", after)) == 1


def test_a_robot_marker_after_a_hundred_thousand_fields_still_silences_us(
        big_desk: Desk) -> None:
    raw = hundred_thousand_fields(b"From: robot@client.example\r\n"
                                  b"Auto-Submitted: auto-replied\r\nSubject: OOO\r\n")
    after = last_outgoing_id(big_desk)
    result, elapsed = timed(big_desk, raw, "robot@client.example")
    assert elapsed < TIME_BOUND and result.outcome == "suppressed"
    assert stored_raw(big_desk, result.spool_id) == raw
    assert outgoing(big_desk, after) == []


def test_base64_garbage_is_kept_as_an_attachment(big_desk: Desk) -> None:
    t, after = ingest_in_time(big_desk, base64_garbage(), "b64")
    [message] = [m for m in t["messages"] if m["direction"] == "in"]
    assert [a["filename"] for a in message["attachments"]] == ["x.pdf"]
    assert len(acked(big_desk, "b64", after)) == 1


def test_fifty_thousand_addresses_make_no_crowd(big_desk: Desk) -> None:
    t, after = ingest_in_time(big_desk, fifty_thousand_addresses(), "manyto")
    assert len(t["participants"]) <= guard.MAX_ADDRESSES
    [ack] = acked(big_desk, "manyto", after)  # to the sender alone
    assert not [r for r in outgoing(big_desk, after) if "spam.example" in r.recipient]


def test_a_boundary_that_never_closes_keeps_its_text(big_desk: Desk) -> None:
    t, _ = ingest_in_time(big_desk, never_closing_boundary(), "unclosed")
    [text] = texts_of(big_desk, t["tid"])
    assert text.startswith("Первая часть.") and len(text) > 400_000  # 70,000 lines, cut


def test_a_big_mislabelled_cyrillic_body_is_read_in_time(big_desk: Desk) -> None:
    t, _ = ingest_in_time(big_desk, mislabelled_cp1251(), "cp1251")
    [text] = texts_of(big_desk, t["tid"])
    assert text.startswith("Добрый день, не открывается отчёт.")
    assert len(text) <= guard.MAX_TEXT_CHARS and "text cut" in t["attention_reason"]


def test_long_runs_of_blanks_and_rules_are_read_in_time(big_desk: Desk) -> None:
    t, _ = ingest_in_time(big_desk, runs_of_blanks(), "blanks")
    [text] = texts_of(big_desk, t["tid"])
    assert text.startswith("Не открывается отчёт.")


def test_a_bounce_of_long_runs_is_recognised_in_time(big_desk: Desk) -> None:
    result, elapsed = timed(big_desk, bounce_of_runs(), "")
    assert elapsed < TIME_BOUND, f"{elapsed:.1f} s"
    assert result.outcome == "suppressed" and "bounce of a letter we do not know" in result.reason


def test_html_full_of_unclosed_tags_is_read_in_time(big_desk: Desk) -> None:
    t, _ = ingest_in_time(big_desk, unclosed_scripts(), "html")
    [text] = texts_of(big_desk, t["tid"])
    assert text.startswith("Hello")


def test_nul_bytes_never_reach_the_database(big_desk: Desk) -> None:
    t, _ = ingest_in_time(big_desk, nuls_everywhere(), "nul")
    assert "\x00" not in t["subject"] and t["subject"].startswith("Про")
    [text] = texts_of(big_desk, t["tid"])
    assert "\x00" not in text and text.startswith("text")


# ---------------------------------------------------------------- (c) header injection


def letter_with(*, subject: bytes = b"Help", filename: bytes | None = None,
                sender: bytes = b"Ivan <ivan@client.example>", extra: bytes = b"",
                message_id: bytes = b"<inject@client.example>") -> bytes:
    head = (b"From: " + sender + b"\r\nTo: techsupport@example.ru\r\nSubject: " + subject
            + b"\r\nMessage-ID: " + message_id + b"\r\n" + extra + b"MIME-Version: 1.0\r\n")
    text = "Не работает выгрузка, версия 3.14, edo.client.example".encode()
    if filename is None:
        return head + b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + b"\r\n"
    return (head + b'Content-Type: multipart/mixed; boundary="I"\r\n\r\n--I\r\n'
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + b"\r\n--I\r\n"
            b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; " + filename + b"\r\n\r\n"
            + base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)) + b"\r\n--I--\r\n")


def _b(text: str) -> bytes:
    return b"=?utf-8?b?" + base64.b64encode(text.encode()) + b"?="


BCC = f"\r\nBcc: {VICTIM}"
INJECTING = {
    "subject-encoded-q": dict(subject=b"=?utf-8?q?Help=0D=0ABcc:_victim@evil.example?="),
    "subject-encoded-b": dict(subject=_b("Help" + BCC)),
    "subject-lf-cp1251": dict(subject=b"=?windows-1251?q?=CF=F0=EE=E1=EB=E5=EC=E0=0A"
                                      b"Bcc:_victim@evil.example?="),
    "subject-bare-cr": dict(subject=b"Help\rBcc: " + VICTIM.encode()),
    "subject-folded": dict(subject=b"Help\r\n Bcc: " + VICTIM.encode()),
    "subject-nul-cr": dict(subject=_b("Help\x00\rTo: " + VICTIM)),
    "filename-rfc2231": dict(
        filename=b"filename*=utf-8''report%0D%0ABcc%3A%20victim%40evil.example.png"),
    "filename-rfc2231-continued": dict(
        filename=b"filename*0*=utf-8''report%0D%0A;\r\n filename*1*=Bcc%3A%20victim%40evil."
                 b"example.png"),
    "filename-encoded-word": dict(filename=b'filename="' + _b("report" + BCC + ".png") + b'"'),
    "filename-quoted-folded": dict(filename=b'filename="report\r\n Bcc: victim@evil.example.png"'),
    "from-name-encoded": dict(sender=_b("Ivan" + BCC) + b" <ivan@client.example>"),
    "from-folded": dict(sender=b"ivan@client.example\r\n Bcc: " + VICTIM.encode()),
    "reply-to-folded": dict(extra=b"Reply-To: ivan@client.example\r\n Bcc: victim@evil.example"
                                  b"\r\n"),
    "message-id-folded": dict(message_id=b"no-brackets\r\n Bcc: victim@evil.example"),
    "message-id-encoded": dict(message_id=_b("x" + BCC)),
}


@pytest.mark.parametrize("parts", INJECTING.values(), ids=INJECTING.keys())
def test_nothing_a_client_writes_adds_a_header_or_a_recipient_to_our_letters(
        desk: Desk, parts: dict[str, bytes]) -> None:
    result = ingest(desk, letter_with(**parts))
    assert result.outcome == "ticket" and "flagged" not in result.reason
    tid = result.tid
    [t] = desk.tickets()
    assert t["requester"] == "ivan@client.example" and VICTIM not in t["participants"]
    # A staff answer is relayed to the client with the ticket's subject and participants.
    desk.ingest(simple_letter(f"Re: [{tid}] ответ", "Проверьте настройки выгрузки.",
                              sender="agent1@example.ru"))
    rows = outgoing(desk)
    assert {r.kind for r in rows} >= {"ack", "notification", "reply"}
    for row in rows:
        assert_no_injection(row, [row.recipient])
    for m in desk.sent():
        assert m["Bcc"] is None
        assert VICTIM not in str(m["To"]) + str(m["Cc"] or "")
        assert "\n" not in str(m["Subject"]) and "\r" not in str(m["Subject"])


def test_a_staff_reply_reaches_every_participant_and_nobody_else(desk: Desk) -> None:
    cc = [f"colleague{i:02}@client.example" for i in range(60)]
    result = ingest(desk, simple_letter("Вопрос", Cc=", ".join(cc)))
    desk.ingest(simple_letter(f"Re: [{result.tid}] ответ", "Ответ сотрудника.",
                              sender="agent1@example.ru"))
    [reply] = [r for r in outgoing(desk) if r.kind == "reply"]
    # At most [tickets] max_participants (10) are copied in (issue 21); staff are told.
    assert sorted(recipients_of(reply.raw, reply.recipient)) == sorted(
        ["ivan@client.example", *cc[:10]])
