"""The registry of partners, licensees and users: import, and who a sender is (§5.8).

`load_file` reads the TOML or CSV of SPEC "Interface" and validates every entry
(INN/OGRN checksums, categories, plans), naming the entry and field at fault.
`import_orgs` upserts by INN (or by name for entries without one) in one
transaction, merging only the fields a file carries (`org_merge`; `--replace`: the
file is the whole truth). `identify` answers who wrote a letter: by a registered address or
domain (which entitles the sender to the org's commercial level), or only by an
INN, OGRN or login mentioned in the letter (which names the org but, per §5.8,
does not entitle a commercial level).
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, literal_column, or_, select, union_all
from sqlalchemy.orm import Session

from daemon.storage.models import Licence, Org, OrgAddress
from daemon.tickets.identity import find_inns, find_logins, find_ogrns, valid_inn, valid_ogrn
from daemon.tickets.org_merge import LicenceEntry, OrgEntry, OrgState, changes, merge

CATEGORIES = ("partner", "licensee", "user", "demo")
PLANS = ("standard", "vip")


class RegistryError(ValueError):
    pass


def _list(value: Any, where: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):  # CSV cells: "a@x.ru; b@x.ru"
        value = [v for v in value.replace(",", ";").split(";")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryError(f"{where}: must be a list of strings")
    return tuple(v.strip().lower() for v in value if v.strip())


def _entry(raw: dict[str, Any], where: str) -> OrgEntry:
    name = str(raw.get("name", "")).strip()
    if not name:
        raise RegistryError(f"{where}.name: is required")
    category = str(raw.get("category", "")).strip()
    if category not in CATEGORIES:
        raise RegistryError(f"{where}.category: {category!r}; use {', '.join(CATEGORIES)}")
    inn = str(raw.get("inn") or "").strip() or None
    if inn is not None and not valid_inn(inn):
        raise RegistryError(f"{where}.inn: {inn} is not a valid INN (checksum)")
    ogrn = str(raw.get("ogrn") or "").strip() or None
    if ogrn is not None and not valid_ogrn(ogrn):
        raise RegistryError(f"{where}.ogrn: {ogrn} is not a valid OGRN/OGRNIP (checksum)")
    emails = _list(raw.get("emails"), f"{where}.emails")
    for e in emails:
        if "@" not in e:
            raise RegistryError(f"{where}.emails: {e!r} is not an e-mail address")
    licences = []
    raw_licences = raw.get("licence", [])
    if isinstance(raw_licences, dict):
        raw_licences = [raw_licences]
    for i, lic in enumerate(raw_licences):
        lw = f"{where}.licence[{i}]"
        plan = str(lic.get("plan") or "standard")
        if plan not in PLANS:
            raise RegistryError(f"{lw}.plan: {plan!r}; use standard or vip")
        purchased = lic.get("purchased")
        if isinstance(purchased, str) and purchased:
            try:
                purchased = date.fromisoformat(purchased)
            except ValueError:
                raise RegistryError(f"{lw}.purchased: {purchased!r} is not a date") from None
        if not str(lic.get("product", "")).strip():
            raise RegistryError(f"{lw}.product: is required")
        licences.append(LicenceEntry(str(lic["product"]).strip(),
                                     str(lic.get("edition") or ""), purchased or None, plan))
    carried = frozenset(k for k in ("name", "category", "inn", "ogrn", "emails", "domains",
                                    "logins", "licence") if raw.get(k) not in (None, "", []))
    if "ogrn" in raw and raw["ogrn"] == "" and not raw.get("_csv"):
        carried |= {"ogrn"}  # TOML `ogrn = ""`: cleared on purpose
    return OrgEntry(name, category, inn, ogrn, emails, _list(raw.get("domains"),
                    f"{where}.domains"), _list(raw.get("logins"), f"{where}.logins"),
                    tuple(licences), carried)


def load_file(path: Path) -> list[OrgEntry]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for n, row in enumerate(csv.DictReader(text.splitlines()), start=2):
            key = (row.get("inn") or "", row.get("name") or f"row {n}")
            org = merged.setdefault(key, {**row, "licence": [], "_csv": True})
            if row.get("product"):
                org["licence"].append({k: row.get(k) for k in
                                       ("product", "edition", "purchased", "plan")})
        return [_entry(raw, f"row[{i}]") for i, raw in enumerate(merged.values())]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from None
    return [_entry(raw, f"org[{i}]") for i, raw in enumerate(data.get("org", []))]


@dataclass(frozen=True)
class OrgReport:
    label: str  # "ООО «Ромашка» (ИНН 7707083893)"
    status: str  # new | update | unchanged
    changes: tuple[str, ...]


def _state(org: Org) -> OrgState:
    return OrgState(org.name, org.category, org.inn, org.ogrn, tuple(org.emails or ()),
                    tuple(org.domains or ()), tuple(org.logins or ()),
                    tuple(LicenceEntry(lic.product, lic.edition, lic.purchased, lic.plan)
                          for lic in org.licences))


def import_orgs(session: Session, entries: list[OrgEntry], *, replace_all: bool = False,
                dry_run: bool = False, report: list[OrgReport] | None = None
                ) -> tuple[int, int]:
    """Upsert by INN (or by name without one), merging what each entry carries into
    what is stored (`org_merge`; `replace_all`: the entry is the whole truth). Returns
    (created, updated); `report` gets each organisation's changes; `dry_run` writes
    nothing."""
    created = updated = 0
    for e in entries:
        q = select(Org).where(Org.inn == e.inn) if e.inn else \
            select(Org).where(Org.name == e.name, Org.inn.is_(None))
        org = session.scalar(q)
        before = _state(org) if org is not None else None
        after = merge(before, e, replace_all=replace_all)
        lines = changes(before, after)
        created, updated = created + (org is None), updated + (org is not None)
        if report is not None:
            label = f"{after.name} (ИНН {after.inn})" if after.inn else after.name
            status = "new" if org is None else "update" if lines else "unchanged"
            report.append(OrgReport(label, status, tuple(lines)))
        if dry_run or (org is not None and not lines):
            continue
        if org is None:
            org = Org(name=after.name, category=after.category)
            session.add(org)
        org.name, org.category, org.inn, org.ogrn = (after.name, after.category, after.inn,
                                                     after.ogrn)
        org.emails, org.domains, org.logins = (list(after.emails), list(after.domains),
                                               list(after.logins))
        org.licences = [Licence(product=lic.product, edition=lic.edition,
                                purchased=lic.purchased, plan=lic.plan) for lic in after.licences]
        org.addresses = ([OrgAddress(kind="email", value=v) for v in after.emails]
                         + [OrgAddress(kind="domain", value=v) for v in after.domains]
                         + [OrgAddress(kind="login", value=v) for v in after.logins])
    return created, updated


@dataclass(frozen=True)
class Identification:
    org: Org | None
    how: str  # email | domain | inn | ogrn | login | "" (unknown)

    @property
    def entitled(self) -> bool:
        """§5.8: a commercial level only for a letter from a registered address."""
        return self.org is not None and self.how in ("email", "domain")


# Identification runs for every letter of a new ticket, so its statements are built once
# and select plain columns (Core): an ORM `Org` is loaded only for the org found.
_ADDRESS = OrgAddress.__table__.c
_ORG = Org.__table__.c
# The org of a sender's address or domain; `identify` prefers the address.
_BY_ADDRESS = select(_ADDRESS.kind, _ADDRESS.org_id).where(or_(
    and_(_ADDRESS.kind == "email", _ADDRESS.value == bindparam("email")),
    and_(_ADDRESS.kind == "domain", _ADDRESS.value == bindparam("domain")),
)).order_by(_ADDRESS.id)
# The orgs that the INNs, OGRNs and logins found in a letter name: kind, the value
# matched, the org, and the row's id (the first registered wins a tie).
_BY_MENTION = union_all(
    select(literal_column("'inn'"), _ORG.inn, _ORG.id, _ORG.id)
    .where(_ORG.inn.in_(bindparam("inn", expanding=True))),
    select(literal_column("'ogrn'"), _ORG.ogrn, _ORG.id, _ORG.id)
    .where(_ORG.ogrn.in_(bindparam("ogrn", expanding=True))),
    select(literal_column("'login'"), _ADDRESS.value, _ADDRESS.org_id, _ADDRESS.id)
    .where(_ADDRESS.kind == "login", _ADDRESS.value.in_(bindparam("login", expanding=True))),
)
_MENTION_ORDER = ("inn", "ogrn", "login")


def identify(session: Session, sender: str, text: str) -> Identification:
    """The sender's org: by its registered address, else its domain, else the first INN
    in the text that is registered, else the first OGRN, else the first login."""
    sender = sender.lower()
    domain = sender.rpartition("@")[2]
    # NULL equals nothing: an empty address or domain is not looked up.
    registered = session.execute(
        _BY_ADDRESS, {"email": sender or None, "domain": domain or None}).all()
    for kind in ("email", "domain"):
        org_id = next((org_id for k, org_id in registered if k == kind), None)
        if org_id is not None:
            return Identification(session.get(Org, org_id), kind)
    found = {"inn": find_inns(text), "ogrn": find_ogrns(text),
             "login": [login.lower() for login in find_logins(text)]}
    if not any(found.values()):
        return Identification(None, "")
    named = session.execute(_BY_MENTION, found).all()
    if not named:
        return Identification(None, "")
    kind, _value, org_id, _row_id = min(named, key=lambda row: (
        _MENTION_ORDER.index(row[0]), found[row[0]].index(row[1]), row[3]))
    return Identification(session.get(Org, org_id), kind)


VIP_PRODUCTS = ("организатор эдо v.3", "оператор эдо v.3")


def level_for(category: str | None, entitled: bool, vip: bool, emergency: bool,
              default: str) -> str:
    """The SLA level of a new ticket (§3): pure, so every combination is tested.

    Emergencies (§3.1, §3.3) are open to every entitled partner and licensee; a VIP
    licensee keeps VIP when it is faster than the operational level."""
    if category in ("user", "demo"):
        return "noncommercial"
    if not entitled or category not in ("partner", "licensee"):
        return default
    if category == "partner":
        return "partner-operational" if emergency else "partner-standard"
    if vip:
        return "licensee-vip"
    return "licensee-operational" if emergency else "licensee-standard"


def has_vip(org: Org) -> bool:
    return any(lic.plan == "vip" and lic.product.strip().lower().startswith(VIP_PRODUCTS)
               for lic in org.licences)
