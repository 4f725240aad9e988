"""The scanners the config names, as one object the App holds (`App.scanners`).

`spam()` asks the `[spam] backend` for a verdict on a letter, `infections()` asks
clamd about each attachment. A scanner that cannot be reached or does not answer in
`timeout` raises `ScannerAway` (the letter then waits in the spool, `[spam]
max_wait`); having failed once, it is not asked again for `pause` seconds, so a
batch of letters does not wait out one timeout each while it is down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from daemon.config.loader import socket_address
from daemon.config.schema import AntivirusConfig, SpamConfig, parse_duration
from daemon.scan import clamd, headers, rspamd, spamd
from daemon.scan.sockets import ScannerAway
from daemon.scan.verdict import SpamVerdict

T = TypeVar("T")


@dataclass(frozen=True)
class Infection:
    filename: str
    signature: str
    index: int = -1  # which attachment of the letter, in order


@dataclass(frozen=True)
class Envelope:
    """What a scanner is told of a letter's delivery (rspamd: From, IP, Helo, Rcpt)."""

    mail_from: str | None = None
    peer: str = ""  # an outside client's IP; "" when our own MTA handed it over
    helo: str = ""
    rcpt_to: tuple[str, ...] = ()


class Scanners:
    def __init__(self, spam: SpamConfig, antivirus: AntivirusConfig,
                 internal_hosts: Collection[str] = (), pause: float = 10.0) -> None:
        self.config = spam
        self.antivirus = antivirus
        self.internal_hosts = tuple(internal_hosts)
        self.pause = pause
        self.timeout = parse_duration(spam.timeout).total_seconds()
        self.av_timeout = parse_duration(antivirus.timeout).total_seconds()
        self._away: dict[str, tuple[float, str]] = {}  # scanner -> (until, why)

    @property
    def spam_backend(self) -> str:
        return self.config.backend

    def _ask(self, name: str, call: Callable[[], T]) -> T:
        until, why = self._away.get(name, (0.0, ""))
        if time.monotonic() < until:
            rested = ScannerAway(f"{why} (not asked again for {self.pause:g}s)")
            rested.rested = True
            raise rested
        try:
            result = call()
        except ScannerAway as exc:
            self._away[name] = (time.monotonic() + self.pause, str(exc))
            raise
        self._away.pop(name, None)
        return result

    def spam(self, raw: bytes, header_items: Iterable[tuple[str, str]],
             envelope: Envelope) -> SpamVerdict | None:
        """The backend's verdict; None when `[spam] backend = "off"`."""
        backend = self.config.backend
        if backend == "off":
            return None
        if backend == "headers":
            if envelope.peer:  # straight from outside: no MTA of ours wrote anything
                return SpamVerdict("headers", None, "no verdict",
                                   error="not received through our MTA")
            return headers.verdict(header_items, self.internal_hosts)
        if backend == "rspamd":
            head = rspamd.envelope_headers(envelope.mail_from, envelope.peer, envelope.helo,
                                           envelope.rcpt_to)
            return self._ask("rspamd", lambda: rspamd.check(self.config.rspamd_url, raw, head,
                                                            self.timeout))
        address = socket_address("spam.spamd", self.config.spamd)
        return self._ask("spamd", lambda: spamd.check(address, raw, self.config.spamd_user,
                                                      self.timeout))

    def infections(self, files: Iterable[tuple[str, Iterable[bytes]]]) -> list[Infection]:
        """clamd's findings in each (filename, content's pieces); [] when no clamd is
        configured. clamd opens archives itself (ZIP, RAR, 7z...): a member is scanned
        inside the archive that carries it."""
        if not self.antivirus.clamd:
            return []
        address = socket_address("antivirus.clamd", self.antivirus.clamd)
        found = []
        for index, (filename, content) in enumerate(files):
            signature = self._ask("clamd", lambda c=content: clamd.scan(  # type: ignore[misc]
                address, c, self.av_timeout))
            if signature:
                found.append(Infection(filename, signature, index))
        return found

    def learn(self, raw: bytes, *, spam: bool) -> str:
        """Teach the backend that a letter is spam (or not); what came of it."""
        cfg = self.config
        try:
            if cfg.backend == "rspamd" and cfg.rspamd_controller_url:
                password = (Path(cfg.rspamd_password_file).read_text().strip()
                            if cfg.rspamd_password_file else "")
                return rspamd.learn(cfg.rspamd_controller_url, password, raw, spam,
                                    self.timeout)
            if cfg.backend == "spamassassin":
                return spamd.learn(socket_address("spam.spamd", cfg.spamd), raw, spam,
                                   cfg.spamd_user, self.timeout)
        except (ScannerAway, OSError) as exc:
            return f"not learned: {exc}"
        return "not learned: the backend does not learn"

    def probe(self) -> list[tuple[bool, str]]:
        """(reached, one line) for each scanner configured: `check-config --probe`."""
        out: list[tuple[bool, str]] = []
        cfg = self.config
        try:
            if cfg.backend == "rspamd":
                out.append((True, f"rspamd: {cfg.rspamd_url}: "
                                  f"{rspamd.ping(cfg.rspamd_url, self.timeout)}"))
            elif cfg.backend == "spamassassin":
                address = socket_address("spam.spamd", cfg.spamd)
                out.append((True, f"spamd: {cfg.spamd}: {spamd.ping(address, self.timeout)}"))
        except ScannerAway as exc:
            out.append((False, f"spam: unreachable: {exc}"))
        if self.antivirus.clamd:
            try:
                address = socket_address("antivirus.clamd", self.antivirus.clamd)
                out.append((True, f"clamd: {self.antivirus.clamd}: "
                                  f"{clamd.ping(address, self.av_timeout)}, "
                                  f"{clamd.version(address, self.av_timeout)}"))
            except ScannerAway as exc:
                out.append((False, f"clamd: unreachable: {exc}"))
        return out
