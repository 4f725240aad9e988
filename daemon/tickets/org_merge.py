"""What `orgs import` makes of an organisation: the file merged into what is stored,
and the changes in words (`--dry-run`). Pure: values in, values out.

A file updates only the fields it carries (`OrgEntry.carried`): a one-row CSV that
names an INN and an address leaves the OGRN, the other addresses, domains, logins
and licences as they were. Lists gain what the file adds (nothing is dropped by
being left out); a licence is known by its product and edition, and a known one
takes the file's plan (and purchase date, if given). `replace` is the file as the
whole truth of each organisation it names: what it leaves out is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date


@dataclass(frozen=True)
class LicenceEntry:
    product: str
    edition: str = ""
    purchased: date | None = None
    plan: str = "standard"


@dataclass(frozen=True)
class OrgEntry:
    name: str
    category: str
    inn: str | None = None
    ogrn: str | None = None
    emails: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    logins: tuple[str, ...] = ()
    licences: tuple[LicenceEntry, ...] = field(default=())
    # The fields the file gave (a TOML key, a CSV cell not empty; "licence"): an
    # import updates only these (org_merge). Built in code: all of them.
    carried: frozenset[str] = frozenset(
        ("name", "category", "inn", "ogrn", "emails", "domains", "logins", "licence"))


LISTS = ("emails", "domains", "logins")
SCALARS = ("name", "category", "inn", "ogrn")


@dataclass(frozen=True)
class OrgState:
    name: str
    category: str
    inn: str | None
    ogrn: str | None
    emails: tuple[str, ...]
    domains: tuple[str, ...]
    logins: tuple[str, ...]
    licences: tuple[LicenceEntry, ...]


def _key(lic: LicenceEntry) -> tuple[str, str]:
    return lic.product.strip().lower(), lic.edition.strip().lower()


def _licences(before: tuple[LicenceEntry, ...], new: tuple[LicenceEntry, ...]
              ) -> tuple[LicenceEntry, ...]:
    merged = list(before)
    for lic in new:
        at = next((i for i, old in enumerate(merged) if _key(old) == _key(lic)), None)
        if at is None:
            merged.append(lic)
        else:
            old = merged[at]
            merged[at] = replace(old, plan=lic.plan, purchased=lic.purchased or old.purchased)
    return tuple(merged)


def merge(before: OrgState | None, entry: OrgEntry, *, replace_all: bool = False) -> OrgState:
    """The organisation after importing `entry` over `before` (None: a new one)."""
    whole = OrgState(entry.name, entry.category, entry.inn, entry.ogrn, entry.emails,
                     entry.domains, entry.logins, entry.licences)
    if before is None or replace_all:
        return whole
    values = {}
    for name in SCALARS:
        values[name] = getattr(whole if name in entry.carried else before, name)
    for name in LISTS:
        old = getattr(before, name)
        values[name] = old + tuple(v for v in getattr(entry, name) if v not in old) \
            if name in entry.carried else old
    licences = _licences(before.licences, entry.licences) if "licence" in entry.carried \
        else before.licences
    return OrgState(**values, licences=licences)


def _licence_words(lic: LicenceEntry) -> str:
    edition = f" / {lic.edition}" if lic.edition else ""
    bought = f", {lic.purchased.isoformat()}" if lic.purchased else ""
    return f"{lic.product}{edition} ({lic.plan}{bought})"


def changes(before: OrgState | None, after: OrgState) -> list[str]:
    """The changes, one line each: "ogrn: A -> B", "emails: + x", "licence: - …"."""
    lines = []
    for name in SCALARS:
        old = getattr(before, name) if before else None
        new = getattr(after, name)
        if old != new and (before is not None or new):
            lines.append(f"{name}: {old or '(none)'} -> {new or '(none)'}" if before
                         else f"{name}: {new}")
    for name in LISTS:
        old, new = (getattr(before, name) if before else ()), getattr(after, name)
        lines += [f"{name}: + {v}" for v in new if v not in old]
        lines += [f"{name}: - {v}" for v in old if v not in new]
    old_l = {_key(lic): lic for lic in (before.licences if before else ())}
    new_l = {_key(lic): lic for lic in after.licences}
    for key, lic in new_l.items():
        if key not in old_l:
            lines.append(f"licence: + {_licence_words(lic)}")
        elif old_l[key] != lic:
            lines.append(f"licence: {_licence_words(old_l[key])} -> {_licence_words(lic)}")
    lines += [f"licence: - {_licence_words(lic)}" for key, lic in old_l.items()
              if key not in new_l]
    return lines
