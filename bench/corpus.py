"""A seeded, realistic corpus of support mail for the benchmarks.

`generate(n, seed)` returns the same letters for the same arguments, byte for byte
(dates are fixed, randomness comes from one `random.Random(seed)`). The mix is
what a Russian support desk receives:

- new letters (~62 %) from several kinds of mail client: Thunderbird (UTF-8,
  8bit or quoted-printable), Gmail and Yandex web (multipart/alternative UTF-8,
  base64), Outlook (windows-1251, quoted-printable, text + HTML), The Bat! and
  old Unix clients (KOI8-R, 8bit), Mail.ru web (HTML only); subjects always
  RFC 2047-encoded (B or Q, in the body's charset), sometimes folded;
- replies (~30 %) to the acknowledgement, carrying the TID behind `Re:`, `RE:`,
  `Отв:`, `Re[2]:`, `Ответ:` prefixes, with the quoted acknowledgement below;
- ~20 % of letters carry a 50–300 KB screenshot (PNG or JPEG, base64, the
  file name sometimes Cyrillic per RFC 2231);
- a few out-of-office auto-replies (some with the TID, some without), a few
  duplicates (the same bytes again: an MTA retry) and a few resends (the same
  text under a new Message-ID).

Ticket numbers are predicted: supportd numbers tickets in the order new letters
arrive, so the k-th new letter opens ticket `ticket_base + k`; replies name
that ticket's TID. `ticket_base` lets the scale benchmark put the corpus on top
of a database that already holds `ticket_base` tickets.

Run `python bench/corpus.py --n 1000 --out DIR` to write the letters as files.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import random
import struct
import sys
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.threading_tid import format_tid  # noqa: E402

DESK = "techsupport@example.ru"
START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # a Monday morning in Moscow
CRLF = "\r\n"


@dataclass(frozen=True)
class CorpusLetter:
    index: int
    kind: str  # new | reply | autoreply | duplicate | resend
    style: str  # the mail client it imitates
    sender: str  # envelope sender (MAIL FROM)
    raw: bytes = field(repr=False)
    ticket: int | None = None  # the ticket it opens (new) or names (reply, autoreply)
    has_screenshot: bool = False

    @property
    def name(self) -> str:
        return f"{self.index:05d}-{self.kind}-{self.style}.eml"


# ---------------------------------------------------------------- words

FIRST = ["Иван", "Мария", "Алексей", "Ольга", "Дмитрий", "Наталья", "Сергей", "Елена",
         "Андрей", "Татьяна", "Павел", "Светлана", "Михаил", "Юлия", "Николай", "Анна"]
LAST = ["Петров", "Смирнов", "Кузнецов", "Попов", "Васильев", "Соколов", "Михайлов",
        "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов"]
TRANSLIT = {"Иван": "ivan", "Мария": "maria", "Алексей": "alexey", "Ольга": "olga",
            "Дмитрий": "dmitry", "Наталья": "natalia", "Сергей": "sergey", "Елена": "elena",
            "Андрей": "andrey", "Татьяна": "tatiana", "Павел": "pavel", "Светлана": "svetlana",
            "Михаил": "mikhail", "Юлия": "yulia", "Николай": "nikolay", "Анна": "anna"}
# Registered domains (config/demo-registry.toml) and ordinary ones.
DOMAINS = ["romashka.example", "sever.example", "vector-soft.example", "mail.ru.example",
           "yandex.ru.example", "gmail.com.example", "bank-ural.example", "zavod-42.example",
           "gkh-service.example", "school-17.example", "apteka-plus.example",
           "logistika.example"]

PROBLEMS = [
    "Не формируется отчёт по контрагентам",
    "Ошибка 500 при входе в личный кабинет",
    "Не приходят входящие документы от контрагента",
    "Не подписывается УПД электронной подписью",
    "Сертификат ЭП не виден в программе",
    "Зависает выгрузка в 1С",
    "Не работает роуминг с другим оператором",
    "Пропала кнопка «Отправить» в карточке документа",
    "После обновления не запускается клиент",
    "Счёт-фактура ушёл с ошибкой в ИНН",
    "Как добавить нового сотрудника в организацию?",
    "Срочно! Не отправляются документы в ФНС",
    "Вопрос по лицензии на рабочие места",
    "Медленно открывается список документов",
    "Ошибка «Сертификат отозван» при подписании",
    "Не печатается акт сверки",
]
SENTENCES = [
    "Здравствуйте!",
    "Добрый день, коллеги.",
    "При формировании отчёта за октябрь появляется ошибка 500, отчёт не строится.",
    "Версия программы 3.14.2, редакция «Корпоративная», Windows 10 Pro.",
    "Шаги: открыть раздел «Отчёты», выбрать период, нажать «Сформировать».",
    "Ошибка повторяется у всех пользователей нашей организации с сегодняшнего утра.",
    "Скриншот ошибки прилагаю.",
    "Наш ИНН 7707083893, логин в системе romashka-admin.",
    "Контрагент утверждает, что документы отправлены ещё в пятницу.",
    "В журнале событий видно сообщение «Соединение сброшено удалённой стороной».",
    "Подскажите, пожалуйста, что можно сделать до вашего ответа?",
    "Сертификат выдан УЦ «Тензор», срок действия до 2027 года.",
    "Пробовали перезагрузить компьютер и переустановить КриптоПро — не помогло.",
    "Прошу рассмотреть как можно скорее: сегодня последний день сдачи отчётности.",
    "Документы зависают в статусе «Отправляется» и через час возвращаются с ошибкой.",
    "Адрес в браузере: https://edo.client.example/documents/inbox?page=2",
    "Ранее такой проблемы не было, последнее обновление ставили во вторник.",
    "Ответственный за работу с ЭДО — главный бухгалтер, телефон +7 912 000-00-00.",
]
REPLY_SENTENCES = [
    "Спасибо за быстрый ответ!",
    "Проблема сохраняется, прикладываю новый скриншот.",
    "Сделали, как вы сказали, — теперь другая ошибка.",
    "Уточняю: ошибка возникает только в Google Chrome, в Firefox всё работает.",
    "Подскажите, когда ждать решения?",
    "Вопрос решён, спасибо. Можно закрывать.",
    "Логи во вложении. Время ошибки — 14:32 по Москве.",
]
SIGNATURES = [
    "--\r\nС уважением,\r\n{name}\r\nтел. +7 (495) 123-45-67",
    "С уважением, {name}",
    "--\r\n{name}\r\nИнженер отдела ИТ\r\nООО «Ромашка»",
    "Отправлено из мобильной Почты Mail.ru",
    "{name}\r\n\r\nЭто письмо содержит конфиденциальную информацию.",
]
REPLY_PREFIXES = ["Re: ", "RE: ", "Отв: ", "Re[2]: ", "Ответ: ", "Re: Re: "]
AUTO_SUBJECTS = ["Автоответ: ", "Out of Office: ", "Автоматический ответ: "]

# (style, charset, weight) for new letters
STYLES = [("thunderbird", "utf-8", 26), ("gmail", "utf-8", 20), ("outlook", "windows-1251", 20),
          ("thebat", "koi8-r", 14), ("mailru-html", "utf-8", 12), ("ascii", "us-ascii", 8)]

# ---------------------------------------------------------------- encoding helpers


_FALLBACK = str.maketrans({"—": "-", "–": "-", "«": '"', "»": '"', "№": "N", "…": "..."})


def fit(text: str, charset: str) -> str:
    """What a client in `charset` could type: KOI8-R has no dashes or guillemets."""
    try:
        text.encode(charset)
        return text
    except UnicodeEncodeError:
        return text.translate(_FALLBACK).encode(charset, "replace").decode(charset)


def _encoded_words(text: str, charset: str, how: str) -> list[str]:
    """RFC 2047 encoded words of at most ~75 characters, split on character bounds."""
    words, chunk = [], ""
    limit = 45 if how == "B" else 22  # bytes of payload per word, roughly

    def flush(c: str) -> None:
        data = c.encode(charset)
        if how == "B":
            payload = base64.b64encode(data).decode()
        else:
            payload = "".join(
                "_" if b == 32 else chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122)
                else f"={b:02X}" for b in data)
        words.append(f"=?{charset.upper()}?{how}?{payload}?=")

    for ch in text:
        if len((chunk + ch).encode(charset)) > limit:
            flush(chunk)
            chunk = ""
        chunk += ch
    if chunk:
        flush(chunk)
    return words


def enc_header(text: str, charset: str, how: str = "B") -> str:
    if charset == "us-ascii" and text.isascii():
        return text
    cs = "utf-8" if charset == "us-ascii" else charset
    return (CRLF + " ").join(_encoded_words(fit(text, cs), cs, how))


def enc_addr(name: str, addr: str, charset: str) -> str:
    return f"{enc_header(name, charset)} <{addr}>"


def b64_lines(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return CRLF.join(text[i:i + 76] for i in range(0, len(text), 76))


def qp(text: str, charset: str) -> str:
    data = text.replace("\r\n", "\n").encode(charset)
    out = binascii.b2a_qp(data, istext=True).decode("ascii")
    return out.replace("\n", CRLF)


def text_part(text: str, charset: str, cte: str, subtype: str = "plain",
              flowed: bool = False) -> bytes:
    text = fit(text, charset)
    params = f'; charset="{charset}"' + ("; format=flowed" if flowed else "")
    head = f"Content-Type: text/{subtype}{params}{CRLF}Content-Transfer-Encoding: {cte}{CRLF}"
    if cte == "base64":
        body = b64_lines(text.encode(charset))
    elif cte == "quoted-printable":
        body = qp(text, charset)
    else:
        body = text.replace("\r\n", "\n").replace("\n", CRLF)
    return (head + CRLF).encode("ascii") + body.encode(charset, "replace") + CRLF.encode()


def multipart(subtype: str, parts: list[bytes], boundary: str) -> bytes:
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"{CRLF}{CRLF}'
           f"This is a multi-part message in MIME format.{CRLF}".encode()]
    for p in parts:
        out.append(f"--{boundary}{CRLF}".encode() + p)
    out.append(f"--{boundary}--{CRLF}".encode())
    return b"".join(out)


def html_of(text: str) -> str:
    paras = "".join(f"<p>{line}</p>" for line in text.split("\r\n") if line.strip())
    return (f'<html><head><meta http-equiv="Content-Type" content="text/html">'
            f"<style>p{{margin:0;font-family:Calibri}}</style></head>"
            f"<body><div>{paras}</div></body></html>")


# ---------------------------------------------------------------- screenshots


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def screenshot(rnd: random.Random, size: int) -> tuple[str, str, bytes]:
    """(file name, MIME type, bytes) of a PNG or JPEG of about `size` bytes.

    The pixels are noise (screenshots are already compressed, so noise is a fair
    stand-in); the headers are real, so type sniffing sees a PNG or a JPEG."""
    names_png = ["screenshot.png", "Снимок экрана 2026-11-20 в 14.32.10.png", "image001.png",
                 "ошибка.png", "Screenshot_20261120-143210.png"]
    names_jpg = ["IMG_2041.JPG", "photo_2026-11-20.jpg", "скрин.jpg"]
    if rnd.random() < 0.7:
        w, h = rnd.choice([(1920, 1080), (1366, 768), (1280, 1024), (2560, 1440)])
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        body = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                + _png_chunk(b"IDAT", rnd.randbytes(max(0, size - 57))) + _png_chunk(b"IEND", b""))
        return rnd.choice(names_png), "image/png", body
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return rnd.choice(names_jpg), "image/jpeg", head + rnd.randbytes(size - 22) + b"\xff\xd9"


def attachment_part(name: str, ctype: str, data: bytes, rnd: random.Random) -> bytes:
    if name.isascii():
        disp = f'attachment; filename="{name}"'
        ct = f'{ctype}; name="{name}"'
    elif rnd.random() < 0.5:  # RFC 2231 (Thunderbird, Apple Mail)
        from urllib.parse import quote

        disp = f"attachment;{CRLF} filename*=UTF-8''{quote(name)}"
        ct = f"{ctype};{CRLF} name*=UTF-8''{quote(name)}"
    else:  # RFC 2047 in a parameter (Outlook, Gmail): wrong but everywhere
        encoded = enc_header(name, "utf-8").replace(CRLF + " ", "")
        disp = f'attachment; filename="{encoded}"'
        ct = f'{ctype}; name="{encoded}"'
    return (f"Content-Type: {ct}{CRLF}Content-Transfer-Encoding: base64{CRLF}"
            f"Content-Disposition: {disp}{CRLF}{CRLF}").encode() + b64_lines(data).encode() + \
        CRLF.encode()


# ---------------------------------------------------------------- letters


@dataclass
class Client:
    name: str
    addr: str
    style: str
    charset: str


@dataclass
class Thread:
    ticket: int
    client: Client
    subject: str
    message_id: str
    text: str
    replies: int = 0


def _pick_style(rnd: random.Random) -> tuple[str, str]:
    total = sum(w for _, _, w in STYLES)
    x = rnd.uniform(0, total)
    for style, charset, w in STYLES:
        x -= w
        if x <= 0:
            return style, charset
    return STYLES[-1][0], STYLES[-1][1]


def _client(rnd: random.Random, serial: int, tag: str) -> Client:
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    style, charset = _pick_style(rnd)
    name = f"{TRANSLIT[first].title()} {serial}" if style == "ascii" else f"{first} {last}"
    addr = f"{TRANSLIT[first]}.{tag}{serial}@{rnd.choice(DOMAINS)}"
    return Client(name, addr, style, charset)


def _body(rnd: random.Random, client: Client, pool: list[str], lo: int, hi: int) -> str:
    lines = rnd.sample(pool, min(len(pool), rnd.randint(lo, hi)))
    sig = rnd.choice(SIGNATURES).format(name=client.name)
    text = "\r\n\r\n".join(lines) + "\r\n\r\n" + sig + "\r\n"
    if client.style == "ascii" and pool is REPLY_SENTENCES:
        text = f"Thank you, the problem is still there.\r\n\r\n{client.name}\r\n"
    elif client.style == "ascii":
        text = ("Hello,\r\n\r\nwe get error 500 when opening the reports page since this "
                "morning (version 3.14.2).\r\nSteps: Reports > Period > Build.\r\n\r\n"
                f"Regards,\r\n{client.name}\r\n")
    return text


def _headers(client: Client, subject: str, mid: str, date: datetime,
             extra: list[str]) -> str:
    cs = client.charset
    how = "Q" if client.style == "thunderbird" and len(subject) < 40 else "B"
    lines = [
        f"Return-Path: <{client.addr}>",
        "Received: from mx.client.example (mx.client.example [192.0.2.10])"
        f"{CRLF}\tby mx.example.ru (Postfix) with ESMTPS id 4Xk2Lm0Qz9;{CRLF}"
        f"\t{format_datetime(date)}",
        f"From: {enc_addr(client.name, client.addr, cs)}",
        f"To: {enc_addr('Техподдержка', DESK, 'utf-8' if cs == 'us-ascii' else cs)}",
        f"Subject: {enc_header(subject, cs, how)}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: {mid}",
        "MIME-Version: 1.0",
        *extra,
    ]
    agent = {"thunderbird": "User-Agent: Mozilla Thunderbird 128.4.0",
             "outlook": "X-Mailer: Microsoft Outlook 16.0",
             "thebat": "X-Mailer: The Bat! (v9.4.5) Professional",
             "gmail": "", "mailru-html": "X-Mailer: Mail.Ru Mailer 1.0", "ascii": ""}
    if agent[client.style]:
        lines.append(agent[client.style])
    return CRLF.join(lines) + CRLF


def _content(client: Client, text: str, rnd: random.Random, shot: tuple | None,
             boundary: str) -> bytes:
    """The MIME body (Content-Type header onward) in the client's habits."""
    cs = client.charset
    if client.style == "thunderbird":
        body = text_part(text, cs, rnd.choice(["8bit", "quoted-printable"]), flowed=True)
    elif client.style == "gmail":
        body = multipart("alternative", [text_part(text, cs, "base64"),
                                         text_part(html_of(text), cs, "base64", "html")],
                         boundary + "alt")
    elif client.style == "outlook":
        body = multipart("alternative", [text_part(text, cs, "quoted-printable"),
                                         text_part(html_of(text), cs, "quoted-printable",
                                                   "html")], boundary + "alt")
    elif client.style == "thebat":
        body = text_part(text, cs, "8bit")
    elif client.style == "mailru-html":
        body = text_part(html_of(text), cs, "base64", "html")
    else:
        body = text_part(text, cs, "7bit")
    if shot is None:
        return body
    name, ctype, data = shot
    return multipart("mixed", [body, attachment_part(name, ctype, data, rnd)], boundary)


def generate(n: int = 1000, seed: int = 1, ticket_base: int = 0,
             prefix: str = "SD", tag: str = "") -> list[CorpusLetter]:
    """`n` letters; `tag` goes into every client address (keeps corpora apart)."""
    rnd = random.Random(seed)
    letters: list[CorpusLetter] = []
    threads: list[Thread] = []
    new_count = 0
    when = START
    serial = 0
    for i in range(n):
        when += timedelta(seconds=rnd.randint(5, 90))
        roll = rnd.random()
        if len(threads) < 5:
            roll = 1.0  # the first letters can only be new
        shot = None
        if rnd.random() < 0.20:
            shot = screenshot(rnd, rnd.randint(50_000, 300_000))
        boundary = f"----=_Part_{rnd.getrandbits(48):012x}"
        mid = f"<{rnd.getrandbits(64):016x}.{i}@{'mail.client.example'}>"
        if roll < 0.02 and letters:  # the same bytes again: an MTA retried
            orig = rnd.choice(letters[-50:])
            letters.append(CorpusLetter(i, "duplicate", orig.style, orig.sender, orig.raw,
                                        orig.ticket, orig.has_screenshot))
            continue
        if roll < 0.03:  # an out-of-office answer to our acknowledgement
            t = rnd.choice(threads[-200:])
            with_tid = rnd.random() < 0.5
            subject = rnd.choice(AUTO_SUBJECTS) + (
                f"[{format_tid(t.ticket, prefix)}] {t.subject}" if with_tid else t.subject)
            text = (f"Здравствуйте!\r\n\r\nЯ в отпуске до {when.day + 7} ноября, "
                    "без доступа к почте. По срочным вопросам звоните +7 495 000-00-00."
                    "\r\n\r\n" + t.client.name + "\r\n")
            head = _headers(t.client, subject, mid, when,
                            ["Auto-Submitted: auto-replied", "X-Autoreply: yes",
                             f"In-Reply-To: <supportd.ack.{t.ticket}.{i:016x}@example.ru>"])
            raw = head.encode("ascii") + text_part(text, "utf-8", "base64")
            letters.append(CorpusLetter(i, "autoreply", "autoreply", t.client.addr, raw,
                                        t.ticket if with_tid else None))
            continue
        if roll < 0.04 and letters:  # a resend: same words, new Message-ID
            t = rnd.choice(threads[-50:])
            head = _headers(t.client, t.subject, mid, when, [])
            raw = head.encode("ascii") + _content(t.client, t.text, rnd, None, boundary)
            letters.append(CorpusLetter(i, "resend", t.client.style, t.client.addr, raw,
                                        t.ticket))
            continue
        if roll < 0.34:  # a reply to our acknowledgement, the TID in the subject
            t = rnd.choice(threads[-300:])
            t.replies += 1
            who = t.client if t.client.charset != "us-ascii" else Client(
                t.client.name, t.client.addr, "thunderbird", "utf-8")
            tid = format_tid(t.ticket, prefix)
            subject = f"{rnd.choice(REPLY_PREFIXES)}[{tid}] {t.subject}"
            quoted = "\r\n".join(
                "> " + line for line in (
                    f"Здравствуйте, {t.client.name}!", "",
                    f"Ваше обращение зарегистрировано под номером {tid}.",
                    "Уровень обслуживания: консультация. Срок реакции: 5 рабочих дней.", "",
                    "> " + t.text.split("\r\n")[0]))
            text = (_body(rnd, t.client, REPLY_SENTENCES, 1, 3) + "\r\n"
                    + f"{format_datetime(when - timedelta(minutes=5))}, Техподдержка "
                      f"<{DESK}>:\r\n" + quoted + "\r\n")
            head = _headers(who, subject, mid, when,
                            [f"In-Reply-To: {t.message_id}", f"References: {t.message_id}"])
            raw = head.encode("ascii") + _content(who, text, rnd, shot, boundary)
            letters.append(CorpusLetter(i, "reply", t.client.style, t.client.addr, raw,
                                        t.ticket, shot is not None))
            continue
        serial += 1
        client = _client(rnd, serial, tag)
        subject = rnd.choice(PROBLEMS)
        if client.style == "ascii":
            subject = "Error 500 on the reports page"
        if rnd.random() < 0.2:  # a long subject, folded over several encoded words
            subject += " — " + rnd.choice(SENTENCES).rstrip(".")
        text = _body(rnd, client, SENTENCES, 2, 7)
        new_count += 1
        ticket = ticket_base + new_count
        head = _headers(client, subject, mid, when, [])
        raw = head.encode("ascii") + _content(client, text, rnd, shot, boundary)
        threads.append(Thread(ticket, client, subject, mid, text))
        letters.append(CorpusLetter(i, "new", client.style, client.addr, raw, ticket,
                                    shot is not None))
    return letters


def big_letter(size: int = 25_000_000, seed: int = 7) -> bytes:
    """One letter of about `size` bytes: a short note and one large attachment."""
    rnd = random.Random(seed)
    client = Client("Иван Петров", "ivan.big@romashka.example", "thunderbird", "utf-8")
    payload = (size - 4000) * 3 // 4 // 78 * 76  # base64 with CRLF every 76 characters
    data = b"PK\x03\x04" + rnd.randbytes(payload - 4)
    head = _headers(client, "Выгрузка базы для анализа (архив)", "<big.1@mail.client.example>",
                    START, [])
    body = multipart("mixed", [text_part("Здравствуйте! Архив базы во вложении.\r\n", "utf-8",
                                         "8bit"),
                               (f'Content-Type: application/octet-stream; name="dump.bin"{CRLF}'
                                f"Content-Transfer-Encoding: base64{CRLF}"
                                f'Content-Disposition: attachment; filename="dump.bin"{CRLF}'
                                f"{CRLF}").encode() + b64_lines(data).encode() + CRLF.encode()],
                     "----=_big")
    return head.encode("ascii") + body


def summary(letters: list[CorpusLetter]) -> dict[str, object]:
    kinds: dict[str, int] = {}
    styles: dict[str, int] = {}
    for x in letters:
        kinds[x.kind] = kinds.get(x.kind, 0) + 1
        styles[x.style] = styles.get(x.style, 0) + 1
    sizes = sorted(len(x.raw) for x in letters)
    return {"letters": len(letters), "kinds": kinds, "styles": styles,
            "with_screenshot": sum(x.has_screenshot for x in letters),
            "bytes": sum(sizes), "median_size": sizes[len(sizes) // 2],
            "largest": sizes[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ticket-base", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the letters as .eml files here")
    args = parser.parse_args()
    letters = generate(args.n, args.seed, args.ticket_base)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for x in letters:
            (args.out / x.name).write_bytes(x.raw)
    print(summary(letters))


if __name__ == "__main__":
    main()
