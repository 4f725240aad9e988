"""Outgoing letters: what a client's mail program shows is exactly what we meant."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.policy import compat32
from email.utils import format_datetime, formataddr

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from daemon.outbound.mailbuild import Outbound, build, one_line

# The same letter made by the email package (compat32 classes, as the daemon made it
# before it wrote letters directly): the oracle `build` is held to.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in any mail client's "view source"


def _text(text: str, subtype: str, top: bool) -> Message:
    part = Message()
    part.set_payload(text, _UTF8_QP)  # encodes, and sets Content-Type and the CTE
    part.set_type(f"text/{subtype}")
    if not top:
        del part["MIME-Version"]
    return part


def email_package_letter(o: Outbound) -> bytes:
    """The letter as bytes (CRLF). Built with the compat32 classes on purpose: the
    new policy's folder drops the space between two words when it folds the line
    at an encoded-word boundary ("срок реакции" arrives as "срокреакции"), while
    `Header` puts every space inside the encoded words (RFC 2047 §6.2)."""
    m: Message
    if o.html:
        m = MIMEMultipart("alternative")
        m.attach(_text(o.text, "plain", top=False))
        m.attach(_text(o.html, "html", top=False))
    else:
        m = _text(o.text, "plain", top=True)
    m["From"] = formataddr((one_line(o.sender_name, 200), o.sender), charset="utf-8")
    m["To"] = one_line(o.to, limit=100_000)  # a cut address is someone else's
    if o.cc:
        m["Cc"] = one_line(", ".join(o.cc), limit=100_000)
    subject = one_line(o.subject)
    m["Subject"] = Header(subject, "utf-8" if not subject.isascii() else "us-ascii",  # type: ignore[assignment]
                          header_name="Subject")
    m["Date"] = format_datetime(o.date)
    m["Message-ID"] = o.message_id
    if o.in_reply_to:
        m["In-Reply-To"] = one_line(o.in_reply_to)
    refs = [one_line(r) for r in o.references if r][-20:]
    in_reply_to = one_line(o.in_reply_to) if o.in_reply_to else ""
    if in_reply_to and in_reply_to not in refs:
        refs.append(in_reply_to)
    if refs:
        m["References"] = " ".join(refs)
    if o.auto_submitted:
        m["Auto-Submitted"] = o.auto_submitted
        # Exchange and Outlook: don't send us out-of-office answers to this.
        m["X-Auto-Response-Suppress"] = "All"
    if o.ticket_tid:
        m["X-Supportd-Ticket"] = o.ticket_tid
    return m.as_bytes(policy=compat32.clone(linesep="\r\n"))


WORDS = st.lists(st.sampled_from(["срок", "реакции", "Вопрос", "без", "ответа", "[SD-000013]",
                                  "ООО", "«Ромашка»", "ошибка", "500", "Re:", "—", "ЭДО",
                                  "v.3", "x" * 40, "Щёлково", "ёжик", "a", ""]),
                 min_size=0, max_size=30)


def letter(subject: str, name: str = "Служба технической поддержки",
           html: str | None = "<p>Здравствуйте!</p>") -> email.message.EmailMessage:
    raw = build(Outbound(name, "techsupport@example.ru", "ivan@client.example", subject,
                         "Здравствуйте!\nВаше обращение зарегистрировано.", html, "<m@example.ru>",
                         datetime(2026, 11, 24, 12, 0, tzinfo=UTC), "<c1@client.example>",
                         ("<c0@client.example>",)))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"\n" not in raw.replace(b"\r\n", b"")
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


@settings(max_examples=300)
@given(WORDS)
def test_every_space_of_a_long_russian_subject_survives_folding(words: list[str]) -> None:
    subject = " ".join(words)
    assert str(letter(subject)["Subject"]) == one_line(subject)


@settings(max_examples=100)
@given(st.text(min_size=0, max_size=120))
def test_any_subject_and_name_come_back_as_one_line(text: str) -> None:
    m = letter(text, name=text or "x")
    assert str(m["Subject"]) == one_line(text)
    assert m["Bcc"] is None and str(m["To"]) == "ivan@client.example"


def test_headers_of_a_reply() -> None:
    m = letter("[SD-000013] Ошибка")
    assert m["Message-ID"] == "<m@example.ru>"
    assert m["In-Reply-To"] == "<c1@client.example>"
    assert m["References"] == "<c0@client.example> <c1@client.example>"
    assert m["Auto-Submitted"] == "auto-replied"
    assert str(m["From"]) == "Служба технической поддержки <techsupport@example.ru>"
    plain, html = m.get_body(("plain",)), m.get_body(("html",))
    assert plain is not None and plain.get_content().startswith("Здравствуйте!")
    assert html is not None and html.get_content().startswith("<p>Здравствуйте!")


def test_injection_through_the_subject_is_flattened() -> None:
    m = letter("Вопрос\r\nBcc: victim@evil.example")
    assert m["Bcc"] is None and "Bcc: victim" in str(m["Subject"])


TEXTS = st.lists(st.sampled_from(["Здравствуйте!", "\n", "  ", "срок реакции", "=", "x" * 90,
                                  "tab\there", "строка ", ".", "<b>ООО «Ромашка»</b>", "\r\n",
                                  "ёЁ", "a"]), max_size=40).map("".join)


@settings(max_examples=200)
@given(subject=st.text(max_size=150), name=st.text(max_size=60), text=TEXTS,
       html=st.one_of(st.none(), TEXTS.filter(bool)),
       refs=st.lists(st.from_regex(r"<[a-z0-9.]{1,40}@[a-z]{1,20}\.example>", fullmatch=True),
                     max_size=25),
       cc=st.lists(st.from_regex(r"[a-z]{1,30}@[a-z]{1,30}\.example", fullmatch=True),
                   max_size=12))
def test_the_direct_writer_reads_back_like_the_email_package_letter(
        subject: str, name: str, text: str, html: str | None, refs: list[str],
        cc: list[str]) -> None:
    o = Outbound(name or "x", "techsupport@example.ru", "ivan@client.example", subject, text,
                 html, "<m@example.ru>", datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
                 refs[-1] if refs else None, tuple(refs), cc=tuple(cc), ticket_tid="SD-000013")
    fast, slow = (email.message_from_bytes(raw, policy=email.policy.default)
                  for raw in (build(o), email_package_letter(o)))
    for raw in (build(o),):
        assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
        assert b"\n" not in raw.replace(b"\r\n", b"")
    for h in ("From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
              "Auto-Submitted", "X-Supportd-Ticket"):
        # .strip(): the email package folds a long value right after the colon and reads
        # the fold's space back as part of it (a 72-character In-Reply-To, found by this
        # test); white space there is not part of the value (RFC 5322 §2.2.3).
        assert str(fast[h]).strip() == str(slow[h]).strip(), h
    assert fast.get_content_type() == slow.get_content_type()
    for kind in (("plain",), ("html",)):
        a, b = fast.get_body(kind), slow.get_body(kind)
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert a.get_content().replace("\r\n", "\n") == b.get_content().replace("\r\n", "\n")


# Header text as clients write it: Russian, ASCII punctuation that Q writes as "=XX",
# characters of two, three and four bytes in UTF-8 (a word must not end inside one);
# mostly Latin text with a few of those, which the stdlib writes in Q, not base64.
HEADER_TEXT = st.one_of(
    st.text(st.one_of(st.sampled_from("срок реакции ЁЖИК «»—€😀 ab_=?!*+/.,:;\t"),
                      st.characters(codec="utf-8")), min_size=1, max_size=300),
    st.text(st.sampled_from("Invoice report 2026 -!*+/ abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJ" * 3 + "ж€😀=?_"), min_size=60, max_size=300))


@settings(max_examples=300)
@given(HEADER_TEXT, st.sampled_from(["Subject", "In-Reply-To", "References"]))
def test_encoded_words_are_the_email_package_words_byte_for_byte(text: str, name: str) -> None:
    from email.header import Header

    from daemon.outbound.mailbuild import _encoded

    value = one_line(text)
    assume(not value.isascii())
    words = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    assert _encoded(name, value) == f"{name}: {words}"


@settings(max_examples=200)
@given(HEADER_TEXT)
def test_the_sender_is_the_email_package_display_name_byte_for_byte(name: str) -> None:
    from email.utils import formataddr

    from daemon.outbound.mailbuild import _fold, _sender

    o = Outbound(name, "techsupport@example.ru", "ivan@client.example", "", "", None,
                 "<m@example.ru>", datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    expected = formataddr((one_line(name, 200), o.sender), charset="utf-8")
    assert _sender(o) == _fold("From", expected)


@given(st.lists(st.binary(min_size=1, max_size=3000), min_size=1, max_size=3))
def test_images_ride_inline_beside_the_html(pngs: list[bytes]) -> None:
    names = [f"chart{i}@supportd" for i in range(len(pngs))]
    html = "".join(f'<img src="cid:{n}">' for n in names)
    raw = build(Outbound("Служба", "techsupport@example.ru", "head@example.ru", "Отчёт",
                         "Отчёт текстом", html, "<r@example.ru>", datetime.now(UTC),
                         images=tuple(zip(names, pngs, strict=True))))
    m = email.message_from_bytes(raw, policy=email.policy.default)
    assert m.get_content_type() == "multipart/related"
    assert m.get_body(("plain",)).get_content() == "Отчёт текстом"  # type: ignore[union-attr]
    parts = [p for p in m.walk() if p.get_content_type() == "image/png"]
    assert [p["Content-ID"] for p in parts] == [f"<{n}>" for n in names]
    assert [p.get_content() for p in parts] == pngs
    assert not m.defects and all(not p.defects for p in m.walk())
