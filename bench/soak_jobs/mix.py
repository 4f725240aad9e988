"""The soak's plan: which kinds of letter, how many of each (`MIX`), in a seeded
order, and each letter rendered by `Mix` when it is about to be sent (new letters,
attachments, replies by TID or by References, duplicates, auto-replies, delivery
reports, broken MIME, letters too big for supportd or for Postfix).

A letter that leans on a ticket (a reply, a duplicate, a bounce of our
acknowledgement) is rendered against a `Target`: a ticket of this run, known from its
acknowledgement in the outbox (bench/soak_jobs/watch.py).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from bench.soak_jobs.letters import (
    CHARSETS,
    DESK,
    DOMAINS,
    FIRST,
    LAST,
    REPLY_PREFIXES,
    REPLY_TEXT,
    SENTENCES,
    SUBJECTS,
    TRANSLIT,
    Client,
    attachment_part,
    bmp,
    enc_header,
    fit,
    headers,
    multipart,
    png,
    text_part,
)

SUPPORTD_LIMIT = 1 << 20  # supportd's [smtp] max_message_size
POSTFIX_LIMIT = 4 << 20  # Postfix's message_size_limit (larger: supportd must refuse some)
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
