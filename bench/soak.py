"""The soak: thousands of mixed letters through a real Postfix into `supportd run`,
and every one of them accounted for. Run by hand, not in CI (it needs root and
Debian's postfix, and takes minutes):

    .venv/bin/python bench/soak.py --letters 10000            # LMTP, SQLite
    .venv/bin/python bench/soak.py --letters 200 --via smtp   # a quick check, SMTP relay
    .venv/bin/python bench/soak.py --letters 10000 --postgres postgresql+psycopg://u:p@127.0.0.1/postgres

What it does:

1. starts a private, throw-away Postfix (tests/support/postfix.py: own main.cf,
   queue and log in a temp folder, smtpd on a free loopback port) whose transport
   map sends techsupport@example.ru to supportd (LMTP or SMTP relay, docs/admin.md
   (a)/(b)) and everything else (bounces to the senders) to an SMTP sink;
2. starts `supportd run` as a subprocess on a fresh SQLite database (or a fresh
   database on the given PostgreSQL server), outbound letters into a Maildir;
3. sends a seeded mix of letters to Postfix's smtpd on several concurrent smtplib
   connections: new letters (UTF-8, KOI8-R, windows-1251; 8bit, base64, QP),
   letters with small PNG/BMP attachments, replies to tickets of this run (by TID
   in the subject, or only by In-Reply-To/References to our acknowledgement),
   exact duplicates (the same bytes, the same Message-ID), auto-replies
   (Auto-Submitted; without a TID, and from a client naming its TID), delivery
   reports of our own acknowledgements and of letters we never sent, broken MIME,
   letters bigger than supportd's limit (Postfix takes them, supportd's SIZE
   refuses them, Postfix bounces them to the sender) and letters bigger than
   Postfix's own limit (refused at MAIL FROM). Replies, duplicates, auto-replies
   naming a TID and bounces only go to tickets known to exist: their TIDs and our
   acknowledgements' Message-IDs are read from the outbox Maildir as the daemon
   writes them; until a ticket is known such a letter waits;
4. waits until Postfix's queue is empty, supportd's spool has nothing in
   incoming/, processing/ or tmp/, and the `inbound` table has a row for every
   letter Postfix delivered;
5. accounts for every letter sent, one by one: the Postfix queue id from smtpd's
   250 -> the maillog's `status=sent (... queued as SPOOL-ID)` -> the `inbound`
   row of that spool id (outcome and reason); or Postfix's `status=bounced (reason)`;
   or, refused at SMTP time, Postfix's `NOQUEUE: reject` line (found by the
   connection's unique HELO name). Anything else is "missing", listed with examples;
6. prints a table and writes it to bench/soak-results.md (--out).

The mix and every letter's text come from --seed; which earlier ticket a reply
goes to depends on which acknowledgements have arrived, so it varies a little
between runs. Only processes this script started are stopped, by their pid.
"""

from __future__ import annotations

import argparse
import base64
import collections
import contextlib
import email
import email.parser
import email.policy
import os
import platform
import quopri
import random
import re
import shlex
import shutil
import signal
import smtplib
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
sys.path.insert(0, str(PROJECT))

from daemon.threading_tid import find_tid, format_tid  # noqa: E402
from tests.support.postfix import Postfix, Sink, skip_reason  # noqa: E402

DESK = "techsupport@example.ru"
SUPPORTD = [sys.executable, "-m", "daemon.cli"]
SUPPORTD_LIMIT = 1 << 20  # supportd's [smtp] max_message_size
POSTFIX_LIMIT = 4 << 20  # Postfix's message_size_limit (larger: supportd must refuse some)
CRLF = b"\r\n"
MAX_USES = 3  # letters that may lean on one ticket (the hourly cap of acks is 10)

# kind -> (share of the letters, minimum count, what supportd/Postfix should make of it)
MIX: dict[str, tuple[float, int, str]] = {
    "new": (0.0, 1, "ticket"),  # the rest
    "attachment": (0.10, 1, "ticket"),
    "reply-tid": (0.13, 1, "threaded"),
    "reply-refs": (0.03, 1, "threaded"),
    "duplicate": (0.05, 1, "duplicate"),
    "autoreply": (0.05, 1, "suppressed"),
    "autoreply-tid": (0.02, 1, "threaded"),
    "bounce-ours": (0.01, 1, "bounce"),
    "bounce-unknown": (0.005, 1, "suppressed"),
    "broken-mime": (0.06, 1, "ticket"),
    "oversized": (0.003, 2, "postfix:bounced"),
    "too-big-for-postfix": (0.0005, 1, "postfix:refused"),
}
DEPENDENT = {"reply-tid", "reply-refs", "duplicate", "autoreply-tid", "bounce-ours"}
STARTERS = {"new", "attachment"}  # letters whose tickets others may lean on

from tests.conftest import STAFF, free_port  # noqa: E402  (shared with the tests)
from tests.support.daemons import wait_listening  # noqa: E402


def say(*parts: object) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}]", *parts, flush=True)


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


# ---------------------------------------------------------------- letters

DOMAINS = ["romashka.example", "polyus-log.example", "kontur-snab.example", "vega-trade.example",
           "sever-energo.example", "ural-stroy.example", "baltika-med.example", "mir-it.example",
           "avangard.example", "tsentr-uchet.example", "zarya-agro.example", "volga-bank.example"]
FIRST = ["Иван", "Мария", "Алексей", "Ольга", "Сергей", "Наталья", "Дмитрий", "Елена", "Павел",
         "Татьяна", "Андрей", "Юлия", "Виктор", "Светлана", "Михаил", "Анна"]
LAST = ["Иванов", "Смирнова", "Кузнецов", "Попова", "Соколов", "Лебедева", "Козлов", "Новикова",
        "Морозов", "Петрова", "Волков", "Соловьёва", "Васильев", "Зайцева", "Павлов", "Семёнова"]
TRANSLIT = str.maketrans({"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e",
                          "ж": "zh", "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m",
                          "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
                          "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch",
                          "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya"})
SUBJECTS = ["Не формируется отчёт за квартал", "Ошибка при входе в личный кабинет",
            "Не приходят уведомления", "Вопрос по лицензии", "Зависает выгрузка в 1С",
            "Ошибка 500 при сохранении документа", "Не открывается архив документов",
            "Как добавить нового пользователя", "Сбой синхронизации справочников",
            "Медленно работает поиск", "Не печатается счёт-фактура", "Пропали вложения в карточке",
            "Ошибка подписи документа", "Не работает импорт из Excel", "Просьба продлить доступ"]
SENTENCES = ["Здравствуйте!", "Добрый день.", "При формировании отчёта появляется ошибка.",
             "Проблема воспроизводится у всех пользователей отдела.",
             "Вчера всё работало, сегодня после обновления перестало.",
             "Шаги: открыть раздел, выбрать период, нажать «Сформировать».",
             "Версия системы 3.14, редакция «Корпоративная».",
             "Адрес системы https://edo.client.example, браузер Firefox 128.",
             "Просим помочь как можно скорее, закрывается период.",
             "Перезапуск браузера и очистка кэша не помогли.",
             "Снимок экрана с ошибкой прилагаю.", "Заранее спасибо за помощь.",
             "Наш договор на сопровождение действует до конца года.",
             "Ошибка появляется примерно в половине случаев.",
             "Подскажите, пожалуйста, что можно сделать."]
REPLY_TEXT = ["Спасибо, попробовали — не помогло.", "Добавляю подробности: ошибка та же.",
              "Проблема решена, спасибо!", "Когда ждать ответа?", "Прикладываю журнал ниже.",
              "Уточнение: ошибка только у пользователей с правами администратора."]
REPLY_PREFIXES = ["Re: ", "RE: ", "Отв: ", "Re[2]: ", "Ответ: ", "Re: Re: ", "Fwd: Re: "]
CHARSETS = [("utf-8", "8bit"), ("utf-8", "base64"), ("utf-8", "quoted-printable"),
            ("koi8-r", "8bit"), ("windows-1251", "quoted-printable"), ("windows-1251", "8bit")]


def fit(text: str, charset: str) -> str:
    """What a client in that charset could type: KOI8-R has no «», —, №."""
    if charset == "koi8-r":
        text = text.replace("«", '"').replace("»", '"').replace("—", "-").replace("№", "N")
    return text.encode(charset, "replace").decode(charset)


def enc_header(text: str, charset: str, how: str = "b") -> str:
    text = fit(text, charset)
    if all(ord(c) < 128 for c in text):
        return text
    h = Header(text, charset=charset, header_name="Subject", maxlinelen=76)
    if how == "q":  # email.header picks B for Cyrillic; some clients write Q
        from email.charset import QP, Charset

        cs = Charset(charset)
        cs.header_encoding = QP
        h = Header(text, charset=cs, header_name="Subject", maxlinelen=76)
    return h.encode(linesep="\r\n")


def enc_addr(name: str, addr: str, charset: str) -> str:
    return f"{enc_header(name, charset)} <{addr}>"


def body_bytes(text: str, charset: str, cte: str) -> bytes:
    """Line ends are LF here; `crlf` makes them CRLF when the letter is sent."""
    data = fit(text, charset).encode(charset)
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    return data


def text_part(text: str, charset: str, cte: str, subtype: str = "plain") -> bytes:
    head = (f"Content-Type: text/{subtype}; charset={charset}\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode()
    return head + body_bytes(text, charset, cte)


def multipart(subtype: str, parts: list[bytes], boundary: str) -> bytes:
    out = [f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n".encode(),
           b"This is a multi-part message in MIME format.\r\n"]
    for p in parts:
        out += [f"--{boundary}\r\n".encode(), p, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def png(rnd: random.Random, w: int = 48, h: int = 32) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    base = rnd.randrange(256)
    rows = b"".join(b"\0" + bytes((base + x * 5 + y * 3 + rnd.randrange(8)) & 0xFF
                                  for x in range(w * 3)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def bmp(rnd: random.Random, w: int = 40, h: int = 30) -> bytes:
    stride = (w * 3 + 3) & ~3
    pixels = b"".join(bytes(rnd.randrange(256) for _ in range(w * 3)) + b"\0" * (stride - w * 3)
                      for _ in range(h))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def attachment_part(name: str, ctype: str, data: bytes) -> bytes:
    if all(ord(c) < 128 for c in name):
        disp = f'attachment; filename="{name}"'
        ct = f'{ctype}; name="{name}"'
    else:  # RFC 2231, as Thunderbird writes a Cyrillic file name
        from urllib.parse import quote

        disp = f"attachment; filename*=UTF-8''{quote(name)}"
        ct = f"{ctype}; name*=UTF-8''{quote(name)}"
    head = (f"Content-Type: {ct}\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: {disp}\r\n\r\n").encode()
    return head + base64.encodebytes(data).replace(b"\n", b"\r\n")


@dataclass
class Client:
    name: str
    addr: str
    charset: str
    cte: str


@dataclass
class Target:
    """A ticket of this run, known from its acknowledgement in the outbox."""
    index: int  # the letter that opened it
    client: Client
    subject: str
    message_id: str
    tid: str
    ack_id: str
    raw: bytes = b""  # the letter that opened it, for exact duplicates
    uses: int = 0


@dataclass
class Planned:
    index: int
    kind: str
    expect: str
    mail_from: str = ""
    raw: bytes = b""
    message_id: str = ""
    target: Target | None = None
    client: Client | None = None
    subject: str = ""
    helo: str = ""


@dataclass
class Sent:
    index: int
    kind: str
    expect: str
    message_id: str
    size: int
    code: int
    reply: str
    qid: str | None
    helo: str
    target_tid: str | None
    at: float


def headers(client: Client, subject_header: str, mid: str, extra: str = "") -> bytes:
    return (f"From: {enc_addr(client.name, client.addr, client.charset)}\r\n"
            f"To: {enc_addr('Техподдержка', DESK, client.charset)}\r\n"
            f"Subject: {subject_header}\r\n"
            f"Date: {format_datetime(datetime.now(UTC))}\r\n"
            f"Message-ID: {mid}\r\n"
            f"MIME-Version: 1.0\r\n{extra}").encode()


class Mix:
    """The seeded plan and the letters, rendered when they are about to be sent."""

    def __init__(self, n: int, seed: int) -> None:
        self.seed = seed
        rnd = random.Random(seed)
        counts = {k: max(m, round(share * n)) for k, (share, m, _) in MIX.items() if k != "new"}
        counts["new"] = max(1, n - sum(counts.values()))
        kinds = [k for k, c in counts.items() for _ in range(c)]
        rnd.shuffle(kinds)
        # Start with a few new letters, so the first replies have something to lean on.
        firsts = [i for i, k in enumerate(kinds) if k == "new"][:5]
        for j, i in enumerate(firsts):
            kinds[j], kinds[i] = kinds[i], kinds[j]
        self.kinds = kinds[:n] if len(kinds) > n else kinds
        self.counts = Counter(self.kinds)

    def rnd(self, i: int) -> random.Random:
        return random.Random(self.seed * 1_000_003 + i)

    def client(self, i: int, rnd: random.Random) -> Client:
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        if first[-1] in "аяь" and not last.endswith("а"):
            last += "а"
        local = f"{first.lower().translate(TRANSLIT)}.{last.lower().translate(TRANSLIT)}.{i}"
        charset, cte = rnd.choice(CHARSETS)
        return Client(f"{first} {last}", f"{local}@{rnd.choice(DOMAINS)}", charset, cte)

    def mid(self, i: int, rnd: random.Random, domain: str) -> str:
        return f"<soak{self.seed}.{i}.{rnd.getrandbits(48):012x}@{domain}>"

    def text(self, rnd: random.Random, i: int, lo: int = 3, hi: int = 7) -> str:
        lines = [rnd.choice(SENTENCES) for _ in range(rnd.randint(lo, hi))]
        lines.insert(1, f"Обращение {i}, рабочее место {rnd.randrange(1, 999)}.")
        lines.append(f"--\n{rnd.choice(FIRST)} (тел. +7 9{rnd.randrange(10**8, 10**9)})")
        return "\n".join(lines) + "\n"

    # -- the kinds

    def render(self, p: Planned) -> None:
        rnd = self.rnd(p.index)
        getattr(self, "_" + p.kind.replace("-", "_"))(p, rnd)

    def _new(self, p: Planned, rnd: random.Random, attach: bool = False) -> None:
        c = self.client(p.index, rnd)
        subject = f"{rnd.choice(SUBJECTS)} ({p.index})"
        mid = self.mid(p.index, rnd, c.addr.split("@")[1])
        text = self.text(rnd, p.index)
        subj = enc_header(subject, c.charset, rnd.choice("bq"))
        if not attach and rnd.random() < 0.7:
            body = text_part(text, c.charset, c.cte)
        elif not attach:  # text + HTML, as Outlook and web mail write
            html = "<html><body>" + "".join(f"<p>{ln}</p>" for ln in text.splitlines()) + \
                   "</body></html>"
            body = multipart("alternative", [text_part(text, c.charset, c.cte),
                                             text_part(html, c.charset, c.cte, "html")],
                             f"alt-{rnd.getrandbits(64):016x}")
        else:
            parts = [text_part(text, c.charset, c.cte)]
            for _ in range(rnd.choice((1, 1, 1, 2))):
                if rnd.random() < 0.6:
                    name = rnd.choice(["screenshot.png", "ошибка.png", "Снимок экрана.png"])
                    parts.append(attachment_part(name, "image/png", png(rnd)))
                else:
                    name = rnd.choice(["scan.bmp", "экран.bmp"])
                    parts.append(attachment_part(name, "image/bmp", bmp(rnd)))
            body = multipart("mixed", parts, f"mix-{rnd.getrandbits(64):016x}")
        p.client, p.subject, p.message_id, p.mail_from = c, subject, mid, c.addr
        p.raw = headers(c, subj, mid) + body

    def _attachment(self, p: Planned, rnd: random.Random) -> None:
        self._new(p, rnd, attach=True)

    def _reply_tid(self, p: Planned, rnd: random.Random, refs_only: bool = False) -> None:
        t = p.target
        assert t is not None
        c = t.client
        prefix = rnd.choice(REPLY_PREFIXES)
        subject = f"{prefix}{t.subject}" if refs_only else f"{prefix}[{t.tid}] {t.subject}"
        mid = self.mid(p.index, rnd, c.addr.split("@")[1])
        quote = "\n".join("> " + ln for ln in ["Ваше обращение зарегистрировано.", t.tid])
        text = f"{rnd.choice(REPLY_TEXT)}\nОтвет {p.index}.\n\n{quote}\n"
        extra = f"In-Reply-To: {t.ack_id}\r\nReferences: {t.message_id} {t.ack_id}\r\n"
        p.client, p.subject, p.message_id, p.mail_from = c, subject, mid, c.addr
        p.raw = headers(c, enc_header(subject, c.charset, rnd.choice("bq")), mid, extra) + \
            text_part(text, c.charset, c.cte)

    def _reply_refs(self, p: Planned, rnd: random.Random) -> None:
        self._reply_tid(p, rnd, refs_only=True)

    def _duplicate(self, p: Planned, rnd: random.Random) -> None:
        # The very bytes of the ticket's first letter again (an MTA or a client resending).
        t = p.target
        assert t is not None and t.raw
        p.raw, p.message_id, p.mail_from = t.raw, t.message_id, t.client.addr
        p.client, p.subject = t.client, t.subject

    def _autoreply(self, p: Planned, rnd: random.Random, target: Target | None = None) -> None:
        if target is None:
            c = self.client(p.index, rnd)
            about = rnd.choice(["Ваше письмо", "Рассылка", "Уведомление", "Счёт"])
            subject = f"Автоматический ответ: {about} ({p.index})"
        else:
            c = target.client
            subject = f"Автоответ: Re: [{target.tid}] {target.subject}"
        mid = self.mid(p.index, rnd, c.addr.split("@")[1])
        value = rnd.choice(["auto-replied", "auto-replied", "auto-generated"])
        extra = f"Auto-Submitted: {value}\r\n"
        if target is not None:
            extra += f"In-Reply-To: {target.ack_id}\r\n"
        text = (f"Здравствуйте! Я в отпуске до {rnd.randint(1, 28)}.{rnd.randint(1, 12):02d} "
                f"и не читаю почту. Автоответ {p.index}.\n")
        p.client, p.subject, p.message_id = c, subject, mid
        p.mail_from = c.addr
        p.raw = headers(c, enc_header(subject, c.charset), mid, extra) + \
            text_part(text, c.charset, c.cte)

    def _autoreply_tid(self, p: Planned, rnd: random.Random) -> None:
        self._autoreply(p, rnd, p.target)

    def _bounce(self, p: Planned, rnd: random.Random, of: str, rcpt: str, domain: str) -> None:
        qid = f"{rnd.getrandbits(40):010X}"
        mid = f"<{datetime.now(UTC):%Y%m%d%H%M%S}.{qid}.{p.index}@mx.{domain}>"
        b = f"{qid}.{p.index}/mx.{domain}"
        notice = (f"This is the mail system at host mx.{domain}.\r\n\r\n"
                  f"I'm sorry to have to inform you that your message could not\r\n"
                  f"be delivered to one or more recipients.\r\n\r\n"
                  f"<{rcpt}>: host mail.{domain} said: 550 5.1.1 User unknown\r\n")
        status = (f"Reporting-MTA: dns; mx.{domain}\r\nX-Postfix-Queue-ID: {qid}\r\n\r\n"
                  f"Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                  f"Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: User unknown ({p.index})\r\n")
        returned = (f"From: {DESK}\r\nTo: {rcpt}\r\nSubject: [returned]\r\n"
                    f"Message-ID: {of}\r\nAuto-Submitted: auto-replied\r\n")
        p.raw = (f"From: MAILER-DAEMON@mx.{domain} (Mail Delivery System)\r\n"
                 f"To: {DESK}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
                 f"Date: {format_datetime(datetime.now(UTC))}\r\nMessage-ID: {mid}\r\n"
                 f"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
                 f"Content-Type: multipart/report; report-type=delivery-status;\r\n"
                 f"\tboundary=\"{b}\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n"
                 f"--{b}\r\nContent-Description: Notification\r\n"
                 f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{notice}\r\n"
                 f"--{b}\r\nContent-Description: Delivery report\r\n"
                 f"Content-Type: message/delivery-status\r\n\r\n{status}\r\n"
                 f"--{b}\r\nContent-Description: Undelivered Message Headers\r\n"
                 f"Content-Type: text/rfc822-headers\r\n\r\n{returned}\r\n--{b}--\r\n").encode()
        p.message_id, p.mail_from, p.subject = mid, "", "Undelivered Mail Returned to Sender"

    def _bounce_ours(self, p: Planned, rnd: random.Random) -> None:
        t = p.target
        assert t is not None
        self._bounce(p, rnd, t.ack_id, t.client.addr, t.client.addr.split("@")[1])

    def _bounce_unknown(self, p: Planned, rnd: random.Random) -> None:
        c = self.client(p.index, rnd)
        self._bounce(p, rnd, f"<never-sent.{p.index}.{rnd.getrandbits(32):08x}@example.ru>",
                     c.addr, c.addr.split("@")[1])

    def _broken_mime(self, p: Planned, rnd: random.Random) -> None:
        c = self.client(p.index, rnd)
        domain = c.addr.split("@")[1]
        mid = self.mid(p.index, rnd, domain)
        text = self.text(rnd, p.index)
        subject = f"{rnd.choice(SUBJECTS)} ({p.index})"
        variant = p.index % 9
        subj = enc_header(subject, c.charset)
        extra = ""
        if variant == 0:  # the boundary declared is not the one used
            body = (f"Content-Type: multipart/mixed; boundary=\"declared-{p.index}\"\r\n\r\n"
                    f"--used-{p.index}\r\n").encode() + text_part(text, c.charset, "8bit") + \
                f"\r\n--used-{p.index}--\r\n".encode()
        elif variant == 1:  # cut off in the middle of a base64 attachment, no closing line
            part = attachment_part("screen.png", "image/png", png(rnd))
            body = multipart("mixed", [text_part(text, c.charset, "8bit"), part],
                             f"cut-{p.index}")
            body = body[: len(body) - len(part) // 2 - 40]
        elif variant == 2:  # base64 that is not base64
            body = (f"Content-Type: text/plain; charset=utf-8\r\n"
                    f"Content-Transfer-Encoding: base64\r\n\r\n"
                    f"0J/RgNC40LLQtdGC!!!@@@ не base64 {p.index} ###\r\n====\r\n").encode()
        elif variant == 3:  # a charset nobody knows, bytes in another one
            body = (b"Content-Type: text/plain; charset=x-unknown-8bit-" + str(p.index).encode() +
                    b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
                    fit(text, "windows-1251").replace("\n", "\r\n").encode("windows-1251"))
        elif variant == 4:  # raw 8-bit windows-1251 in the headers, no encoded-words
            subj = fit(subject, "windows-1251")
            body = text_part(text, "windows-1251", "8bit")
            raw = headers(c, "SUBJ-RAW", mid) + body
            raw = raw.replace(b"SUBJ-RAW", subj.encode("windows-1251"))
            p.client, p.subject, p.message_id, p.mail_from, p.raw = c, subject, mid, c.addr, raw
            return
        elif variant == 5:  # multipart without a boundary, and a Content-Type without subtype
            body = (f"Content-Type: multipart/mixed\r\n\r\n--\r\nContent-Type: text\r\n\r\n"
                    f"{text}").encode()
        elif variant == 6:  # binary garbage under text/plain
            garbage = bytes(rnd.randrange(1, 256) for _ in range(rnd.randint(300, 3000)))
            garbage = garbage.replace(b"\r", b"").replace(b"\n.", b"\n,")
            body = (f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{p.index}\r\n").encode() \
                + garbage + b"\r\n"
        elif variant == 7:  # a broken encoded-word subject, a nonsense date, no MIME-Version
            subj = f"=?utf-8?B?@@@{p.index}?= =?koi8-r?Q?=FF=FE=?= {p.index}"
            extra = "Date: вчера, около полудня\r\n"
            body = text_part(text, "utf-8", "quoted-printable")
        else:  # nested message/rfc822 that ends halfway through its headers; no From at all
            inner = (f"From: someone@{domain}\r\nSubject: =?utf-8?B?0J/R\r\nContent-Type: multi"
                     ).encode()
            body = multipart("mixed", [text_part(text, "utf-8", "8bit"),
                                       b"Content-Type: message/rfc822\r\n\r\n" + inner],
                             f"nest-{p.index}")
            raw = headers(c, subj, mid) + body
            raw = re.sub(rb"^From: [^\r\n]*\r\n", b"", raw, count=1)
            p.client, p.subject, p.message_id, p.mail_from, p.raw = c, subject, mid, c.addr, raw
            return
        raw = headers(c, subj, mid, extra) + body
        if variant == 7:
            raw = re.sub(rb"^Date: (?!\xd0)[^\r\n]*\r\n", b"", raw, count=1, flags=re.M)
            raw = raw.replace(b"MIME-Version: 1.0\r\n", b"")
        p.client, p.subject, p.message_id, p.mail_from, p.raw = c, subject, mid, c.addr, raw

    def _big(self, p: Planned, rnd: random.Random, size: int) -> None:
        c = self.client(p.index, rnd)
        subject = f"Журналы сервера за неделю ({p.index})"
        mid = self.mid(p.index, rnd, c.addr.split("@")[1])
        parts = [text_part(self.text(rnd, p.index), c.charset, c.cte),
                 attachment_part(f"logs-{p.index}.zip", "application/zip", rnd.randbytes(size))]
        p.client, p.subject, p.message_id, p.mail_from = c, subject, mid, c.addr
        p.raw = headers(c, enc_header(subject, c.charset), mid) + \
            multipart("mixed", parts, f"big-{p.index}")

    def _oversized(self, p: Planned, rnd: random.Random) -> None:
        # base64 grows by 4/3: 0.8-1.4 MiB of data is 1.07-1.9 MiB of letter
        self._big(p, rnd, rnd.randint(int(0.8 * SUPPORTD_LIMIT), int(1.4 * SUPPORTD_LIMIT)))

    def _too_big_for_postfix(self, p: Planned, rnd: random.Random) -> None:
        self._big(p, rnd, int(0.8 * POSTFIX_LIMIT))
        p.helo = f"too-big-{self.seed}-{p.index}.soak.client.example"


# ---------------------------------------------------------------- the daemon


def write_config(root: Path, port: int, lmtp: bool, db_url: str) -> Path:
    text = f"""[service]
address = "{DESK}"
timezone = "Europe/Moscow"

[storage]
url = "{db_url}"
spool = "{root}/spool"

[smtp]
enabled = true
host = "127.0.0.1"
port = {port}
lmtp = {'true' if lmtp else 'false'}
max_message_size = {SUPPORTD_LIMIT}

[imap]
enabled = false

[outbound]
transport = "maildir"
maildir = "{root}/outbox"
retry_base = "1s"

[logging]
format = "json"
level = "info"
{STAFF}
"""
    path = root / "supportd.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Daemon:
    def __init__(self, root: Path, port: int, config: Path) -> None:
        self.root, self.port, self.config = root, port, config
        self.log = root / "supportd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*SUPPORTD, "--config", str(self.config), *args],
                              capture_output=True, timeout=300, cwd=PROJECT)

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([*SUPPORTD, "--config", str(self.config), "run"],
                                         stdout=out, stderr=out, cwd=PROJECT)
        wait_listening(self.port, self.proc, self.tail)

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:]
        except OSError:
            return "(no log)"

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its Popen handle (its pid)
            code = self.proc.wait(timeout=30)
        self.proc = None
        return code


class Database:
    """The desk's database: a SQLite file, or a fresh database on a PostgreSQL server."""

    def __init__(self, root: Path, postgres: str | None) -> None:
        self.admin_url = postgres
        self.name: str | None = None
        if postgres:
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            self.name = f"supportd_soak_{uuid.uuid4().hex[:10]}"
            admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{self.name}"'))
                self.version = str(c.execute(text("SHOW server_version")).scalar())
            admin.dispose()
            self.url = make_url(postgres).set(database=self.name).render_as_string(
                hide_password=False)
            self.label = f"PostgreSQL {self.version}"
        else:
            self.url = f"sqlite:///{root}/supportd.db"
            self.label = f"SQLite {sqlite3.sqlite_version}"
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(self.url, poolclass=NullPool)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        from sqlalchemy import text

        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(text(sql))]

    def count_inbound(self) -> int:
        try:
            return int(self.rows("SELECT count(*) FROM inbound")[0][0])
        except Exception:  # noqa: BLE001 - not migrated yet, or busy: ask again later
            return -1

    def drop(self) -> None:
        self.engine.dispose()
        if self.admin_url and self.name:
            from sqlalchemy import create_engine, text

            admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()


# ---------------------------------------------------------------- acknowledgements


class AckWatcher(threading.Thread):
    """Reads the outbox Maildir as supportd writes it: which of our new letters became
    which ticket (TID from X-Supportd-Ticket or the subject), and the ack's Message-ID."""

    def __init__(self, maildir: Path, on_ack: Any) -> None:
        super().__init__(daemon=True, name="acks")
        self.new = maildir / "new"
        self.cur = maildir / "cur"
        self.on_ack = on_ack
        self.seen: set[str] = set()
        self.stopping = threading.Event()
        self.files = 0
        self.parser = email.parser.BytesHeaderParser(policy=email.policy.default)

    def scan(self) -> None:
        for folder in (self.new, self.cur):
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                continue
            for name in names:
                if name in self.seen:
                    continue
                try:
                    with open(folder / name, "rb") as f:
                        head = f.read(16384).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
                except FileNotFoundError:
                    continue
                self.seen.add(name)
                self.files += 1
                msg = self.parser.parsebytes(head + b"\n\n")
                if "supportd.ack." not in str(msg.get("Message-ID", "")):
                    continue
                tid = str(msg.get("X-Supportd-Ticket", "") or "").strip()
                if not tid:
                    number = find_tid(str(msg.get("Subject", "")))
                    tid = format_tid(number) if number else ""
                if tid:
                    self.on_ack(str(msg.get("In-Reply-To", "")).strip(), tid,
                                str(msg.get("Message-ID", "")).strip())

    def run(self) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(Exception):
                self.scan()
            self.stopping.wait(0.5)


# ---------------------------------------------------------------- sending


class Dispatcher:
    """Hands letters to the sending threads in plan order; a letter that leans on a
    ticket waits (parked) until some ticket of this run is known from its ack."""

    def __init__(self, mix: Mix, seed: int) -> None:
        self.mix = mix
        self.lock = threading.Lock()
        self.rnd = random.Random(seed ^ 0x5EED)
        self.next = 0
        self.parked: collections.deque[int] = collections.deque()
        self.pending_new: dict[str, Planned] = {}  # Message-ID -> a sent starter letter
        self.pool: list[Target] = []
        self.tids: set[str] = set()
        self.given = 0
        self.parked_max = 0

    def on_ack(self, in_reply_to: str, tid: str, ack_id: str) -> None:
        with self.lock:
            p = self.pending_new.pop(in_reply_to, None)
            if p is None or tid in self.tids or p.client is None:
                return
            t = Target(p.index, p.client, p.subject, p.message_id, tid, ack_id, p.raw)
            self.tids.add(tid)
            self.pool.append(t)

    def _bind(self) -> Target | None:
        if not self.pool:
            return None
        j = self.rnd.randrange(len(self.pool))
        t = self.pool[j]
        t.uses += 1
        if t.uses >= MAX_USES:
            self.pool[j] = self.pool[-1]
            self.pool.pop()
        return t

    def take(self) -> Planned | None | str:
        """The next letter to send; "wait" when only parked letters are left; None at the end."""
        with self.lock:
            while True:
                if self.parked and self.pool:
                    i = self.parked.popleft()
                    kind = self.mix.kinds[i]
                    return self._prepare(Planned(i, kind, MIX[kind][2], target=self._bind()))
                if self.next < len(self.mix.kinds):
                    i = self.next
                    self.next += 1
                    kind = self.mix.kinds[i]
                    if kind in DEPENDENT:
                        target = self._bind()
                        if target is None:
                            self.parked.append(i)
                            self.parked_max = max(self.parked_max, len(self.parked))
                            continue
                        return self._prepare(Planned(i, kind, MIX[kind][2], target=target))
                    return self._prepare(Planned(i, kind, MIX[kind][2]))
                return "wait" if self.parked else None

    def _prepare(self, p: Planned) -> Planned:
        self.mix.render(p)
        if p.kind in STARTERS:
            self.pending_new[p.message_id] = p
        self.given += 1
        return p


def send_all(host: str, port: int, dispatcher: Dispatcher, conns: int,
             park_timeout: float) -> tuple[list[Sent], list[str]]:
    sent: list[Sent] = []
    errors: list[str] = []
    lock = threading.Lock()
    never: list[int] = []

    def connect(helo: str = "mail.client.example") -> smtplib.SMTP:
        s = smtplib.SMTP(host, port, timeout=120)
        s.ehlo(helo)
        return s

    def one(s: smtplib.SMTP, p: Planned) -> tuple[int, str]:
        raw = crlf(p.raw)
        opts = [f"SIZE={len(raw)}"] if s.has_extn("size") else []
        code, resp = s.mail(p.mail_from, opts)
        if code != 250:
            s.rset()
            return code, resp.decode(errors="replace")
        code, resp = s.rcpt(DESK)
        if code not in (250, 251):
            s.rset()
            return code, resp.decode(errors="replace")
        try:
            code, resp = s.data(raw)
        except smtplib.SMTPDataError as exc:
            s.rset()
            err = exc.smtp_error
            return exc.smtp_code, err.decode(errors="replace") if isinstance(err, bytes) else err
        return code, resp.decode(errors="replace")

    def worker() -> None:
        s = connect()
        waited_since: float | None = None
        try:
            while True:
                p = dispatcher.take()
                if p is None:
                    return
                if p == "wait":
                    waited_since = waited_since or time.monotonic()
                    if time.monotonic() - waited_since > park_timeout:
                        with dispatcher.lock:
                            never.extend(dispatcher.parked)
                            dispatcher.parked.clear()
                        return
                    time.sleep(0.2)
                    continue
                waited_since = None
                assert isinstance(p, Planned)
                for attempt in range(3):
                    try:
                        if p.helo:  # its own connection, so the maillog line can be found
                            with contextlib.closing(connect(p.helo)) as own:
                                code, resp = one(own, p)
                                with contextlib.suppress(smtplib.SMTPException, OSError):
                                    own.quit()
                        else:
                            code, resp = one(s, p)
                        break
                    except (smtplib.SMTPException, OSError) as exc:
                        with lock:
                            errors.append(f"letter {p.index} ({p.kind}), try {attempt + 1}: "
                                          f"{exc!r}")
                        with contextlib.suppress(Exception):
                            s.close()
                        time.sleep(1)
                        s = connect()
                else:
                    code, resp = 0, "could not be handed to Postfix"
                m = re.search(r"queued as (\S+)", resp) if code == 250 else None
                rec = Sent(p.index, p.kind, p.expect, p.message_id, len(p.raw), code, resp,
                           m.group(1) if m else None, p.helo,
                           p.target.tid if p.target else None, time.monotonic())
                with lock:
                    sent.append(rec)
        finally:
            with contextlib.suppress(Exception):
                s.quit()

    threads = [threading.Thread(target=worker, name=f"send-{k}") for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if never:
        errors.append(f"{len(never)} letters never sent: no ticket of this run became known "
                      f"within {park_timeout:.0f} s (letters {sorted(never)[:10]})")
    return sent, errors


# ---------------------------------------------------------------- Postfix's log

LOG_TO = re.compile(r"postfix[^:]*/(?:lmtp|smtp|error|local)\[\d+\]: ([0-9A-Za-z]+): "
                    r"to=<([^>]*)>.*? status=(\w+) \((.*)\)\s*$")
LOG_REJECT = re.compile(r"NOQUEUE: reject: (.*?); .*helo=<([^>]*)>")
LOG_DSN = re.compile(r": ([0-9A-Za-z]+): sender non-delivery notification: ([0-9A-Za-z]+)")


class Maillog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.final: dict[str, tuple[str, str]] = {}  # qid -> (status, text), desk only
        self.history: dict[str, list[str]] = defaultdict(list)
        self.rejects: dict[str, str] = {}  # helo -> reason
        self.dsn: dict[str, str] = {}  # qid -> its bounce's qid
        self.sent_to_desk = 0

    def read(self) -> None:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self.offset += end
        for line in data[:end].decode("utf-8", "replace").splitlines():
            if m := LOG_TO.search(line):
                qid, rcpt, status, text = m.groups()
                if rcpt.lower() == DESK:
                    self.history[qid].append(f"{status}: {text}")
                    self.final[qid] = (status, text)
                    if status == "sent":
                        self.sent_to_desk += 1
            elif m := LOG_REJECT.search(line):
                self.rejects[m.group(2)] = m.group(1)
            elif m := LOG_DSN.search(line):
                self.dsn[m.group(1)] = m.group(2)


# ---------------------------------------------------------------- the run


def spool_busy(spool: Path) -> dict[str, int]:
    def n(d: Path, pattern: str = "*") -> int:
        return sum(1 for p in d.glob(pattern) if p.is_file()) if d.exists() else 0

    shunted = sum(1 for p in (spool / "shunt").glob("*") if p.suffix != ".reason") \
        if (spool / "shunt").exists() else 0
    return {"incoming": n(spool / "incoming"), "processing": n(spool / "processing", "*/*"),
            "tmp": n(spool / "tmp"), "shunted": shunted}


def wait_for_bench(max_wait: float) -> str:
    """Wait (every 30 s, up to max_wait) until no bench/run.py runs on this machine."""
    started = time.monotonic()
    while True:
        p = subprocess.run(["pgrep", "-f", "bench/run.py"], capture_output=True, text=True)
        mine = {str(os.getpid())}
        pids = [x for x in p.stdout.split() if x not in mine]
        if not pids:
            return f"waited {time.monotonic() - started:.0f} s for bench/run.py"
        if time.monotonic() - started > max_wait:
            return f"bench/run.py still running after {max_wait:.0f} s (pids {pids}); ran anyway"
        say(f"bench/run.py is running (pids {' '.join(pids)}); waiting 30 s")
        time.sleep(30)


def machine() -> dict[str, str]:
    def out(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
        except OSError:
            return "?"

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"postfix": out("postconf", "-d", "-h", "mail_version"),
            "python": platform.python_version(), "nproc": out("nproc"), "cpu": cpu,
            "date": out("date", "-u"), "load": " ".join(out("cat", "/proc/loadavg").split()[:3])}


def run(args: argparse.Namespace) -> int:
    reason = skip_reason()
    if reason:
        say("cannot run:", reason)
        return 2
    bench_note = wait_for_bench(args.wait_bench) if args.wait_bench > 0 else "not checked"
    mix = Mix(args.letters, args.seed)
    work = Path(tempfile.mkdtemp(prefix="supportd-soak-"))
    work.chmod(0o755)
    say(f"work folder {work}; plan: {dict(sorted(mix.counts.items()))}")
    db = Database(work, args.postgres)
    port = free_port()
    cfg = write_config(work, port, args.via == "lmtp", db.url)
    daemon = Daemon(work, port, cfg)
    p = daemon.cli("db", "upgrade")
    if p.returncode != 0:
        say("supportd db upgrade failed:", p.stderr.decode(errors="replace"))
        return 2
    nexthop = {"lmtp": f"lmtp:inet:127.0.0.1:{port}", "smtp": f"smtp:[127.0.0.1]:{port}"}
    sink = Sink()
    mta = Postfix(routes={DESK: nexthop[args.via]}, sink_port=sink.port, main={
        "message_size_limit": str(POSTFIX_LIMIT),
        # deferred letters come back soon, not after Postfix's usual minutes
        "queue_run_delay": "10s", "minimal_backoff_time": "10s", "maximal_backoff_time": "30s",
    })
    result: dict[str, Any] = {}
    ok = False
    acks: AckWatcher | None = None
    try:
        sink.__enter__()
        mta.start()
        daemon.start()
        dispatcher = Dispatcher(mix, args.seed)
        acks = AckWatcher(work / "outbox", dispatcher.on_ack)
        acks.start()
        log = Maillog(mta.log_path)
        say(f"Postfix {mta.port} -> supportd {port} ({args.via}), {db.label}; sending "
            f"{len(mix.kinds)} letters on {args.conns} connections")
        t0 = time.monotonic()
        progress_stop = threading.Event()

        def progress() -> None:
            while not progress_stop.wait(10):
                log.read()
                say(f"handed over {dispatcher.given}, parked {len(dispatcher.parked)}, "
                    f"delivered {log.sent_to_desk}, inbound {db.count_inbound()}, "
                    f"tickets known {len(dispatcher.tids)}")

        reporter = threading.Thread(target=progress, daemon=True)
        reporter.start()
        sent, errors = send_all(mta.host, mta.port, dispatcher, args.conns, args.park_timeout)
        t_sent = time.monotonic()
        say(f"sent {len(sent)} in {t_sent - t0:.1f} s; waiting for Postfix and supportd")
        accepted = {s.qid for s in sent if s.qid}
        deadline = time.monotonic() + args.timeout
        last_flush = 0.0
        settled = False
        state: dict[str, Any] = {}
        try:
            while time.monotonic() < deadline:
                log.read()
                queue = mta.queue()
                busy = spool_busy(work / "spool")
                inbound = db.count_inbound()
                finals = sum(1 for q in accepted if q in log.final
                             and log.final[q][0] in ("sent", "bounced"))
                state = {"postfix_queue": len(queue), **busy, "inbound": inbound,
                         "final": finals, "accepted": len(accepted)}
                # A shunted letter has no inbound row (that is a finding, reported
                # below), but it is done: the daemon will not take it up again.
                if (not queue and not (busy["incoming"] or busy["processing"] or busy["tmp"])
                        and finals == len(accepted)
                        and inbound + busy["shunted"] >= log.sent_to_desk):
                    settled = True
                    break
                if any(q.get("queue_name") == "deferred" for q in queue) and \
                        time.monotonic() - last_flush > 15:
                    mta.flush()
                    last_flush = time.monotonic()
                if daemon.proc is not None and daemon.proc.poll() is not None:
                    errors.append(f"supportd exited with {daemon.proc.returncode}")
                    break
                time.sleep(1)
        except KeyboardInterrupt:  # account for what there is, then stop
            errors.append("interrupted (Ctrl-C) while waiting for everything to settle")
        t_done = time.monotonic()
        progress_stop.set()
        acks.stopping.set()
        say(f"{'settled' if settled else 'NOT settled'} after {t_done - t0:.1f} s: {state}")
        log.read()
        result = account(sent, log, db, work / "spool", args, mix)
        result.update(seconds=t_done - t0, send_seconds=t_sent - t0, settled=settled,
                      state=state, errors=errors, bench_note=bench_note, db=db.label,
                      parked_max=dispatcher.parked_max, acks_read=acks.files,
                      bounces_to_senders=len(sink.received))
        ok = (settled and result["missing"] == 0 and not result["outcomes"].get("shunted")
              and not result["extra"])
        shutil.copy(mta.log_path, work / "maillog")
    finally:
        if acks is not None:
            acks.stopping.set()
        code = daemon.stop()
        if code not in (0, None):
            say(f"supportd exited {code} on SIGTERM")
        with contextlib.suppress(Exception):
            if mta.log_path.exists():
                shutil.copy(mta.log_path, work / "maillog")
        mta.stop()
        with contextlib.suppress(Exception):
            sink.__exit__(None, None, None)
        if not args.postgres or not args.keep:
            with contextlib.suppress(Exception):
                db.drop()
    if not result:
        say(f"no result; logs kept in {work}")
        return 1
    result["machine"] = machine()
    report = render(result, args)
    print(report)
    if args.out:
        Path(args.out).write_text(report, encoding="utf-8")
        say(f"written to {args.out}")
    if args.keep or not ok:
        say(f"kept {work} (supportd.log, maillog, spool, database)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def account(sent: list[Sent], log: Maillog, db: Database, spool: Path,
            args: argparse.Namespace, mix: Mix) -> dict[str, Any]:
    rows = db.rows("SELECT spool_id, outcome, reason, ticket_id, source FROM inbound")
    inbound = {r[0]: r for r in rows}
    shunted = {p.name for p in (spool / "shunt").glob("*")} if (spool / "shunt").exists() else set()
    matched: set[str] = set()
    per_kind: dict[str, Counter[str]] = defaultdict(Counter)
    outcomes: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    empty_reason: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    missing = 0

    def note(key: str, text: str) -> None:
        if len(examples[key]) < 5:
            examples[key].append(text)

    for s in sorted(sent, key=lambda x: x.index):
        who = f"letter {s.index} ({s.kind}, {s.message_id or 'no Message-ID'})"
        got: str
        if s.qid is None:
            reason = log.rejects.get(s.helo) if s.helo else None
            if reason:
                got = "postfix:refused"
                reasons[got][short_reason(reason)] += 1
            else:
                got = "missing"
                note("missing", f"{who}: SMTP {s.code} {s.reply!r}, no reject line in maillog")
        else:
            status, text = log.final.get(s.qid, ("", ""))
            if status == "sent":
                m = re.search(r"queued as (\S+?)\)?$", text)
                spool_id = m.group(1) if m else ""
                row = inbound.get(spool_id)
                if row is not None:
                    matched.add(spool_id)
                    got = row[1]
                    reasons[got][short_reason(row[2])] += 1
                    if not (row[2] or "").strip():
                        empty_reason[got] += 1
                        if got != "ticket":
                            note(f"empty reason ({got})", f"{who}: spool {spool_id}")
                elif spool_id in shunted:
                    got = "shunted"
                    why = shunt_reason(spool / "shunt" / f"{spool_id}.reason")
                    reasons[got][short_reason(why)] += 1
                    note("shunted", f"{who}: spool/shunt/{spool_id}: {why}")
                else:
                    got = "missing"
                    note("missing", f"{who}: Postfix {s.qid} sent as {spool_id!r}, "
                                    f"no inbound row")
            elif status == "bounced":
                got = "postfix:bounced"
                reasons[got][short_reason(text)] += 1
            else:
                got = "missing"
                note("missing", f"{who}: Postfix {s.qid}: "
                                f"{'; '.join(log.history.get(s.qid, [])) or 'no delivery line'}")
        if got == "missing":
            missing += 1
        outcomes[got] += 1
        per_kind[s.kind][got] += 1
        if got != s.expect and got != "missing":
            rid = ""
            if s.qid and log.final.get(s.qid, ("",))[0] == "sent":
                sid = re.search(r"queued as (\S+?)\)?$", log.final[s.qid][1])
                row = inbound.get(sid.group(1)) if sid else None
                rid = f": {row[2]!r}" if row else ""
            note(f"{s.kind} -> {got} (expected {s.expect})", f"{who}{rid}")
    extra = [r for sid, r in inbound.items() if sid not in matched]
    for r in extra[:5]:
        note("extra inbound rows", f"spool {r[0]}: {r[1]} {r[2]!r}")
    return {"sent": len(sent), "planned": len(mix.kinds), "outcomes": outcomes,
            "per_kind": per_kind, "missing": missing, "extra": len(extra),
            "inbound_rows": len(rows), "empty_reason": empty_reason, "examples": examples,
            "reasons": reasons, "shunted_files": len(shunted)}


def shunt_reason(path: Path) -> str:
    """The last line of a shunted letter's .reason (a traceback: the exception)."""
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "(no .reason file)"
    return lines[-1].strip()[:300] if lines else "(empty .reason file)"


def short_reason(text: str) -> str:
    """A reason without what differs letter to letter (numbers, addresses, ids)."""
    text = re.sub(r"<[^>]*>", "<…>", text or "")
    text = re.sub(r"\b[\w.+-]+@[\w.-]+", "…@…", text)
    text = re.sub(r"SD-\d+", "SD-…", text)
    text = re.sub(r"\d+", "N", text)
    return text.strip()[:110] or "(empty)"


ORDER = ["ticket", "threaded", "duplicate", "suppressed", "bounce", "postfix:bounced",
         "postfix:refused", "shunted", "missing"]
LABEL = {"ticket": "ticket (new ticket)", "threaded": "threaded (on an existing ticket)",
         "duplicate": "duplicate", "suppressed": "suppressed (robot)",
         "bounce": "bounce (of our letter, recorded)",
         "postfix:bounced": "refused by supportd (552), bounced by Postfix",
         "postfix:refused": "refused by Postfix at SMTP time (552)",
         "shunted": "shunted (spool/shunt, no inbound row)", "missing": "**missing**"}


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    m = r["machine"]
    wall = r["seconds"]
    shunted = r["outcomes"].get("shunted", 0)
    accounted = r["sent"] - r["missing"] - shunted
    verdict = "yes" if accounted == r["sent"] else \
        f"NO: {r['missing']} missing, {shunted} shunted without an inbound row"
    cmd = ".venv/bin/python bench/soak.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines = [
        "# Soak: letters through Postfix into supportd, every one accounted for",
        "",
        "Written by `bench/soak.py` (run by hand, not in CI). Each letter is followed from "
        "Postfix's queue id (smtpd's 250) through the maillog (`status=sent ... queued as "
        "SPOOL-ID` / `status=bounced`, or smtpd's `NOQUEUE: reject`) to supportd's `inbound` "
        "row of that spool id.",
        "",
        "| | |",
        "|---|---:|",
        f"| letters planned | {r['planned']:,} |",
        f"| letters sent to Postfix | {r['sent']:,} |",
    ]
    for key in ORDER:
        if r["outcomes"].get(key) or key == "missing":
            lines.append(f"| {LABEL[key]} | {r['outcomes'].get(key, 0):,} |")
    lines += [
        f"| accounted for (an inbound row, or Postfix's refusal) | {accounted:,} of "
        f"{r['sent']:,} |",
        f"| missing = 0? | {verdict} |",
        f"| inbound rows not matched to a letter sent | {r['extra']} |",
        f"| non-ticket inbound rows with an empty reason | "
        f"{sum(v for k, v in r['empty_reason'].items() if k != 'ticket')} |",
        f"| wall time, first letter sent to everything accounted | {wall:.1f} s |",
        f"| of which handing the letters to Postfix | {r['send_seconds']:.1f} s |",
        f"| letters/s (sent ÷ wall time) | {r['sent'] / wall:.1f} |",
        f"| settled (Postfix queue empty, spool idle, every delivery has its row) | "
        f"{'yes' if r['settled'] else 'NO'} |",
        f"| Postfix → supportd | {args.via.upper()}, {args.conns} client connections to "
        f"Postfix |",
        f"| limits | supportd {SUPPORTD_LIMIT:,} B, Postfix {POSTFIX_LIMIT:,} B |",
        f"| database | {r['db']} |",
        f"| Postfix / Python | {m['postfix']} / {m['python']} |",
        f"| `nproc` / CPU | {m['nproc']} / {m['cpu']} |",
        f"| date | {m['date']} |",
        f"| load average at the end | {m['load']} ({r['bench_note']}) |",
        f"| command | `{cmd}` |",
        "",
        "Per kind of letter (expected outcome in brackets):",
        "",
        "| kind | sent | outcomes |",
        "|---|---:|---|",
    ]
    for kind in MIX:
        c = r["per_kind"].get(kind)
        if not c:
            continue
        got = ", ".join(f"{k} {v:,}" for k, v in sorted(c.items(), key=lambda kv: -kv[1]))
        lines.append(f"| {kind} ({MIX[kind][2]}) | {sum(c.values()):,} | {got} |")
    lines += ["", "Reasons recorded (numbers and addresses elided), by outcome:", ""]
    for key in ORDER:
        rs = r["reasons"].get(key)
        if not rs:
            continue
        top = "; ".join(f"`{k}` ×{v:,}" for k, v in rs.most_common(6))
        more = f" (+{len(rs) - 6} more)" if len(rs) > 6 else ""
        lines.append(f"- {key}: {top}{more}")
    extras = [f"- replies etc. waiting for a known ticket, at most at once: {r['parked_max']}",
              f"- Postfix bounces delivered to the senders' sink: {r['bounces_to_senders']}",
              f"- outbox Maildir files read: {r['acks_read']}"]
    if r["errors"]:
        extras += [f"- sending errors: {len(r['errors'])}; first: {r['errors'][:3]}"]
    lines += ["", *extras]
    if r["examples"]:
        lines += ["", "Examples (up to 5 of each):", ""]
        for key, xs in r["examples"].items():
            lines.append(f"- {key}:")
            lines += [f"  - {x}" for x in xs]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--letters", type=int, default=10000)
    ap.add_argument("--via", choices=("lmtp", "smtp"), default="lmtp")
    ap.add_argument("--postgres", metavar="URL", help="an admin URL of a PostgreSQL server; "
                    "a fresh database is created on it (and dropped afterwards)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--conns", type=int, default=8, help="concurrent SMTP connections")
    ap.add_argument("--timeout", type=float, default=3600,
                    help="seconds to wait after sending for everything to settle")
    ap.add_argument("--park-timeout", type=float, default=900,
                    help="seconds a reply may wait for a ticket to become known")
    ap.add_argument("--wait-bench", type=float, default=1200,
                    help="wait up to this long (polling every 30 s) while bench/run.py runs; "
                         "0: don't look")
    ap.add_argument("--out", default=str(HERE / "soak-results.md"),
                    help="where the table goes ('' for nowhere)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (and database)")
    args = ap.parse_args()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
