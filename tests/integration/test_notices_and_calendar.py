"""§7 and §2.1 (issue 19, item 4): the desk says when its hours change. Notices in
their window, a shortened day that moves a deadline described with its real hours,
and `calendar show YEAR`; driven through the CLI at chosen moments."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PROJECT, simple_letter
from tests.support.cli_desk import CliDesk, text_of, to

CLIENT = "it@romashka.example"  # licensee, standard: 6 working hours
NEW_YEAR = ("С 31 декабря 2026 года по 10 января 2027 года служба поддержки не работает; "
            "30 декабря она работает с 10:00 до 15:00.")
HOLIDAYS = f"""
[calendar.overrides]
"2026-12-30" = "10:00-15:00"

[[notice]]
from = 2026-12-25
to = 2027-01-11
text = "{NEW_YEAR}"

[[notice]]
from = "2026-12-30T15:00"
to = "2026-12-30T23:59"
text = "30 декабря с 20:00 до 22:00 возможны перерывы в работе почты: плановые работы."
"""


def test_a_notice_and_a_shortened_day_are_told_in_the_acknowledgement(tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path, extra=HOLIDAYS)
    desk.ok("orgs", "import", str(PROJECT / "config" / "demo-registry.toml"))

    # 21.12: before the window, an ordinary deadline; no notice, no schedule.
    desk.at("2026-12-21T11:00+03:00").ingest(simple_letter("Вопрос", sender=CLIENT))
    [ack] = to(desk.new_letters(), CLIENT)
    assert "Срок реакции: до 21.12.2026 17:00 (МСК)" in text_of(ack)
    assert "С 31 декабря" not in text_of(ack) and "изменений в графике" not in text_of(ack)

    # 30.12, 11:00: 4 hours left of a 15:00 day, then the New Year days off.
    tid = desk.at("2026-12-30T11:00+03:00").ingest(simple_letter("Отчёт", sender=CLIENT))
    assert desk.ticket(tid)["reaction_due"] == "2027-01-11T09:00:00+00:00"
    [ack] = to(desk.new_letters(), CLIENT)
    text = " ".join(text_of(ack).split())
    assert "Срок реакции: до 11.01.2027 12:00 (МСК)" in text
    assert ("Срок реакции рассчитан с учётом изменений в графике работы: "
            "— 30.12.2026 (ср): изменённый график службы поддержки, с 10:00 до 15:00; "
            "— 31.12.2026 (чт): выходной день (перенос); "
            "— 01.01.2027 (пт): нерабочий праздничный день;") in text
    assert "— 08.01.2027 (пт): нерабочий праздничный день." in text
    assert "02.01.2027" not in text  # a Saturday is a day off anyway
    assert "С 31 декабря 2026 года по 10 января 2027 года служба поддержки не работает" in text
    assert "плановые работы" not in text  # its window opens at 15:00
    html = ack.get_body(("html",)).get_content()
    assert "<li>30.12.2026 (ср): изменённый график службы поддержки, с 10:00 до 15:00</li>" in html

    desk.at("2026-12-30T16:00+03:00").ingest(simple_letter("Ещё вопрос", sender=CLIENT))
    [ack] = to(desk.new_letters(), CLIENT)
    assert "плановые работы" in text_of(ack) and "С 31 декабря" in text_of(ack)


def test_a_bad_notice_is_named_by_check_config(tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path)
    bad = desk.config.read_text(encoding="utf-8") + \
        '\n[[notice]]\nfrom = 2026-12-31\nto = 2026-12-30\ntext = "Перерыв"\n'
    desk.config.write_text(bad, encoding="utf-8")
    p = desk.run("check-config")
    assert p.returncode == 78 and "notice[0].to" in p.stderr


def test_calendar_show_a_year(tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path, extra=HOLIDAYS)
    data = desk.json("calendar", "show", "2026")
    # The production calendar of 2026 (40-hour week): 247 working days, 1972 hours;
    # the override of 30.12 takes 3 of them.
    assert (data["working_days"], data["working_hours"]) == (247, 1969.0)
    by_date = {d["date"]: d for d in data["days"]}
    assert len(by_date) == 365
    assert by_date["2026-11-03"] == {"date": "2026-11-03", "kind": "preholiday",
                                     "working": True, "start": "10:00", "end": "17:00"}
    assert by_date["2026-12-30"]["kind"] == "override" and by_date["2026-12-30"]["end"] == "15:00"
    assert by_date["2026-12-31"]["working"] is False
    assert [m["working_days"] for m in data["months"]] == \
        [15, 19, 21, 22, 19, 21, 23, 21, 22, 22, 20, 22]
    text = desk.ok("calendar", "show", "2026")
    assert text.startswith("2026: 247 working days, 1969 working hours")
    assert "2026-04-30 Thu  10:00-17:00  preholiday" in text
    assert "2026-12-30 Wed  10:00-15:00  override" in text
    assert "2026-07-01" not in text  # an ordinary day
