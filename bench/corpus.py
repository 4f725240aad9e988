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

How each client writes its MIME is bench/corpus_mime.py. Run
`python bench/corpus.py --n 1000 --out DIR` to write the letters as files.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus_mime import (  # noqa: E402
    attachment_part,
    b64_lines,
    enc_addr,
    enc_header,
    html_of,
    multipart,
    screenshot,
    text_part,
)
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
    writer = _Writer(random.Random(seed), ticket_base, prefix, tag)
    when = START
    for i in range(n):
        when += timedelta(seconds=writer.rnd.randint(5, 90))
        writer.letters.append(writer.next_letter(i, when))
    return writer.letters


class _Writer:
    """The corpus being written: its one random source, the letters so far, and the
    threads (tickets) later letters answer. The order of the draws from `rnd` is
    the corpus: a change in it changes every letter after."""

    def __init__(self, rnd: random.Random, ticket_base: int, prefix: str, tag: str) -> None:
        self.rnd, self.ticket_base, self.prefix, self.tag = rnd, ticket_base, prefix, tag
        self.letters: list[CorpusLetter] = []
        self.threads: list[Thread] = []
        self.new_count = 0
        self.serial = 0

    def next_letter(self, i: int, when: datetime) -> CorpusLetter:
        rnd = self.rnd
        roll = rnd.random()
        if len(self.threads) < 5:
            roll = 1.0  # the first letters can only be new
        shot = None
        if rnd.random() < 0.20:
            shot = screenshot(rnd, rnd.randint(50_000, 300_000))
        boundary = f"----=_Part_{rnd.getrandbits(48):012x}"
        mid = f"<{rnd.getrandbits(64):016x}.{i}@{'mail.client.example'}>"
        if roll < 0.02 and self.letters:  # the same bytes again: an MTA retried
            return self._duplicate(i)
        if roll < 0.03:  # an out-of-office answer to our acknowledgement
            return self._autoreply(i, when, mid)
        if roll < 0.04 and self.letters:  # a resend: same words, new Message-ID
            return self._resend(i, when, mid, boundary)
        if roll < 0.34:  # a reply to our acknowledgement, the TID in the subject
            return self._reply(i, when, mid, shot, boundary)
        return self._new(i, when, mid, shot, boundary)

    def _duplicate(self, i: int) -> CorpusLetter:
        orig = self.rnd.choice(self.letters[-50:])
        return CorpusLetter(i, "duplicate", orig.style, orig.sender, orig.raw, orig.ticket,
                            orig.has_screenshot)

    def _autoreply(self, i: int, when: datetime, mid: str) -> CorpusLetter:
        rnd = self.rnd
        t = rnd.choice(self.threads[-200:])
        with_tid = rnd.random() < 0.5
        subject = rnd.choice(AUTO_SUBJECTS) + (
            f"[{format_tid(t.ticket, self.prefix)}] {t.subject}" if with_tid else t.subject)
        text = (f"Здравствуйте!\r\n\r\nЯ в отпуске до {when.day + 7} ноября, "
                "без доступа к почте. По срочным вопросам звоните +7 495 000-00-00."
                "\r\n\r\n" + t.client.name + "\r\n")
        head = _headers(t.client, subject, mid, when,
                        ["Auto-Submitted: auto-replied", "X-Autoreply: yes",
                         f"In-Reply-To: <supportd.ack.{t.ticket}.{i:016x}@example.ru>"])
        raw = head.encode("ascii") + text_part(text, "utf-8", "base64")
        return CorpusLetter(i, "autoreply", "autoreply", t.client.addr, raw,
                            t.ticket if with_tid else None)

    def _resend(self, i: int, when: datetime, mid: str, boundary: str) -> CorpusLetter:
        t = self.rnd.choice(self.threads[-50:])
        head = _headers(t.client, t.subject, mid, when, [])
        raw = head.encode("ascii") + _content(t.client, t.text, self.rnd, None, boundary)
        return CorpusLetter(i, "resend", t.client.style, t.client.addr, raw, t.ticket)

    def _reply(self, i: int, when: datetime, mid: str, shot: tuple | None,
               boundary: str) -> CorpusLetter:
        rnd = self.rnd
        t = rnd.choice(self.threads[-300:])
        t.replies += 1
        who = t.client if t.client.charset != "us-ascii" else Client(
            t.client.name, t.client.addr, "thunderbird", "utf-8")
        tid = format_tid(t.ticket, self.prefix)
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
        return CorpusLetter(i, "reply", t.client.style, t.client.addr, raw, t.ticket,
                            shot is not None)

    def _new(self, i: int, when: datetime, mid: str, shot: tuple | None,
             boundary: str) -> CorpusLetter:
        rnd = self.rnd
        self.serial += 1
        client = _client(rnd, self.serial, self.tag)
        subject = rnd.choice(PROBLEMS)
        if client.style == "ascii":
            subject = "Error 500 on the reports page"
        if rnd.random() < 0.2:  # a long subject, folded over several encoded words
            subject += " — " + rnd.choice(SENTENCES).rstrip(".")
        text = _body(rnd, client, SENTENCES, 2, 7)
        self.new_count += 1
        ticket = self.ticket_base + self.new_count
        head = _headers(client, subject, mid, when, [])
        raw = head.encode("ascii") + _content(client, text, rnd, shot, boundary)
        self.threads.append(Thread(ticket, client, subject, mid, text))
        return CorpusLetter(i, "new", client.style, client.addr, raw, ticket,
                            shot is not None)


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
