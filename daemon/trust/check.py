"""The verdict on a letter: our MTA's, when it wrote one, else our own checks'.

`Checker` is built from `[auth]` (App.trust) and asked once per letter, before the
letter's transaction opens (DNS must never hold the database's write lock). Where
our MTA added Authentication-Results (`headers.ours`), they decide; where it did
not, and `[auth] verify` is on, DKIM, SPF and DMARC are checked here
(`verify.verify`); otherwise the letter is unchecked (verdict "none").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from daemon.trust import headers
from daemon.trust.verdict import UNCHECKED, AuthVerdict, judge

if TYPE_CHECKING:
    from daemon.trust.dns import Dns


@dataclass(frozen=True)
class Settings:
    trusted_ids: tuple[str, ...] = ()  # authserv-ids of our MTA
    internal_hosts: tuple[str, ...] = ()  # our own relays (their Received are not "outside")
    verify: bool = False  # check DKIM/SPF/DMARC ourselves where our MTA wrote no verdict
    dns_servers: tuple[str, ...] = ()
    dns_timeout: float = 2.0

    @property
    def can_authenticate(self) -> bool:
        return bool(self.trusted_ids) or self.verify


class Checker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._dns: Dns | None = None

    def dns(self) -> Dns:
        if self._dns is None:  # made on first use: most letters carry our MTA's verdict
            from daemon.trust.dns import Dns

            self._dns = Dns(self.settings.dns_servers, self.settings.dns_timeout)
            self._dns.install()
        return self._dns

    def verdict(self, header_items: Iterable[tuple[str, object]], raw: bytes, from_domain: str,
                *, signatures: int, client_ip: str = "", mail_from: str | None = None,
                helo: str = "") -> AuthVerdict:
        s = self.settings
        ours = headers.ours(((n, str(v)) for n, v in header_items), s.trusted_ids,
                            s.internal_hosts)
        if ours:
            return judge(headers.methods(ours), from_domain, "mta")
        if not s.verify or not from_domain:
            return UNCHECKED
        from daemon.trust.verify import verify

        found = verify(raw, from_domain, signatures=signatures, client_ip=client_ip,
                       mail_from=mail_from, helo=helo, resolver=self.dns(),
                       timeout=s.dns_timeout)
        return judge(found, from_domain, "own")
