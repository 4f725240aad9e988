"""Special-request coupons (§3.6): issue, find in a letter, and spend one request.

A coupon is an alphanumeric code (`SPC-XXXX-XXXX-XXXX`, an unambiguous alphabet
with a check character so a typo is not someone else's coupon) issued to a
licensee of «Организатор ЭДО v.3» / «Оператор ЭДО v.3». It gives 12 special
requests and is valid for a year from the licence's purchase; a new coupon for
the same organisation (a renewal) revokes the old one, whose unused requests do
not carry over. Spending is one conditional UPDATE, so two daemons never spend
the 13th request.
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


class CouponError(ValueError):
    pass


def issue(session: Session, inn: str, today: date) -> Coupon:
    org = session.scalar(select(Org).where(Org.inn == inn))
    if org is None:
        raise CouponError(f"--inn {inn}: no organisation with this INN in the registry")
    licences = [lic for lic in org.licences
                if lic.product.strip().lower().startswith(VIP_PRODUCTS)]
    if org.category != "licensee" or not licences:
        raise CouponError(f"--inn {inn}: {org.name} holds no licence for «Организатор ЭДО v.3» "
                          "or «Оператор ЭДО v.3» (§3.6)")
    purchased = max((lic.purchased for lic in licences if lic.purchased), default=today)
    valid_until = date(purchased.year + 1, purchased.month,
                       min(purchased.day, 28 if purchased.month == 2 else purchased.day))
    if valid_until <= today:
        raise CouponError(f"--inn {inn}: the licence of {purchased} is more than a year old; "
                          "renew the support certificate first")
    now = datetime.now().astimezone()
    session.execute(update(Coupon).where(Coupon.org_id == org.id, Coupon.revoked_at.is_(None))
                    .values(revoked_at=now))
    coupon = Coupon(code=new_code(), org_id=org.id, valid_until=valid_until,
                    requests_total=REQUESTS, requests_used=0)
    session.add(coupon)
    session.flush()
    return coupon


@dataclass(frozen=True)
class Spent:
    coupon: Coupon | None
    problem: str  # for the acknowledgement when the coupon could not be used, else ""


def spend(session: Session, codes: list[str], org: Org | None, entitled: bool,
          today: date) -> Spent:
    """Use one request of the first coupon named in the letter, if it may be used."""
    if not codes:
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
