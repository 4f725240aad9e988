"""Special-request coupons (§3.6): issue, find in a letter, and spend one request.

A coupon is an alphanumeric code (`SPC-XXXX-XXXX-XXXX`, an unambiguous alphabet
with a check character so a typo is not someone else's coupon) issued to a
licensee of «Организатор ЭДО v.3» / «Оператор ЭДО v.3». It gives 12 special
requests and is valid for a year from the licence's purchase; a new coupon for
the same organisation (a renewal of support) is valid a year from the renewal and
revokes the old one, whose unused requests do not carry over. Spending is one
conditional UPDATE, so two daemons never spend the 13th request.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from daemon.storage.models import Coupon, Org
from daemon.tickets.registry import VIP_PRODUCTS

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone
REQUESTS = 12
_FIND = re.compile(r"\bSPC-?([A-Z2-9]{4})-?([A-Z2-9]{4})-?([A-Z2-9]{4})\b", re.I)
# What a client may type for a coupon: the prefix, then about twelve letters and digits
# in groups (any of them, 0/O and 1/I too: a misread code still looks like one).
_LOOKS = re.compile(r"\bSPC[-\s]?[A-Z0-9]{3,5}(?:[-\s]?[A-Z0-9]{3,5}){1,3}\b", re.I)


def check_char(body: str) -> str:
    total = sum((i + 1) * ALPHABET.index(c) for i, c in enumerate(body))
    return ALPHABET[total % len(ALPHABET)]


def new_code() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(11))
    full = body + check_char(body)
    return f"SPC-{full[:4]}-{full[4:8]}-{full[8:]}"


def find_codes(text: str) -> list[str]:
    """Valid coupon codes in a text, normalised to SPC-XXXX-XXXX-XXXX."""
    found = []
    for m in _FIND.finditer(text):
        full = "".join(m.groups()).upper()
        if all(c in ALPHABET for c in full) and check_char(full[:11]) == full[11]:
            code = f"SPC-{full[:4]}-{full[4:8]}-{full[8:]}"
            if code not in found:
                found.append(code)
    return found


def lookalike_codes(text: str) -> list[str]:
    """Codes that look like a coupon but are no valid code (a typo, a misread letter)."""
    valid = set(find_codes(text))
    found: list[str] = []
    for m in _LOOKS.finditer(text):
        code = m.group(0).upper()
        if not find_codes(code) and code not in found and not valid & set(find_codes(code)):
            found.append(code)
    return found


class CouponError(ValueError):
    pass


def one_year_after(day: date) -> date:
    """The same date a year later (29 February: the 28th)."""
    return date(day.year + 1, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)


def issue(session: Session, inn: str, now: datetime) -> Coupon:
    """A new coupon for the organisation; `now` is aware, in the desk's timezone.

    The first coupon is valid a year from the licence's purchase (§3.6). A later one is
    a renewal of support: valid a year from the renewal (today), and the old coupon is
    voided with whatever requests it had left (they do not carry over)."""
    today = now.date()
    org = session.scalar(select(Org).where(Org.inn == inn))
    if org is None:
        raise CouponError(f"--inn {inn}: no organisation with this INN in the registry")
    licences = [lic for lic in org.licences
                if lic.product.strip().lower().startswith(VIP_PRODUCTS)]
    if org.category != "licensee" or not licences:
        raise CouponError(f"--inn {inn}: {org.name} holds no licence for «Организатор ЭДО v.3» "
                          "or «Оператор ЭДО v.3» (§3.6)")
    renewal = session.scalar(select(Coupon.id).where(Coupon.org_id == org.id).limit(1))
    if renewal is not None:
        valid_until = one_year_after(today)
    else:
        purchased = max((lic.purchased for lic in licences if lic.purchased), default=today)
        valid_until = one_year_after(purchased)
        if valid_until <= today:
            raise CouponError(f"--inn {inn}: the licence of {purchased} is more than a year "
                              "old; renew the support certificate first")
    session.execute(update(Coupon).where(Coupon.org_id == org.id, Coupon.revoked_at.is_(None))
                    .values(revoked_at=now))
    coupon = Coupon(code=new_code(), org_id=org.id, valid_until=valid_until,
                    requests_total=REQUESTS, requests_used=0, issued_at=now)
    session.add(coupon)
    session.flush()
    return coupon


@dataclass(frozen=True)
class Spent:
    coupon: Coupon | None
    problem: str  # for the acknowledgement when the coupon could not be used, else ""


def spend(session: Session, codes: list[str], org: Org | None, entitled: bool,
          today: date, lookalikes: list[str] | tuple[str, ...] = ()) -> Spent:
    """Use one request of the first coupon named in the letter, if it may be used.

    A code that only looks like a coupon is mentioned to an entitled sender (a typo
    they can fix), never to a stranger (no oracle: see below)."""
    if not codes:
        if lookalikes and org is not None and entitled:
            return Spent(None, f"код {lookalikes[0]} не совпадает ни с одним выданным "
                               "купоном; пожалуйста, проверьте его (в кодах купонов не "
                               "используются буквы O, I и цифры 0, 1)")
        return Spent(None, "")
    if org is None or not entitled:
        # The same words whether the code exists or not: no oracle for strangers.
        return Spent(None, f"купон {codes[0]} принимается только в письме с адреса, "
                           "зарегистрированного за организацией, которой он выдан")
    coupon = session.scalar(select(Coupon).where(Coupon.code == codes[0]))
    if coupon is None or coupon.org_id != org.id:
        return Spent(None, f"купон {codes[0]} не найден среди купонов вашей организации")
    if coupon.revoked_at is not None:
        return Spent(None, f"купон {coupon.code} заменён новым при продлении поддержки")
    if coupon.valid_until < today:
        return Spent(None, f"срок действия купона {coupon.code} истёк "
                           f"{coupon.valid_until:%d.%m.%Y}")
    spent = session.execute(
        update(Coupon).where(Coupon.id == coupon.id,
                             Coupon.requests_used < Coupon.requests_total)
        .values(requests_used=Coupon.requests_used + 1)).rowcount  # type: ignore[attr-defined]
    if not spent:
        return Spent(None, f"по купону {coupon.code} использованы все "
                           f"{coupon.requests_total} спецобращений")
    session.refresh(coupon)
    return Spent(coupon, "")
