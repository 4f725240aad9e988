"""Who wrote (§5.8): the registry's answer and its precedence, on SQLite and PostgreSQL.

`identify` asks the database once for the sender's address and domain and once for
everything the letter mentions; the oracle below asks it one value at a time, in the
order of precedence (address, domain, each INN, each OGRN, each login, in the order
they appear), as identification was first written. The two must agree on every letter.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from daemon.storage import db
from daemon.storage.models import Org, OrgAddress
from daemon.tickets.identity import find_inns, find_logins, find_ogrns
from daemon.tickets.registry import Identification, OrgEntry, identify, import_orgs
from tests.conftest import make_desk
from tests.unit.tickets.test_identity import (
    SBERBANK_INN,
    SBERBANK_OGRN,
    YANDEX_INN,
    YANDEX_OGRN,
    make_inn10,
)

UNREGISTERED_INN = make_inn10("772800000")
# Two orgs share a domain, an OGRN and a login (registry mistakes happen); the one
# registered first wins such a tie. One address at the shared domain is the second's.
REGISTRY = [
    OrgEntry("Ромашка", "licensee", SBERBANK_INN, SBERBANK_OGRN, ("it@romashka.example",),
             ("romashka.example",), ("romashka-admin",)),
    OrgEntry("Север", "licensee", YANDEX_INN, YANDEX_OGRN, (), ("shared.example",),
             ("admin",)),
    OrgEntry("Вектор", "partner", None, YANDEX_OGRN, ("boss@shared.example",),
             ("shared.example",), ("admin", "vector")),
]
SENDERS = ["it@romashka.example", "IT@Romashka.Example", "buh@romashka.example",
           "boss@shared.example", "x@shared.example", "stranger@nowhere.example", "",
           "nodomain", "x@", "romashka.example"]
MENTIONS = [f"ИНН {SBERBANK_INN}", f"ИНН/КПП {YANDEX_INN}/770401001", UNREGISTERED_INN,
            f"ОГРН {SBERBANK_OGRN}", f"ОГРН {YANDEX_OGRN}", "логин: romashka-admin",
            "логин: ADMIN", "login: vector", "login: nobody", "Счёт 40702810900000012345",
            "Не открывается отчёт."]


def identify_one_value_at_a_time(session: Session, sender: str, text: str) -> Identification:
    sender = sender.lower()
    for kind, value in (("email", sender), ("domain", sender.rpartition("@")[2])):
        org_id = session.scalar(select(OrgAddress.org_id).where(
            OrgAddress.kind == kind, OrgAddress.value == value).order_by(OrgAddress.id)
            .limit(1)) if value else None
        if org_id is not None:
            return Identification(session.get(Org, org_id), kind)
    for inn in find_inns(text):
        if (org := session.scalar(select(Org).where(Org.inn == inn))) is not None:
            return Identification(org, "inn")
    for ogrn in find_ogrns(text):
        org = session.scalar(select(Org).where(Org.ogrn == ogrn).order_by(Org.id).limit(1))
        if org is not None:
            return Identification(org, "ogrn")
    for login in find_logins(text):
        org_id = session.scalar(select(OrgAddress.org_id).where(
            OrgAddress.kind == "login", OrgAddress.value == login.lower())
            .order_by(OrgAddress.id).limit(1))
        if org_id is not None:
            return Identification(session.get(Org, org_id), "login")
    return Identification(None, "")


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    desk = make_desk(tmp_path, db_url=url)
    with db.unit_of_work(desk.app.sessions) as s:
        import_orgs(s, REGISTRY)
    with desk.app.sessions() as s:
        yield s
    desk.app.close()


def who(ident: Identification) -> tuple[str | None, str]:
    return (ident.org.name if ident.org is not None else None), ident.how


@pytest.mark.parametrize(("sender", "text", "expected"), [
    ("boss@shared.example", "", ("Вектор", "email")),  # the address beats its domain
    ("x@shared.example", "", ("Север", "domain")),  # registered first
    ("romashka.example", "", ("Ромашка", "domain")),  # no "@": all of it is the domain
    ("x@nowhere.example", f"ИНН {YANDEX_INN}, ИНН {SBERBANK_INN}", ("Север", "inn")),
    ("x@nowhere.example", f"логин: vector, ОГРН {SBERBANK_OGRN}, ИНН {SBERBANK_INN}",
     ("Ромашка", "inn")),  # an INN anywhere beats an OGRN, an OGRN beats a login
    ("x@nowhere.example", f"login: admin, ОГРН {YANDEX_OGRN}", ("Север", "ogrn")),
    ("x@nowhere.example", f"{UNREGISTERED_INN}, логин: ADMIN", ("Север", "login")),
    ("x@nowhere.example", f"{UNREGISTERED_INN}, login: nobody", (None, "")),
])
def test_precedence(session: Session, sender: str, text: str,
                    expected: tuple[str | None, str]) -> None:
    assert who(identify(session, sender, text)) == expected


def test_every_letter_is_identified_as_one_value_at_a_time_would(session: Session) -> None:
    rnd = random.Random(5)
    for _ in range(300):
        sender = rnd.choice(SENDERS)
        text = "\n".join(rnd.choices(MENTIONS, k=rnd.randint(0, 5)))
        assert who(identify(session, sender, text)) == \
            who(identify_one_value_at_a_time(session, sender, text)), (sender, text)


def test_a_letter_that_names_nothing_costs_one_query(session: Session) -> None:
    statements: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute",
                 lambda *a: statements.append(a[2]))
    identify(session, "stranger@nowhere.example", "Не открывается отчёт, версия 3.14.")
    assert [s.split()[0] for s in statements if s != "BEGIN"] == ["SELECT"]
