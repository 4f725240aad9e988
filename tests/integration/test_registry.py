"""Who wrote (§5.8) and the level they are owed (§3), with the registry loaded."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.storage import db
from daemon.tickets.registry import RegistryError, import_orgs, level_for, load_file
from tests.conftest import PROJECT, Desk, make_desk, simple_letter

TUESDAY_11 = datetime(2026, 11, 24, 11, 0, tzinfo=ZoneInfo("Europe/Moscow"))


@pytest.fixture
def registered(tmp_path: Path) -> Desk:
    d = make_desk(tmp_path, clock=lambda: TUESDAY_11)
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
    return d


def ack_text(desk: Desk, address: str) -> str:
    [ack] = [m for m in desk.sent() if address in str(m["To"])]
    return str(ack.get_body(("plain",)).get_content())


@pytest.mark.parametrize(("sender", "level", "due_msk"), [
    ("it@romashka.example", "licensee-standard", "24.11.2026 17:00"),
    ("buh@romashka.example", "licensee-standard", "24.11.2026 17:00"),  # registered domain
    ("admin@sever.example", "licensee-vip", "24.11.2026 13:00"),
    ("support@vector-soft.example", "partner-standard", "24.11.2026 16:00"),
    ("petrov@mail.example", "noncommercial", "27.11.2026 11:00"),
    ("stranger@nowhere.example", "consultation", "01.12.2026 11:00"),
])
def test_the_level_follows_the_registered_sender(registered: Desk, sender: str, level: str,
                                                 due_msk: str) -> None:
    registered.ingest(simple_letter("Вопрос", sender=sender))
    [t] = registered.tickets()
    assert t["sla_level"] == level
    assert f"Срок реакции: до {due_msk} (МСК)" in ack_text(registered, sender)
    if level != "consultation":
        assert t["org"]["identified_by"] in ("email", "domain")


def test_an_inn_from_an_unregistered_address_names_the_org_but_not_the_level(
        registered: Desk) -> None:
    """Staff see the organisation the INN names; the stranger's acknowledgement does not
    (issue 21: no oracle), it says what entitles a sender, as to anyone unknown."""
    registered.ingest(simple_letter("Вопрос", "Наша организация ИНН 7707083893, вопрос по "
                                    "https://edo.example версии 3.14.",
                                    sender="boss@gmail.example"))
    [t] = registered.tickets()
    assert t["org"]["name"] == "ООО «Ромашка»" and t["org"]["identified_by"] == "inn"
    assert t["sla_level"] == "consultation"
    text = ack_text(registered, "boss@gmail.example")
    assert "Ромашка" not in text
    assert "напишите, пожалуйста, с зарегистрированного адреса" in text


def test_an_urgent_letter_from_a_licensee_gets_operational_support(registered: Desk) -> None:
    registered.ingest(simple_letter("СРОЧНО: не работает сервер", sender="it@romashka.example",
                                    X_Priority="1 (Highest)"))
    [t] = registered.tickets()
    assert t["sla_level"] == "licensee-operational" and t["emergency"]
    assert "экстренное" in ack_text(registered, "it@romashka.example")


def test_an_urgent_letter_from_a_stranger_stays_consultation(registered: Desk) -> None:
    registered.ingest(simple_letter("СРОЧНО!!!", sender="x@nowhere.example", Importance="high"))
    assert registered.tickets()[0]["sla_level"] == "consultation"


@pytest.mark.parametrize(("category", "entitled", "vip", "urgent", "level"), [
    ("partner", True, False, False, "partner-standard"),
    ("partner", True, False, True, "partner-operational"),
    ("partner", True, True, False, "partner-standard"),
    ("partner", False, False, True, "consultation"),
    ("licensee", True, False, False, "licensee-standard"),
    ("licensee", True, False, True, "licensee-operational"),
    ("licensee", True, True, False, "licensee-vip"),
    ("licensee", True, True, True, "licensee-vip"),  # 2 h beats operational 4 h
    ("licensee", False, True, True, "consultation"),
    ("user", False, False, True, "noncommercial"),
    ("demo", True, False, False, "noncommercial"),
    (None, False, False, True, "consultation"),
])
def test_level_rules(category: str | None, entitled: bool, vip: bool, urgent: bool,
                     level: str) -> None:
    assert level_for(category, entitled, vip, urgent, "consultation") == level


@pytest.mark.parametrize(("text", "error"), [
    ('[[org]]\nname = "A"\ncategory = "vendor"', "org[0].category"),
    ('[[org]]\nname = "A"\ncategory = "licensee"\ninn = "7707083890"', "org[0].inn"),
    ('[[org]]\nname = "A"\ncategory = "licensee"\nogrn = "1027700132190"', "org[0].ogrn"),
    ('[[org]]\ncategory = "licensee"', "org[0].name"),
    ('[[org]]\nname = "A"\ncategory = "user"\nemails = ["nobody"]', "org[0].emails"),
    ('[[org]]\nname = "A"\ncategory = "licensee"\n[[org.licence]]\nproduct = "X"\nplan = "gold"',
     "org[0].licence[0].plan"),
])
def test_a_bad_registry_entry_is_named(tmp_path: Path, text: str, error: str) -> None:
    f = tmp_path / "r.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(RegistryError, match=error.replace("[", r"\[").replace("]", r"\]")):
        load_file(f)


def test_csv_rows_of_one_org_merge_and_import_twice_updates(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text("name,category,inn,ogrn,emails,domains,logins,product,edition,purchased,plan\n"
                 "ООО «Ромашка»,licensee,7707083893,1027700132195,it@romashka.example,"
                 "romashka.example,,Организатор ЭДО v.3,Корп,2026-03-01,standard\n"
                 "ООО «Ромашка»,licensee,7707083893,1027700132195,it@romashka.example,"
                 "romashka.example,,Оператор ЭДО v.3,Корп,2026-04-01,vip\n", encoding="utf-8")
    entries = load_file(f)
    assert len(entries) == 1 and [lic.plan for lic in entries[0].licences] == ["standard", "vip"]
    d = make_desk(tmp_path / "desk")
    with db.unit_of_work(d.app.sessions) as s:
        assert import_orgs(s, entries) == (1, 0)
    with db.unit_of_work(d.app.sessions) as s:
        assert import_orgs(s, entries) == (0, 1)
