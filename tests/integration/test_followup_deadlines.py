"""§2.3, a promise is never moved later (issue 19, item 1): a follow-up storm before
the first reply, driven through the CLI at chosen Moscow times."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from daemon.app import App
from daemon.config import loader as config_mod
from daemon.service.sweep import sweep
from tests.conftest import PROJECT, simple_letter
from tests.support.cli_desk import MSK, CliDesk, text_of, to

CLIENT = "it@romashka.example"  # ООО «Ромашка», licensee, standard: 6 working hours


def sweep_at(desk: CliDesk, moment: datetime) -> tuple[int, int]:
    app = App(config_mod.load(desk.config), clock=lambda: moment)
    try:
        report = sweep(app)
    finally:
        app.close()
    return report.warned, report.breached


def test_a_follow_up_storm_keeps_the_first_deadline(tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path)
    desk.ok("orgs", "import", str(PROJECT / "config" / "demo-registry.toml"))
    tid = desk.at("2026-12-08T11:00+03:00").ingest(  # Tuesday
        simple_letter("Не формируется отчёт", sender=f"Ольга <{CLIENT}>"))
    assert desk.ticket(tid)["sla_level"] == "licensee-standard"
    [ack] = to(desk.new_letters(), CLIENT)
    assert "Срок реакции: до 08.12.2026 17:00 (МСК)" in text_of(ack)
    assert "остаётся прежним" not in text_of(ack)

    # Two follow-ups before anyone answered: their own clocks would end 09.12 13:00
    # and 09.12 14:10; the ticket keeps 08.12 17:00 everywhere.
    for moment, words in (("2026-12-08T15:00+03:00", "Дополняю: ошибка 500 в логе."),
                          ("2026-12-08T16:10+03:00", "Ещё: у коллег то же самое.")):
        desk.at(moment).ingest(simple_letter(f"Re: [{tid}] Не формируется отчёт", words,
                                             sender=f"Ольга <{CLIENT}>"))
        letters = desk.new_letters()
        [followup_ack] = to(letters, CLIENT)
        text = text_of(followup_ack)
        assert "Срок реакции: до 08.12.2026 17:00 (МСК)" in text
        assert "Срок реакции по обращению остаётся прежним" in text
        assert "нерабочее время" not in text
        [note] = to(letters, "agent")
        assert "08.12.2026 17:00" in text_of(note) and "09.12.2026" not in text_of(note)

    t = desk.ticket(tid)
    assert t["reaction_due"] == "2026-12-08T14:00:00+00:00"
    assert [r["due_at"] for r in t["reactions"]] == [
        "2026-12-08T14:00:00+00:00", "2026-12-09T10:00:00+00:00", "2026-12-09T11:10:00+00:00"]
    listed = desk.json("tickets", "list")["tickets"]
    assert [x["reaction_due"] for x in listed] == ["2026-12-08T14:00:00+00:00"]
    assert "08.12.2026 17:00" in desk.ok("tickets", "list")

    # The first deadline's warning (1.5 of 6 hours left) and the head's notice come on
    # the first deadline, not the last one.
    assert sweep_at(desk, datetime(2026, 12, 8, 15, 29, tzinfo=MSK)) == (0, 0)
    assert sweep_at(desk, datetime(2026, 12, 8, 15, 31, tzinfo=MSK)) == (1, 0)
    [warning] = desk.new_letters()
    assert "до 08.12.2026 17:00 (МСК)" in text_of(warning)
    assert sweep_at(desk, datetime(2026, 12, 8, 17, 1, tzinfo=MSK)) == (0, 1)
    breach = desk.new_letters()
    assert {str(m["To"]) for m in breach} >= {"head@example.ru"}
    assert all("08.12.2026 17:00" in text_of(m) for m in breach)
    assert desk.at("2026-12-08T17:02+03:00").ticket(tid)["reaction_state"] == "missed"

    # The reply meets every clock; the next follow-up starts a clock of its own.
    desk.at("2026-12-08T17:30+03:00").ingest(simple_letter(
        f"Re: [{tid}] Не формируется отчёт", "Исправили, проверьте, пожалуйста.",
        sender="agent1@example.ru"))
    assert all(r["met_at"] for r in desk.ticket(tid)["reactions"])
    desk.at("2026-12-09T10:00+03:00").ingest(simple_letter(
        f"Re: [{tid}] Не формируется отчёт", "Теперь другая ошибка: 404.",
        sender=f"Ольга <{CLIENT}>"))
    assert desk.ticket(tid)["reaction_due"] == "2026-12-09T13:00:00+00:00"  # 09.12 16:00
    assert sweep_at(desk, datetime(2026, 12, 9, 14, 31, tzinfo=MSK)) == (1, 0)
