"""Sending the soak's letters to Postfix's smtpd: `Dispatcher` hands them out in plan
order to several client threads, parking a letter that leans on a ticket until some
ticket of this run is known; `send_all` sends them, each letter's reply and Postfix
queue id kept as a `Sent` for the accounting (bench/soak_jobs/account.py).
"""

from __future__ import annotations

import collections
import contextlib
import random
import re
import smtplib
import threading
import time
from dataclasses import dataclass

from bench.soak_jobs.letters import DESK
from bench.soak_jobs.mix import DEPENDENT, MAX_USES, MIX, STARTERS, Mix, Planned, Target


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


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


class _Handover:
    """The client threads' shared state: the letters sent, the errors, and the
    letters that never got a ticket to lean on."""

    def __init__(self, host: str, port: int, dispatcher: Dispatcher,
                 park_timeout: float) -> None:
        self.host, self.port, self.dispatcher = host, port, dispatcher
        self.park_timeout = park_timeout
        self.sent: list[Sent] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.never: list[int] = []

    def connect(self, helo: str = "mail.client.example") -> smtplib.SMTP:
        s = smtplib.SMTP(self.host, self.port, timeout=120)
        s.ehlo(helo)
        return s

    @staticmethod
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

    def hand_over(self, s: smtplib.SMTP, p: Planned) -> tuple[smtplib.SMTP, int, str]:
        """Send one letter, three tries on a fresh connection; the connection to go on
        with, and the reply (0 when none came)."""
        for attempt in range(3):
            try:
                if p.helo:  # its own connection, so the maillog line can be found
                    with contextlib.closing(self.connect(p.helo)) as own:
                        code, resp = self.one(own, p)
                        with contextlib.suppress(smtplib.SMTPException, OSError):
                            own.quit()
                else:
                    code, resp = self.one(s, p)
                return s, code, resp
            except (smtplib.SMTPException, OSError) as exc:
                with self.lock:
                    self.errors.append(f"letter {p.index} ({p.kind}), try {attempt + 1}: "
                                       f"{exc!r}")
                with contextlib.suppress(Exception):
                    s.close()
                time.sleep(1)
                s = self.connect()
        return s, 0, "could not be handed to Postfix"

    def record(self, p: Planned, code: int, resp: str) -> None:
        m = re.search(r"queued as (\S+)", resp) if code == 250 else None
        rec = Sent(p.index, p.kind, p.expect, p.message_id, len(p.raw), code, resp,
                   m.group(1) if m else None, p.helo,
                   p.target.tid if p.target else None, time.monotonic())
        with self.lock:
            self.sent.append(rec)

    def worker(self) -> None:
        s = self.connect()
        waited_since: float | None = None
        try:
            while True:
                p = self.dispatcher.take()
                if p is None:
                    return
                if p == "wait":
                    waited_since = waited_since or time.monotonic()
                    if time.monotonic() - waited_since > self.park_timeout:
                        with self.dispatcher.lock:
                            self.never.extend(self.dispatcher.parked)
                            self.dispatcher.parked.clear()
                        return
                    time.sleep(0.2)
                    continue
                waited_since = None
                assert isinstance(p, Planned)
                s, code, resp = self.hand_over(s, p)
                self.record(p, code, resp)
        finally:
            with contextlib.suppress(Exception):
                s.quit()


def send_all(host: str, port: int, dispatcher: Dispatcher, conns: int,
             park_timeout: float) -> tuple[list[Sent], list[str]]:
    h = _Handover(host, port, dispatcher, park_timeout)
    threads = [threading.Thread(target=h.worker, name=f"send-{k}") for k in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if h.never:
        h.errors.append(f"{len(h.never)} letters never sent: no ticket of this run became "
                        f"known within {park_timeout:.0f} s (letters {sorted(h.never)[:10]})")
    return h.sent, h.errors
