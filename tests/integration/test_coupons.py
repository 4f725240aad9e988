"""Special requests (§3.6): a coupon from a registered address, 12 requests, one year."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from daemon.storage import db
from daemon.storage.models import Coupon
from daemon.tickets import coupons
from daemon.tickets.coupons import check_char, find_codes, issue, new_code
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import PROJECT, Desk, make_desk, simple_letter

SATURDAY_NIGHT = datetime(2026, 11, 28, 23, 0, tzinfo=ZoneInfo("Europe/Moscow"))
CLIENT = "admin@sever.example"


@pytest.fixture(autouse=True)
def _same_codes_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """The codes are drawn from a seeded generator: a run that fails fails again.
    (That no code can change how a letter reads is tests/unit/tickets/
    test_completeness.py's law, over every code.)"""
    import random

    monkeypatch.setattr(coupons, "secrets", random.Random(20))


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    d = make_desk(tmp_path, clock=lambda: SATURDAY_NIGHT)
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
    return d


def coupon_for(desk: Desk, inn: str = "7736207543") -> str:
    with db.unit_of_work(desk.app.sessions) as s:
        return issue(s, inn, SATURDAY_NIGHT).code


def ack(desk: Desk, address: str = CLIENT) -> str:
    m = [m for m in desk.sent() if address in str(m["To"])][-1]
    return str(m.get_body(("plain",)).get_content())


def test_a_coupon_makes_a_special_request_with_a_one_hour_clock(desk: Desk) -> None:
    code = coupon_for(desk)
    desk.ingest(simple_letter("Авария на сервере", f"Купон: {code.lower()}. Сервер недоступен.",
                              sender=CLIENT))
    [t] = desk.tickets()
    assert t["sla_level"] == "special"
    assert t["reaction_due"] == "2026-11-28T21:00:00+00:00"  # 1 h, 24/7: Sunday 00:00 MSK
    text = ack(desk)
    assert f"спецобращение по купону {code}: осталось 11 из 12" in text
    assert "телефон +7 000 000-00-01" in text  # the responsible employee's phone (§3.6)


def test_the_thirteenth_request_is_not_special(desk: Desk) -> None:
    code = coupon_for(desk)
    for i in range(13):
        desk.ingest(simple_letter(f"Спецобращение {i}", f"{code} проблема номер {i}",
                                  sender=CLIENT))
    levels = [t["sla_level"] for t in desk.tickets()]
    assert levels.count("special") == 12 and levels[-1] == "licensee-vip"
    # (its ack is held back by the hourly cap; the accounting says why)
    assert "использованы все 12 спецобращений" in desk.inbound()[-1][1]


def test_a_coupon_from_an_unregistered_address_is_refused(desk: Desk) -> None:
    code = coupon_for(desk)
    desk.ingest(simple_letter("Срочно", f"Купон {code}", sender="someone@gmail.example"))
    assert desk.tickets()[0]["sla_level"] == "consultation"
    real = ack(desk, "someone@gmail.example")
    assert "только в письме с адреса, зарегистрированного" in real
    with desk.app.sessions() as s:
        assert s.query(Coupon).one().requests_used == 0
    # No oracle for strangers: a made-up code reads exactly as the real one does.
    fake = coupons.new_code()  # well formed, its check character right, never issued
    desk.ingest(simple_letter("Срочно", f"Купон {fake}", sender="other@gmail.example"))
    made_up = ack(desk, "other@gmail.example").replace(fake, code)

    def same(text: str) -> list[str]:  # but for its TID and who answers it
        return [re.sub(r"SD-\d+", "TID", line) for line in text.splitlines()
                if not line.startswith("Ответственный сотрудник")]

    assert same(made_up) == same(real)
    assert "не найден" not in made_up and "ООО" not in made_up.split("С уважением")[0]


def test_renewal_revokes_the_old_coupon(desk: Desk) -> None:
    old = coupon_for(desk)
    new = coupon_for(desk)
    desk.ingest(simple_letter("Вопрос", f"Купон {old}", sender=CLIENT))
    assert desk.tickets()[0]["sla_level"] == "licensee-vip"
    assert "заменён новым" in ack(desk)
    desk.ingest(simple_letter("Вопрос 2", f"Купон {new}", sender=CLIENT))
    assert desk.tickets()[1]["sla_level"] == "special"


def test_only_licensees_of_the_edo_programs_get_coupons(desk: Desk) -> None:
    from daemon.tickets.coupons import CouponError

    with pytest.raises(CouponError, match="7813045579"), \
            db.unit_of_work(desk.app.sessions) as s:
        issue(s, "7813045579", SATURDAY_NIGHT)  # a partner


def test_codes_carry_a_check_character() -> None:
    for _ in range(200):
        code = new_code()
        assert find_codes(f"Купон: {code}") == [code]
        body = code.replace("SPC-", "").replace("-", "")
        assert check_char(body[:11]) == body[11]
        typo = code[:-1] + ("A" if code[-1] != "A" else "B")
        assert find_codes(typo) == []


def test_the_cli_issues_and_lists(tmp_path: Path) -> None:
    d = make_desk(tmp_path)
    run = [sys.executable, "-m", "daemon.cli", "--config", str(d.config_path)]
    assert subprocess.run([*run, "orgs", "import", str(PROJECT / "config" / "demo-registry.toml")],
                          capture_output=True, cwd=PROJECT).returncode == 0
    p = subprocess.run([*run, "coupons", "issue", "--inn", "7707083893", "--json"],
                       capture_output=True, cwd=PROJECT)
    assert p.returncode == 0, p.stderr
    issued = json.loads(p.stdout)
    assert issued["requests_total"] == 12 and issued["valid_until"] == "2027-03-01"
    listed = json.loads(subprocess.run([*run, "coupons", "list", "--json"], capture_output=True,
                                       cwd=PROJECT).stdout)
    assert [c["code"] for c in listed] == [issued["code"]]
    bad = subprocess.run([*run, "coupons", "issue", "--inn", "0000000000"], capture_output=True,
                         cwd=PROJECT)
    assert bad.returncode == 65 and b"0000000000" in bad.stderr


def test_dev_on_a_special_request_moves_its_clock_to_working_hours(desk: Desk) -> None:
    code = coupon_for(desk)
    desk.ingest(simple_letter("Авария", f"Купон {code}", sender=CLIENT))
    assert desk.tickets()[0]["reaction_due"] == "2026-11-28T21:00:00+00:00"  # 24/7
    desk.ingest(simple_letter("Re: [SD-000013] Авария", "#dev\n#note\nПодключаем разработчиков.",
                              sender="agent1@example.ru"))
    [t] = desk.tickets()
    assert t["sla_level"] == "special"
    assert t["reaction_due"] == "2026-11-30T08:00:00+00:00"  # Monday 10:00 + 1 working hour


def test_a_renewal_is_valid_a_year_from_the_renewal_and_voids_the_rest(tmp_path: Path) -> None:
    from tests.support.cli_desk import CliDesk, text_of, to

    desk = CliDesk.make(tmp_path)
    desk.ok("orgs", "import", str(PROJECT / "config" / "demo-registry.toml"))
    # АО «Северный ветер»: licence bought 15.06.2026.
    first = desk.at("2026-07-01T12:00+03:00").json("coupons", "issue", "--inn", "7736207543")
    assert first["valid_until"] == "2027-06-15"
    desk.at("2026-07-02T12:00+03:00").ingest(
        simple_letter("Спецобращение", f"Купон {first['code']}", sender=CLIENT))
    renewed = desk.at("2027-06-10T12:00+03:00").json("coupons", "issue", "--inn", "7736207543")
    assert renewed["valid_until"] == "2028-06-10" and renewed["requests_total"] == 12
    listed = {c["code"]: c for c in desk.json("coupons", "list")}
    assert listed[first["code"]]["revoked_at"] and not listed[renewed["code"]]["revoked_at"]
    desk.new_letters()
    desk.at("2027-06-11T12:00+03:00").ingest(
        simple_letter("Старый купон", f"Купон {first['code']}", sender=CLIENT))
    [old] = to(desk.new_letters(), CLIENT)
    assert f"купон {first['code']} заменён новым при продлении поддержки" in text_of(old)
    tid = desk.ingest(simple_letter("Новый купон", f"Купон {renewed['code']}", sender=CLIENT))
    assert desk.ticket(tid)["sla_level"] == "special"
    assert "осталось 11 из 12" in text_of(to(desk.new_letters(), CLIENT)[0])


def test_a_mistyped_code_is_told_to_its_owner_only(desk: Desk) -> None:
    code = coupon_for(desk)
    typo = code[:-1] + ("A" if code[-1] != "A" else "B")
    desk.ingest(simple_letter("Спецобращение", f"Купон {typo}", sender=CLIENT))
    text = ack(desk)
    assert desk.tickets()[0]["sla_level"] == "licensee-vip"
    assert (f"Купон спецобращения не применён: код {typo} не совпадает ни с одним выданным "
            "купоном; пожалуйста, проверьте его") in " ".join(text.split())
    desk.ingest(simple_letter("Спецобращение", f"Купон {typo}", sender="someone@gmail.example"))
    assert "купон" not in ack(desk, "someone@gmail.example").lower()
