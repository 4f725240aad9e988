"""mail-parser's header diagnostics of a parsed message, without its body pass.

The defect categories mail-parser adds to the stdlib's (addresses, dates, Received
headers it cannot read) flag a ticket for staff; `HeaderChecks` works them out as
mail-parser itself would (tests/unit/mail/test_header_checks.py holds the two alike).
"""

from __future__ import annotations

import functools
from email.header import Header

import mailparser
from mailparser.const import ADDRESSES_HEADERS
from mailparser.dates import parse_mail_date
from mailparser.utils import get_addresses, receiveds_parsing


class HeaderChecks(mailparser.MailParser):
    """mail-parser's diagnostics of a parsed message, without its body pass.

    `MailParser.parse` walks the whole message again, turns every attachment into a
    base64 string and decodes every text part; `letter._MailView` walks once instead.
    What it adds that the stdlib does not is its defect categories: address, date
    and Received headers it cannot read, MIME headers with invalid UTF-8, text parts
    whose declared charset fails. Those are worked out by its own functions, the
    header ones called as its `_reset` (4.8) calls them (tests/unit/mail/
    test_header_checks.py holds the two alike), so a letter is flagged for staff
    exactly as mail-parser would flag it. An address header is read once per value
    (`_address_defects`): the desk's own address in To, a regular client's From."""

    def parse(self) -> HeaderChecks:
        self._defects: list[object] = []  # what _decode_body_payload adds to
        self._defects_categories: set[str] = set()
        msg = self.message
        raw = list(msg.raw_items()) if msg else []
        # All values are read, as `_reset` reads them: one that raises still raises.
        addresses = [_address_defects(value) for name in sorted(ADDRESSES_HEADERS)
                     for value in msg.get_all(name) or []]
        dates = [bool(parse_mail_date(value).reasons) for name, value in raw
                 if name.lower() in ("date", "resent-date")]
        received: list[object] = []
        received_dates: list[object] = []
        receiveds_parsing([value for name, value in raw if name.lower() == "received"],
                          defects=received, date_defects=received_dates)
        for category, found in (("AddressHeaderDefect", any(addresses)),
                                ("ReceivedHeaderDefect", bool(received)),
                                ("DateHeaderDefect", any(dates) or bool(received_dates))):
            if found:
                self._defects_categories.add(category)
        return self


# mail-parser's verdict on an address header's value is remembered per process, for
# up to 1,024 values of at most a line's 998 characters (1 MB in all): a reading costs
# ~0.2 ms, and To holds the desk's own address in nearly every letter.
_REMEMBERED_CHARS = 998


def _address_defects(value: str | Header) -> bool:
    """mail-parser finds something wrong with an address header's value."""
    if isinstance(value, str) and len(value) <= _REMEMBERED_CHARS:
        return _remembered_address_defects(value)
    return _read_address_defects(value)  # a Header (raw 8-bit bytes), or a long value


@functools.lru_cache(maxsize=1024)
def _remembered_address_defects(value: str) -> bool:
    return _read_address_defects(value)


def _read_address_defects(value: str | Header) -> bool:
    diagnostics: list[dict[str, object]] = []
    get_addresses(value, defects=diagnostics, decode_names=True)
    return bool(diagnostics)
