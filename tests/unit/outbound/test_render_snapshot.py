"""Every letter the daemon queues, byte for byte, against a stored snapshot.

One story on a fresh desk with the clock pinned per letter: the scenario letters of
tests/fixtures/eml (new tickets of every SLA level, replies, duplicates and resends,
attachments judged, broken and robot letters), then seeded generated letters
(Russian, ASCII, empty and long names; subjects that need folding, with control
characters, empty; coupons, urgency, registered and unknown senders, night and
weekend times, a non-ASCII address), staff replies with commands, a rating, a
transcript, and the deadline sweep. What the desk queued (`outgoing.raw`, in order)
must equal `snapshots/outgoing.sha256` except where a letter legitimately differs per
run: the random part of our Message-IDs and the MIME boundaries are replaced by
stable placeholders of the same length (the Date comes from the pinned clock, the
coupon code is fixed). The snapshot keeps each letter's length and SHA-256, not the
~1 MB of letters; a failing run leaves them all in its tmp_path, and
SUPPORTD_SNAPSHOT_DUMP=<file> writes them from any checkout, to diff against.

This guards rewrites of the rendering and MIME building for speed: the letters must
not change. When a letter is meant to change (a template, a rule of the pipeline),
regenerate the snapshot with SUPPORTD_UPDATE_SNAPSHOT=1 and read the diff.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from daemon.service.sweep import sweep
from daemon.storage.models import Outgoing
from daemon.tickets import coupons
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import FIXTURES, PROJECT, Desk, fixture_bytes, make_desk, simple_letter

SNAPSHOT = Path(__file__).parent / "snapshots" / "outgoing.sha256"
MSK = ZoneInfo("Europe/Moscow")
SECURITY = '[security]\ntrusted_authserv_ids = ["mx.example.ru"]\n'
SEPARATOR = b"\r\n======== letter %d: %s ========\r\n"

OUR_ACK = "<supportd.ticket-1.ack@example.ru>"
OUR_NOTIFICATION = "<supportd.ticket-1.notify.agent1@example.ru>"

# Fixture letters in an order their README allows (ticket 1 first).
FIXTURE_ORDER = [
    "new-utf8-thunderbird.eml", "reply-outlook-re-tid.eml", "reply-thunderbird-re-tid.eml",
    "reply-otv-koi8r-tid.eml", "reply-fwd-aw-mixed-prefixes.eml",
    "reply-lost-tid-in-reply-to.eml", "reply-from-stranger-with-tid.eml",
    "reply-wrong-check-digit.eml", "new-koi8r-subject-and-body.eml", "new-cp1251-outlook.eml",
    "new-cp866-dos-client.eml", "new-mislabelled-charset.eml", "new-html-only.eml",
    "new-no-subject.eml", "new-urgent-x-priority.eml", "new-incomplete-no-details.eml",
    "duplicate-same-message-id-a.eml", "duplicate-same-message-id-b.eml",
    "resend-no-ack-a.eml", "resend-no-ack-b.eml", "autoreply-out-of-office-ru.eml",
    "robot-no-headers.eml", "bounce-dsn-of-our-ack.eml", "list-mail.eml",
    "broken-mime-bad-boundary.eml", "broken-binary-garbage.eml",
    "attach-png-screenshot.eml", "attach-jpg-named-png.eml", "attach-bmp-bare.eml",
    "attach-bmp-in-zip.eml", "attach-bmp-in-rar.eml", "attach-webp.eml",
    "attach-heic-named-jpg.eml", "attach-gif.eml", "attach-rfc2231-cyrillic-filename.eml",
    "attach-tnef-winmail.eml", "staff-reply-from-agent.eml", "request-transcript.eml",
]

NAMES = ["Иван Клиентов", "Анна-Мария Салтыкова-Щедрина", "John Smith", "",
         "Ёлкина Юлия Эдуардовна (ООО «Северный ветер», бухгалтерия)", "Пётр",
         "O'Brien, \"Pat\"", "Константин Константинопольский-Вознесенский"]
SUBJECTS = [
    "Не открывается отчёт", "",
    "Ошибка при формировании отчёта о движении денежных средств за третий квартал "
    "две тысячи двадцать шестого года в модуле «Бухгалтерия»",
    "Export fails with error 500 when the report period spans more than one fiscal year "
    "and the user has restricted rights",
    "Вопрос\tпо\x01лицензии\r\nBcc: victim@evil.example", "СРОЧНО: не работает сервер",
    "Re: [SD-000013] Ещё вопрос", "ЭДО — «Корпоративная» v.3.14 / сертификат =?не?= _подходит_",
    "x" * 120, "Помогите 🙏 пожалуйста", "Счёт №42 (копия)",
]
SENDERS = ["it@romashka.example", "admin@sever.example", "support@vector-soft.example",
           "petrov@mail.example", "someone@gmail.example", "buh@romashka.example",
           "a.ivanova@romashka.example", "e.volkova@stroymontazh.example",
           "клиент@почта.example"]  # SMTPUTF8: written as it is, in UTF-8 (RFC 6532)
BODIES = [
    "",
    "Не работает выгрузка. ИНН 7707083893, ОГРН 1027700132195, логин romashka-admin.",
    "Авария! Сервер недоступен, срочно нужна помощь.",
    "Здравствуйте!\n\nВ системе https://edo.example (версия 3.14, редакция «Корпоративная») "
    "ошибка.\n" + "Очень длинная строка без переносов " * 20,
]
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00"
       b"\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05"
       b"\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
BMP = b"BM" + b"\x00" * 60


def _letter(rng: random.Random, sender: str, when: datetime) -> bytes:
    name = rng.choice(NAMES)
    subject = rng.choice(SUBJECTS)
    m = EmailMessage()
    m["From"] = f"{name} <{sender}>" if name else sender
    m["To"] = "techsupport@example.ru"
    m["Subject"] = " ".join(subject.split())  # the header itself stays one line
    m["Date"] = format_datetime(when)
    m["Message-ID"] = f"<g{rng.randrange(10**9)}@client.example>"
    if rng.random() < 0.2:
        m["X-Priority"] = "1 (Highest)"
    m.set_content(rng.choice(BODIES) or "Здравствуйте! Не работает.")
    for _ in range(rng.choice([0, 0, 1, 2])):
        data, kind, fname = rng.choice([(PNG, "png", "скрин.png"), (BMP, "bmp", "screen.bmp"),
                                        (b"GIF87a" + b"\x00" * 20, "gif", "a.gif")])
        m.add_attachment(data, maintype="image", subtype=kind, filename=fname)
    raw = m.as_bytes(policy=m.policy.clone(utf8=not sender.isascii()))
    if "\r\n" in subject or "\t" in subject:  # an encoded word that decodes to controls
        word = b"=?utf-8?b?" + base64.b64encode(subject.encode()) + b"?="
        raw = raw.replace(f"Subject: {' '.join(subject.split())}".encode(),
                          b"Subject: " + word, 1)
    return raw


def _received(name: str) -> datetime:
    head = fixture_bytes(name).split(b"\r\n\r\n", 1)[0].decode("latin-1")
    top = re.search(r"^Received:(.*?)(?=\r\n\S)", head, re.M | re.S)
    assert top is not None
    return parsedate_to_datetime(top.group(1).rsplit(";", 1)[1].strip())


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 10, 9, 0, tzinfo=MSK)

    def __call__(self) -> datetime:
        return self.now


def _our_id(desk: Desk, kind: str, recipient: str | None = None) -> str:
    with desk.app.sessions() as s:
        q = select(Outgoing.message_id).where(Outgoing.kind == kind).order_by(Outgoing.id)
        if recipient:
            q = q.where(Outgoing.recipient == recipient)
        return str(s.scalars(q).first())


def _fixed_code() -> str:
    body = "Q6BK36TXA5R"
    full = body + coupons.check_char(body)
    return f"SPC-{full[:4]}-{full[4:8]}-{full[8:]}"


def story(root: Path) -> list[tuple[str, bytes]]:
    clock = _Clock()
    desk = make_desk(root, extra=SECURITY, clock=clock)
    fixture_orgs = load_file(FIXTURES / "registry.toml")
    inns = {e.inn for e in fixture_orgs}
    demo = [e for e in load_file(PROJECT / "config" / "demo-registry.toml") if e.inn not in inns]
    with desk.app.sessions() as s, s.begin():
        import_orgs(s, fixture_orgs + demo)
    for name in FIXTURE_ORDER:
        clock.now = _received(name)
        desk.ingest(fixture_bytes(name)
                    .replace(OUR_ACK.encode(), _our_id(desk, "ack").encode())
                    .replace(OUR_NOTIFICATION.encode(),
                             _our_id(desk, "notification", "agent1@example.ru").encode()))

    rng = random.Random(20261125)
    clock.now = datetime(2026, 11, 16, 8, 30, tzinfo=MSK)
    with desk.app.sessions() as s, s.begin():
        coupon = coupons.issue(s, "7736207543", clock.now).code
    for i in range(40):
        clock.now += timedelta(minutes=rng.choice([7, 50, 180, 700]))
        sender = rng.choice(SENDERS)
        raw = _letter(rng, sender, clock.now)
        if i % 9 == 4:  # a special request (§3.6)
            raw = simple_letter("Авария на сервере", f"Купон: {coupon}. Сервер недоступен.",
                                sender="admin@sever.example",
                                message_id=f"<k{i}@sever.example>")
        desk.ingest(raw)

    def staff(tid: str, text: str, sender: str = "agent1@example.ru") -> None:
        clock.now += timedelta(minutes=30)
        m = EmailMessage()
        m["From"] = f"Анна Петрова <{sender}>"
        m["To"] = "techsupport@example.ru"
        m["Subject"] = f"Re: [{tid}] Ответ"
        m["Authentication-Results"] = ("mx.example.ru; dkim=pass header.d=example.ru; "
                                       f"spf=pass smtp.mailfrom={sender}")
        m["Message-ID"] = f"<s{clock.now.timestamp():.0f}@example.ru>"
        m.set_content(text)
        desk.ingest(m.as_bytes())

    def client(tid: str, text: str, sender: str = "it@romashka.example") -> None:
        clock.now += timedelta(minutes=30)
        desk.ingest(simple_letter(f"Re: [{tid}] Вопрос", text, sender=sender,
                                  message_id=f"<c{clock.now.timestamp():.0f}@client.example>"))

    clock.now = datetime(2026, 11, 30, 10, 0, tzinfo=MSK)
    client("SD-000013", "Дополнение: ошибка повторяется.", "a.ivanova@romashka.example")
    staff("SD-000013", "#close\nПроблема решена обновлением до версии 3.15.")
    client("SD-000013", "5\nСпасибо, всё работает!", "a.ivanova@romashka.example")
    staff("SD-000021", "#clsoe\nГотово.")
    staff("SD-000021", "#pending\n#assign agent2@example.ru\nУточните версию, пожалуйста.")
    client("SD-000021", "Пришлите, пожалуйста, всю переписку по обращению.",
           "o.smirnov@alfa-integr.example")
    client("SD-000013", "Ошибка вернулась после перезагрузки.", "a.ivanova@romashka.example")
    for hours in (1, 3, 30, 24 * 30):
        clock.now += timedelta(hours=hours)
        sweep(desk.app, batch=4)

    with desk.app.sessions() as s:
        rows = s.execute(select(Outgoing.kind, Outgoing.raw).order_by(Outgoing.id)).all()
    desk.app.close()
    return [(kind, bytes(raw)) for kind, raw in rows]


_MESSAGE_ID = re.compile(rb"<supportd\.[a-z-]+\.(?:\d+|x)\.([0-9a-f]{16})@")
_BOUNDARY = re.compile(rb"=_supportd_([0-9a-f]{32})|(={15}\d{19}==)")


def normalised(letters: list[tuple[str, bytes]]) -> bytes:
    """The letters in one text, the per-run values replaced by same-length placeholders
    numbered in order of first appearance."""
    seen: dict[bytes, bytes] = {}

    def stable(m: re.Match[bytes]) -> bytes:
        group = 1 if m.group(1) is not None else 2
        value = m.group(group)
        if value not in seen:
            seen[value] = str(len(seen) + 1).encode().rjust(len(value), b"0")
        return m.group(0)[:m.start(group) - m.start(0)] + seen[value] + \
            m.group(0)[m.end(group) - m.start(0):]

    out = []
    for n, (kind, raw) in enumerate(letters, 1):
        raw = _MESSAGE_ID.sub(stable, raw)
        raw = _BOUNDARY.sub(stable, raw)
        out.append(SEPARATOR % (n, kind.encode()) + raw)
    return b"".join(out)


def fingerprints(text: bytes) -> list[str]:
    """One line per letter: number, kind, length and SHA-256 of its normalised bytes."""
    parts = re.split(rb"\r\n======== letter (\d+): ([a-z-]+) ========\r\n", text)[1:]
    return [f"{int(n):03d} {kind.decode()} {len(raw)} {hashlib.sha256(raw).hexdigest()}"
            for n, kind, raw in zip(parts[0::3], parts[1::3], parts[2::3], strict=True)]


def test_every_queued_letter_is_byte_for_byte_the_snapshot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coupons, "new_code", _fixed_code)  # random, and in the ack
    got = normalised(story(tmp_path / "desk"))
    lines = fingerprints(got)
    if dump := os.environ.get("SUPPORTD_SNAPSHOT_DUMP"):
        Path(dump).write_bytes(got)
    if os.environ.get("SUPPORTD_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text("".join(f"{line}\n" for line in lines))
    want = SNAPSHOT.read_text().splitlines()
    kinds = {line.split()[1] for line in want}
    assert kinds >= {"ack", "ack-followup", "ack-resend", "notification", "reply", "closed",
                     "rating-thanks", "transcript", "command-error", "warning", "breach"}
    (tmp_path / "outgoing.eml").write_bytes(got)
    for a, b in zip(lines, want, strict=False):
        assert a == b, (f"letter {a.split()[0]} differs from the snapshot; all the letters "
                        f"are in {tmp_path / 'outgoing.eml'} (SUPPORTD_SNAPSHOT_DUMP=file "
                        "writes them from any checkout, to diff the two)")
    assert len(lines) == len(want)
