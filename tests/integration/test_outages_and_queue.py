"""§2.1/§3.1/§3.3 (issue 19, item 3): an outage described without «срочно» or
«авария» is proposed as operational support, and `tickets list --queue` shows the
order the desk serves tickets in. Driven through the CLI at chosen moments."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PROJECT, simple_letter
from tests.support.cli_desk import CliDesk, text_of, to

PARTNER = "support@vector-soft.example"  # ООО «Вектор Софт», partner
LICENSEE = "it@romashka.example"  # ООО «Ромашка», licensee, standard


def test_outages_are_proposed_as_emergencies_and_the_queue_serves_them_first(
        tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path)
    desk.ok("orgs", "import", str(PROJECT / "config" / "demo-registry.toml"))
    a = desk.at("2026-12-08T10:00+03:00").ingest(simple_letter(
        "Настройка роуминга", "Подскажите, как настроить роуминг с другим оператором?",
        sender=LICENSEE))
    b = desk.at("2026-12-08T10:05+03:00").ingest(simple_letter(
        "DiServer не работает", "DiServer полностью не работает.", sender="ivan@client.example"))
    c = desk.at("2026-12-08T10:10+03:00").ingest(simple_letter(
        "DiServer", "Добрый день! DiServer v.3 полностью не работает после перезагрузки.",
        sender=PARTNER))
    d = desk.at("2026-12-08T10:20+03:00").ingest(simple_letter(
        "Вход в систему", "Все пользователи не могут войти в систему ЭДО.", sender=LICENSEE))
    letters = desk.new_letters()

    levels = {tid: desk.ticket(tid)["sla_level"] for tid in (a, b, c, d)}
    assert levels == {a: "licensee-standard", b: "consultation", c: "partner-operational",
                      d: "licensee-operational"}  # a stranger's outage is no emergency
    [ack_c] = [m for m in to(letters, PARTNER)]
    assert "Вы сообщили о сбое, при котором работа с программой невозможна" in text_of(ack_c)
    assert "Срок реакции: до 08.12.2026 13:10 (МСК)" in text_of(ack_c)  # 3 working hours
    note_c = [m for m in to(letters, "agent") if c in str(m["Subject"])][0]
    assert "описывает полный отказ («DiServer v.3 полностью не работает»)" in text_of(note_c)
    assert "(#urgent)" in text_of(note_c) and "(#standard)" in text_of(note_c)
    [ack_b] = to(letters, "ivan@client.example")
    assert "оперативной поддержки" not in text_of(ack_b)

    queue = desk.json("tickets", "list", "--queue")
    assert [t["tid"] for t in queue["tickets"]] == [c, d, a, b]
    assert [t["position"] for t in queue["tickets"]] == [1, 2, 3, 4]
    assert queue["total"] == 4 and queue["tickets"][0]["emergency"] is True

    # Staff confirm one and downgrade the other, as on the keyword path.
    desk.at("2026-12-08T10:30+03:00").ingest(simple_letter(
        f"Re: [{c}] DiServer", "#urgent\nЗанимаемся, перезвоним.", sender="agent1@example.ru"))
    desk.at("2026-12-08T10:31+03:00").ingest(simple_letter(
        f"Re: [{d}] Вход в систему", "#standard", sender="agent1@example.ru"))
    assert desk.ticket(c)["sla_level"] == "partner-operational"
    assert desk.ticket(d)["sla_level"] == "licensee-standard"
    assert desk.ticket(d)["reaction_due"] == "2026-12-08T13:20:00+00:00"  # 10:20 + 6 h
    # c was answered and is still open: after the emergencies, by deadline and arrival.
    queue = desk.json("tickets", "list", "--queue")
    assert [t["tid"] for t in queue["tickets"]] == [c, a, d, b]
    text = desk.ok("tickets", "list", "--queue")
    assert text.splitlines()[0] == "4 tickets in the queue"
    assert text.splitlines()[1].split()[:3] == ["1", "!", c]
    # --status picks its tickets out of the queue, each at its place in the whole queue
    # (d's #standard was a command, not an answer: d is still new).
    fresh = desk.json("tickets", "list", "--queue", "--status", "new")
    assert [(t["tid"], t["position"]) for t in fresh["tickets"]] == [(a, 2), (d, 3), (b, 4)]
    assert desk.ok("tickets", "list", "--queue", "--status", "open").splitlines()[:2] == [
        "1 ticket open in the queue", f"   1 ! {c}  open   partner-operational    "
        f"08.12.2026 13:10  {PARTNER}  DiServer"]
    p = desk.run("tickets", "list", "--queue", "--status", "closed")
    assert p.returncode == 64 and "not closed ones" in p.stderr
    desk.at("2026-12-08T11:00+03:00").ingest(simple_letter(
        f"Re: [{a}] Настройка роуминга", "#close\nИнструкция во вложении.",
        sender="agent1@example.ru"))
    assert [t["tid"] for t in desk.json("tickets", "list", "--queue")["tickets"]] == [c, d, b]
