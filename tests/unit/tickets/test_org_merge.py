"""`orgs import` merges (daemon/tickets/org_merge.py): a file changes only what it carries."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from daemon.tickets.org_merge import OrgState, changes, merge
from daemon.tickets.registry import LicenceEntry, OrgEntry

STORED = OrgState("ООО «Ромашка»", "licensee", "7707083893", "1027700132195",
                  ("it@romashka.example",), ("romashka.example",), ("romashka-admin",),
                  (LicenceEntry("Организатор ЭДО v.3", "Корпоративная", date(2026, 3, 1)),))
FIELDS = ("name", "category", "inn", "ogrn", "emails", "domains", "logins", "licence")


def entry(carried: set[str], **values: object) -> OrgEntry:
    base = dict(name="ООО «Ромашка»", category="licensee", inn="7707083893")
    return OrgEntry(**{**base, **values}, carried=frozenset(carried))  # type: ignore[arg-type]


def test_the_key_alone_changes_nothing() -> None:
    after = merge(STORED, entry({"name", "category", "inn"}))
    assert after == STORED and changes(STORED, after) == []


@given(st.sets(st.sampled_from(FIELDS)))
def test_fields_not_carried_keep_their_values(carried: set[str]) -> None:
    e = entry(carried | {"inn"}, ogrn="1027739609391", emails=("new@romashka.example",),
              domains=("new.example",), logins=("new-login",),
              licences=(LicenceEntry("Оператор ЭДО v.3", plan="vip"),))
    after = merge(STORED, e)
    for name in ("ogrn", "emails", "domains", "logins"):
        if name not in carried:
            assert getattr(after, name) == getattr(STORED, name)
        elif name != "ogrn":  # lists only grow
            assert set(getattr(STORED, name)) < set(getattr(after, name))
    if "licence" not in carried:
        assert after.licences == STORED.licences
    else:
        assert after.licences[0] == STORED.licences[0] and len(after.licences) == 2


def test_a_licence_named_again_takes_the_new_plan_and_keeps_its_date() -> None:
    e = entry({"licence"}, licences=(LicenceEntry("организатор ЭДО v.3", "корпоративная",
                                                  None, "vip"),))
    after = merge(STORED, e)
    assert after.licences == (replace(STORED.licences[0], plan="vip"),)
    assert changes(STORED, after) == [
        "licence: Организатор ЭДО v.3 / Корпоративная (standard, 2026-03-01) -> "
        "Организатор ЭДО v.3 / Корпоративная (vip, 2026-03-01)"]


def test_replace_is_the_file_whole() -> None:
    e = entry({"emails"}, emails=("boss@romashka.example",))
    after = merge(STORED, e, replace_all=True)
    assert (after.ogrn, after.domains, after.licences) == (None, (), ())
    assert "ogrn: 1027700132195 -> (none)" in changes(STORED, after)
    assert "emails: - it@romashka.example" in changes(STORED, after)
