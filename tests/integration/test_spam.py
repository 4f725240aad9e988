"""Spam before any answer (issue 18, regulation §5.11), against a real rspamd.

GTUBE is the spam every filter knows. A letter judged spam opens no ticket and gets
no acknowledgement (an answer would go to whoever its forged From names); it waits
whole in the quarantine until staff release it, by `supportd spam release` or by
`#release` in a reply, and is then registered as if it had just arrived: ticket,
acknowledgement, and a reaction clock from the release. The `headers` backend
believes only what our MTA wrote above its Received line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog

from daemon.cli.main import main as cli
from daemon.pipeline import runner
from daemon.storage import db
from daemon.storage.models import Inbound
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import PROJECT, Clock, Desk, make_desk, simple_letter
from tests.support.scanners import GTUBE, Rspamd

MSK = ZoneInfo("Europe/Moscow")
TUESDAY_11 = datetime(2026, 11, 24, 11, 0, tzinfo=MSK)
SPAMMER = "Лучшие цены <offers@bulk.example>"


def spam_config(server: Rspamd) -> str:
    # rspamd here knows no DNS (a stub says NXDOMAIN to all), which costs a plain
    # letter a few points: the thresholds sit above that, GTUBE (15) above both.
    return (f'[spam]\nbackend = "rspamd"\nrspamd_url = "{server.url}"\n'
            f'rspamd_controller_url = "{server.controller}"\n'
            'hold_score = 12.0\nreject_score = 15.0\nkeep_days = 7\n')


@pytest.fixture
def clock() -> Clock:
    return Clock(TUESDAY_11)


@pytest.fixture
def desk(tmp_path: Path, rspamd_server: Rspamd, clock: Clock) -> Iterator[Desk]:
    d = make_desk(tmp_path, extra=spam_config(rspamd_server), clock=clock)
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
    yield d
    d.app.close()


def run_cli(desk: Desk, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`supportd spam ...`, on the desk's App (its clock: the release is "now")."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("daemon.cli.spam._app", lambda _args: desk.app)
        mp.setattr("daemon.cli.main.logs.configure", lambda _cfg: None)  # keep the test's
        code = cli(["--config", str(desk.config_path), *args])
    return code, capsys.readouterr().out


def held(desk: Desk, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    code, out = run_cli(desk, capsys, "spam", "list", "--json")
    assert code == 0
    return list(json.loads(out)["letters"])


def body(m) -> str:  # type: ignore[no-untyped-def]
    return str(m.get_body(("plain",)).get_content())


def test_gtube_is_held_unanswered_then_released_and_answered_from_the_release(
        desk: Desk, clock: Clock, capsys: pytest.CaptureFixture[str]) -> None:
    result = desk.ingest(simple_letter("Выгодное предложение", GTUBE, sender=SPAMMER))
    assert result.outcome == "held"  # type: ignore[attr-defined]
    assert desk.tickets() == [] and desk.sent() == []
    [entry] = held(desk, capsys)
    assert entry["from"] == "offers@bulk.example" and entry["verdict"]["score"] >= 15
    assert "GTUBE" in entry["verdict"]["symbols"] and entry["level"] == "reject"
    with desk.app.sessions() as s:
        [row] = s.query(Inbound).all()
        assert row.outcome == "held" and row.spam["backend"] == "rspamd"  # type: ignore[index]

    clock.now = TUESDAY_11 + timedelta(hours=4)  # staff look at it at 15:00
    code, out = run_cli(desk, capsys, "spam", "release", entry["id"])
    assert code == 0 and "released" in out
    assert held(desk, capsys) == []
    runner.drain(desk.app)

    [t] = desk.tickets()
    released_at = clock.now
    _, due = desk.app.sla.deadline(t["sla_level"], released_at)
    assert datetime.fromisoformat(t["received_at"]) == released_at
    assert datetime.fromisoformat(t["reaction_due"]) == due
    assert t["spam"]["backend"] == "rspamd" and t["spam"]["quarantine"] == entry["id"]
    assert datetime.fromisoformat(t["spam"]["arrived_at"]) == TUESDAY_11
    [ack] = [m for m in desk.sent() if "offers@bulk.example" in str(m["To"])]
    assert t["tid"] in str(ack["Subject"]) and "зарегистрировано" in body(ack)
    due_msk = due.astimezone(MSK).strftime("%d.%m.%Y")
    assert due_msk in body(ack)
    note = next(m for m in desk.sent() if "agent" in str(m["To"]))
    assert "выпущено из карантина" in body(note)


def test_a_plain_letter_passes_with_its_verdict_shown(desk: Desk) -> None:
    desk.ingest(simple_letter("Не работает выгрузка", sender="ivan@client.example"))
    [t] = desk.tickets()
    assert t["spam"]["backend"] == "rspamd" and t["spam"]["score"] < 12
    assert t["spam"]["action"] and isinstance(t["spam"]["symbols"], list)
    assert t["messages"][0]["spam"] == t["spam"]
    note = next(m for m in desk.sent() if "agent" in str(m["To"]))
    assert "Проверка на спам (rspamd): оценка" in body(note)


def test_staff_list_and_release_by_mail(desk: Desk) -> None:
    desk.ingest(simple_letter("Не работает выгрузка", sender="ivan@client.example"))
    [t] = desk.tickets()
    desk.ingest(simple_letter("Выгодное предложение", GTUBE, sender=SPAMMER))
    staff = "agent1@example.ru"
    desk.ingest(simple_letter(f"Re: [{t['tid']}] Не работает выгрузка", "#spam", sender=staff))
    [listing] = [m for m in desk.sent() if staff in str(m["To"])
                 and "Карантин" in str(m["Subject"])]
    text = body(listing)
    assert "offers@bulk.example" in text and "Выгодное предложение" in text
    qid = next(line.split()[0] for line in text.splitlines()
               if line[:10].isalnum() and len(line.split()[0]) == 10)
    desk.ingest(simple_letter(f"Re: [{t['tid']}] Карантин писем", f"#release {qid}",
                              sender=staff))
    runner.drain(desk.app)
    tickets = desk.tickets()
    assert len(tickets) == 2 and tickets[1]["requester"] == "offers@bulk.example"
    assert tickets[1]["spam"]["released_by"] == staff
    assert any("offers@bulk.example" in str(m["To"]) for m in desk.sent())


def test_a_follow_up_judged_spam_is_held_not_appended(desk: Desk) -> None:
    desk.ingest(simple_letter("Не работает выгрузка", sender="ivan@client.example"))
    [t] = desk.tickets()
    before = len(desk.sent())
    r = desk.ingest(simple_letter(f"Re: [{t['tid']}] Не работает выгрузка", GTUBE,
                                  sender="ivan@client.example"))
    assert r.outcome == "held"  # type: ignore[attr-defined]
    [after] = desk.tickets()
    assert len(after["messages"]) == len(t["messages"]) and len(desk.sent()) == before
    [entry] = desk.app.quarantine.entries()
    assert entry["ticket"] == t["tid"]


def test_an_unknown_quarantine_id_is_refused(desk: Desk,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(desk, capsys, "spam", "release", "0123456789")[0] == 69
    assert run_cli(desk, capsys, "spam", "show", "nonsense")[0] == 69


# ---------------------------------------------------------------- backend = "headers"

OUTSIDE_HOP = (b"Received: from mail.bulk.example (mail.bulk.example [203.0.113.9]) by "
               b"mx.example.ru (Postfix) with ESMTPS id 4AbC; Tue, 24 Nov 2026 11:00:00 +0300"
               b"\r\n")


@pytest.fixture
def headers_desk(tmp_path: Path, clock: Clock) -> Iterator[Desk]:
    d = make_desk(tmp_path, extra='[spam]\nbackend = "headers"\nhold_score = 6.0\n'
                                  'reject_score = 20.0\n', clock=clock)
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
    yield d
    d.app.close()


def test_a_forged_clean_flag_below_our_hop_is_not_believed(headers_desk: Desk) -> None:
    ours = b"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=9.1 required=6.0 tests=GTUBE\r\n"
    forged = simple_letter("Выгодное предложение", GTUBE, sender=SPAMMER,
                           X_Spam_Flag="NO", X_Spam_Status="No, score=-10.0")
    r = headers_desk.ingest(ours + OUTSIDE_HOP + forged)
    assert r.outcome == "held"  # type: ignore[attr-defined]
    [entry] = headers_desk.app.quarantine.entries()
    assert entry["verdict"]["score"] == 9.1 and entry["verdict"]["backend"] == "headers"
    assert headers_desk.tickets() == [] and headers_desk.sent() == []


def test_a_spam_flag_the_sender_wrote_is_not_believed_either(headers_desk: Desk) -> None:
    prank = simple_letter("Не работает выгрузка", sender="ivan@client.example",
                          X_Spam_Flag="YES", X_Spam_Status="Yes, score=50.0")
    r = headers_desk.ingest(OUTSIDE_HOP + prank)
    assert r.outcome == "ticket"  # type: ignore[attr-defined]
    [t] = headers_desk.tickets()
    assert t["spam"]["action"] == "no verdict" and t["spam"]["score"] is None


def test_the_flag_from_our_trusted_hop_is_believed(headers_desk: Desk) -> None:
    ours = b"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=7.0 required=6.0 tests=X\r\n"
    r = headers_desk.ingest(ours + OUTSIDE_HOP + simple_letter("Скидки", sender=SPAMMER))
    assert r.outcome == "held"  # type: ignore[attr-defined]


def test_a_proven_registered_client_is_answered_below_reject(headers_desk: Desk) -> None:
    mta = (b"Authentication-Results: mx.example.ru; dkim=pass header.d=romashka.example; "
           b"dmarc=pass header.from=romashka.example\r\n"
           b"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=11.0 required=6.0 tests=X\r\n")
    letter = simple_letter("Не работает выгрузка", sender="it@romashka.example",
                           authenticated=False)
    r = headers_desk.ingest(mta + OUTSIDE_HOP + letter)
    assert r.outcome == "ticket"  # type: ignore[attr-defined]
    [t] = headers_desk.tickets()
    assert t["spam"]["score"] == 11.0 and "похоже на спам" in t["attention_reason"]
    assert any("it@romashka.example" in str(m["To"]) for m in headers_desk.sent())
    big = mta.replace(b"score=11.0", b"score=25.0")
    r = headers_desk.ingest(big + OUTSIDE_HOP + simple_letter(
        "Ещё вопрос", sender="it@romashka.example", authenticated=False))
    assert r.outcome == "held"  # type: ignore[attr-defined]


def test_rspamd_away_the_letter_waits_then_goes_through_not_checked(
        tmp_path: Path, clock: Clock) -> None:
    from bench.harness.desk_config import free_port

    d = make_desk(tmp_path, extra=f'[spam]\nbackend = "rspamd"\nrspamd_url = '
                                  f'"http://127.0.0.1:{free_port()}"\ntimeout = "2s"\n'
                                  'max_wait = "30m"\n', clock=clock)
    d.app.scanners.pause = 0
    r = d.ingest(simple_letter("Не работает выгрузка", sender="ivan@client.example"))
    assert r.outcome == "waiting"  # type: ignore[attr-defined]
    assert d.tickets() == [] and d.sent() == [] and len(d.app.spool.pending()) == 1
    clock.now += timedelta(minutes=31)
    assert [x.outcome for x in runner.drain(d.app)] == ["ticket"]
    [t] = d.tickets()
    assert t["spam"]["checked"] is False and t["spam"]["action"] == "not checked"
    assert "не проверено на спам" in t["attention_reason"]
    assert any("ivan@client.example" in str(m["To"]) for m in d.sent())
    d.app.close()


def test_probe_asks_each_configured_scanner(tmp_path: Path, rspamd_server: Rspamd,
                                            clamd_server: object,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from bench.harness.desk_config import free_port
    from daemon.cli.probe import probe
    from daemon.config import loader

    d = make_desk(tmp_path, extra=spam_config(rspamd_server)
                  + f'[antivirus]\nclamd = "{clamd_server.address}"\n')  # type: ignore[attr-defined]
    saved = structlog.get_config()  # probe() quiets structlog for the process: put it back
    try:
        assert probe(d.app.config) == 0
    finally:
        structlog.configure(**saved)
    out = capsys.readouterr().out
    assert f"rspamd: {rspamd_server.url}: pong" in out and "clamd: tcp:127.0.0.1" in out
    assert "PONG, ClamAV" in out
    away = tmp_path / "away"
    cfg = loader.load(make_desk(away, extra=f'[antivirus]\nclamd = "tcp:127.0.0.1:{free_port()}"'
                                            '\n').config_path)
    try:
        assert probe(cfg) == 75
    finally:
        structlog.configure(**saved)
    assert "clamd: unreachable" in capsys.readouterr().err
    d.app.close()


def test_a_release_and_spam_tid_teach_rspamd(desk: Desk, rspamd_server: Rspamd) -> None:
    if not rspamd_server.learns:
        pytest.skip("redis-server not installed: rspamd keeps its Bayes in Redis")
    desk.ingest(simple_letter("Купите рекламу", "Лучшие цены на рекламу в интернете, "
                              "звоните прямо сейчас!", sender="ads@bulk.example"))
    [t] = desk.tickets()
    desk.ingest(simple_letter("Выгодное предложение", GTUBE, sender=SPAMMER))
    [entry] = desk.app.quarantine.entries()
    staff = "agent1@example.ru"
    desk.ingest(simple_letter(f"Re: [{t['tid']}] Купите рекламу",
                              f"#spam {t['tid']}\n#release {entry['id']}", sender=staff))
    [report] = [m for m in desk.sent() if staff in str(m["To"])
                and "Карантин" in str(m["Subject"])]
    text = body(report)
    assert text.count("фильтр спама дообучен") == 2, text


def test_spam_tid_closes_the_ticket_without_a_letter_to_its_sender(desk: Desk) -> None:
    desk.ingest(simple_letter("Купите рекламу", "Лучшие цены на рекламу в интернете, "
                              "звоните прямо сейчас!", sender="ads@bulk.example"))
    [t] = desk.tickets()
    before = len(desk.sent())
    staff = "agent1@example.ru"
    desk.ingest(simple_letter(f"Re: [{t['tid']}] Купите рекламу", f"#spam {t['tid']}",
                              sender=staff))
    [t] = desk.tickets()
    assert t["status"] == "closed"
    new = desk.sent()[before:]
    assert not [m for m in new if "bulk.example" in str(m["To"])]  # no backscatter
    [report] = [m for m in new if staff in str(m["To"])]
    assert f"#spam {t['tid']}: отмечено как спам; обращение закрыто без письма " \
        "отправителю" in body(report)


def test_reject_level_letters_leave_the_quarantine_after_keep_days_with_a_log_line(
        tmp_path: Path, clock: Clock) -> None:
    from structlog.testing import capture_logs

    from daemon.service.sweep import sweep

    d = make_desk(tmp_path, extra='[spam]\nbackend = "headers"\nhold_score = 6.0\n'
                                  'reject_score = 15.0\nkeep_days = 7\n', clock=clock)
    ours = b"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=%s required=6.0 tests=X\r\n"
    d.ingest(ours % b"30.0" + OUTSIDE_HOP + simple_letter("Казино", sender=SPAMMER))
    d.ingest(ours % b"9.0" + OUTSIDE_HOP + simple_letter("Скидки", sender=SPAMMER))
    assert sorted(e["level"] for e in d.app.quarantine.entries()) == ["hold", "reject"]
    clock.now += timedelta(days=6)
    sweep(d.app)
    assert len(d.app.quarantine.entries()) == 2
    clock.now += timedelta(days=1, minutes=1)
    with capture_logs() as logs:
        assert sweep(d.app).expired == 1
    assert [e["level"] for e in d.app.quarantine.entries()] == ["hold"]  # staff decide
    [gone] = [e for e in logs if e["event"] == "spam.expired"]
    assert gone["subject"] == "Казино" and gone["sender"] == "offers@bulk.example"
    d.app.close()


def test_a_forged_staff_address_does_not_skip_the_check(headers_desk: Desk) -> None:
    ours = b"X-Spam-Flag: YES\r\nX-Spam-Status: Yes, score=9.0 required=6.0 tests=X\r\n"
    forged = simple_letter("Срочно оплатите счёт", sender="agent1@example.ru",
                           authenticated=False)
    r = headers_desk.ingest(ours + OUTSIDE_HOP + forged)
    assert r.outcome == "held"  # type: ignore[attr-defined]


def test_mistyped_quarantine_commands_are_said_back(desk: Desk) -> None:
    desk.ingest(simple_letter("Не работает выгрузка", sender="ivan@client.example"))
    [t] = desk.tickets()
    staff = "agent1@example.ru"
    desk.ingest(simple_letter(f"Re: [{t['tid']}] Не работает выгрузка",
                              "#release 0123456789\n#spam SD-999999", sender=staff))
    [answer] = [m for m in desk.sent() if staff in str(m["To"])
                and "Команды не выполнены" in str(m["Subject"])]
    text = body(answer)
    assert "#release 0123456789: в карантине нет письма" in text
    assert "#spam SD-999999: обращения с таким номером нет" in text
