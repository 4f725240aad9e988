"""`supportd orgs import` merges (issue 20): a file updates only the fields it carries,
`--replace` makes the file the whole truth of each organisation it names, and
`--dry-run` shows the changes per organisation without writing them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.harness.desk_config import write_config
from tests.conftest import PROJECT
from tests.integration.test_cli import cli

ROMASHKA = "7707083893"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    config = write_config(tmp_path)
    assert cli(config, "db", "upgrade").returncode == 0
    p = cli(config, "orgs", "import", str(PROJECT / "config" / "demo-registry.toml"))
    assert p.returncode == 0, p.stderr
    return config


def org(config: Path, inn: str) -> dict:
    [found] = [o for o in json.loads(cli(config, "orgs", "list", "--json").stdout)
               if o["inn"] == inn]
    return found


def one_row(tmp_path: Path) -> Path:
    f = tmp_path / "one.csv"
    f.write_text("name,category,inn,emails,product,edition,plan\n"
                 f"ООО «Ромашка»,licensee,{ROMASHKA},boss@romashka.example,"
                 "Оператор ЭДО v.3,Стандарт,vip\n", encoding="utf-8")
    return f


def test_a_one_row_csv_leaves_the_other_fields_as_they_were(config: Path,
                                                            tmp_path: Path) -> None:
    before = org(config, ROMASHKA)
    p = cli(config, "orgs", "import", str(one_row(tmp_path)))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "imported 1 organisations: 0 new, 1 updated"
    after = org(config, ROMASHKA)
    assert after["ogrn"] == before["ogrn"] == "1027700132195"
    assert after["domains"] == ["romashka.example"] and after["logins"] == ["romashka-admin"]
    assert after["emails"] == ["it@romashka.example", "boss@romashka.example"]
    assert [(lic["product"], lic["plan"]) for lic in after["licences"]] == [
        ("Организатор ЭДО v.3", "standard"), ("Оператор ЭДО v.3", "vip")]


def test_a_licence_named_again_is_updated_not_doubled(config: Path, tmp_path: Path) -> None:
    f = tmp_path / "vip.toml"
    f.write_text(f'[[org]]\nname = "ООО «Ромашка»"\ncategory = "licensee"\ninn = "{ROMASHKA}"\n'
                 '[[org.licence]]\nproduct = "Организатор ЭДО v.3"\n'
                 'edition = "Корпоративная"\nplan = "vip"\n', encoding="utf-8")
    assert cli(config, "orgs", "import", str(f)).returncode == 0
    after = org(config, ROMASHKA)
    assert [(lic["product"], lic["plan"], lic["purchased"]) for lic in after["licences"]] == [
        ("Организатор ЭДО v.3", "vip", "2026-03-01")]


def test_replace_makes_the_file_the_whole_truth(config: Path, tmp_path: Path) -> None:
    p = cli(config, "orgs", "import", "--replace", str(one_row(tmp_path)))
    assert p.returncode == 0, p.stderr
    after = org(config, ROMASHKA)
    assert after["ogrn"] is None and after["domains"] == [] and after["logins"] == []
    assert after["emails"] == ["boss@romashka.example"]
    assert [lic["product"] for lic in after["licences"]] == ["Оператор ЭДО v.3"]


def test_dry_run_prints_the_changes_and_writes_nothing(config: Path, tmp_path: Path) -> None:
    before = org(config, ROMASHKA)
    new = tmp_path / "new.toml"
    new.write_text('[[org]]\nname = "ООО «Новая»"\ncategory = "user"\n'
                   'emails = ["a@new.example"]\n', encoding="utf-8")
    p = cli(config, "orgs", "import", "--dry-run", str(one_row(tmp_path)))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == f"ООО «Ромашка» (ИНН {ROMASHKA}): update"
    assert "  emails: + boss@romashka.example" in lines
    assert "  licence: + Оператор ЭДО v.3 / Стандарт (vip)" in lines
    assert lines[-1] == "dry run: 1 organisations, 0 new, 1 updated; nothing written"
    assert org(config, ROMASHKA) == before
    p = cli(config, "orgs", "import", "--dry-run", "--replace", str(one_row(tmp_path)))
    assert "  ogrn: 1027700132195 -> (none)" in p.stdout.splitlines()
    assert "  domains: - romashka.example" in p.stdout.splitlines()
    p = cli(config, "orgs", "import", "--dry-run", str(new))
    assert p.stdout.splitlines()[0] == "ООО «Новая»: new"
    assert "ООО «Новая»" not in cli(config, "orgs", "list").stdout
    same = cli(config, "orgs", "import", "--dry-run",
               str(PROJECT / "config" / "demo-registry.toml"))
    assert f"ООО «Ромашка» (ИНН {ROMASHKA}): unchanged" in same.stdout.splitlines()
