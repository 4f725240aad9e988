"""Who a letter is from, as the desk believes it (issues 11 and 21).

Every client reachable gets the registration letter, whatever its mail program
made of the From header; a registered address that is proven forged gets the
fallback level and a letter saying why; a staff address is a claim, and a staff
letter nobody proved runs no command and reaches no client; the desk's own
letters carry a DKIM signature that verifies. Driven through the real pipeline,
database and outbox; DNS, where the desk asks it, is a stub on loopback.
"""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dkim
import pytest

from bench.harness.daemon import Daemon
from daemon.storage import db
from daemon.tickets.registry import import_orgs, load_file
from tests.conftest import FIXTURES, PROJECT, Desk, fixture_bytes, make_desk, simple_letter
from tests.support.dns_stub import DnsStub, dns_stub

KEYS = FIXTURES.parent / "dkim"
PUBLIC = "v=DKIM1; k=rsa; p=" + (KEYS / "test-selector.pub.b64").read_text().strip()
NO_AUTH = "verify = false\n"  # no MTA trusted, no checks of our own


def registered(d: Desk) -> Desk:
    with db.unit_of_work(d.app.sessions) as s:
        import_orgs(s, load_file(PROJECT / "config" / "demo-registry.toml"))
        import_orgs(s, load_file(FIXTURES / "registry.toml"))
    return d


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = registered(make_desk(tmp_path))
    yield d
    d.app.close()


def body(m: email.message.EmailMessage) -> str:
    return str(m.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def to(d: Desk, address: str) -> list[email.message.EmailMessage]:
    return [m for m in d.sent() if address in str(m["To"])]


# ---------------------------------------------------------------- every client answered


@pytest.mark.parametrize(("fixture", "requester", "source"), [
    ("from-encoded-whole-1c.eml", "buh@romashka.example", "from"),
    ("from-bare-address-in-name.eml", "petrov@client.example", "from"),
    ("from-none-reply-to.eml", "manager@client.example", "reply-to"),
    ("from-none-sender.eml", "olga.sales@client.example", "sender"),
    ("from-none-envelope-only.eml", "scanner@client.example", "envelope"),
])
def test_every_reachable_client_gets_the_acknowledgement(desk: Desk, fixture: str,
                                                         requester: str, source: str) -> None:
    desk.ingest_fixture(fixture)
    [t] = desk.tickets()
    assert (t["requester"], t["requester_source"]) == (requester, source)
    assert "=?" not in t["requester"] and "@" in t["requester"]
    [ack] = to(desk, requester)
    assert "Ваше обращение зарегистрировано" in body(ack) and t["tid"] in str(ack["Subject"])


def test_the_envelope_sender_of_ingest_answers_a_letter_without_any_address(
        desk: Desk) -> None:
    raw = fixture_bytes("from-none-envelope-only.eml").replace(
        b"Return-Path: <scanner@client.example>\r\n", b"")
    desk.ingest(raw, sender="mfp-owner@client.example")
    [t] = desk.tickets()
    assert (t["requester"], t["requester_source"]) == ("mfp-owner@client.example", "envelope")
    assert to(desk, "mfp-owner@client.example")


def test_a_repaired_from_still_identifies_its_organisation(desk: Desk) -> None:
    desk.ingest_fixture("from-encoded-whole-1c.eml")
    [t] = desk.tickets()
    assert t["org"]["name"] == "ООО «Ромашка»" and t["requester_name"] == \
        "Бухгалтерия ООО «Ромашка»"


# ---------------------------------------------------------------- the level from the verdict


def test_a_forged_licensee_gets_the_fallback_level_and_a_letter_saying_why(desk: Desk) -> None:
    desk.ingest_fixture("forged-licensee-dmarc-fail.eml")
    [t] = desk.tickets()
    assert t["sla_level"] == "consultation"  # not the VIP two hours of АО «Северный ветер»
    assert t["auth"]["verdict"] == "fail" and t["auth"]["dmarc"] == "fail"
    assert t["needs_attention"] and "не прошло проверку подлинности" in t["attention_reason"]
    [ack] = to(desk, "admin@sever.example")
    assert "не прошло проверку подлинности отправителя" in body(ack)
    assert "Северный ветер" not in body(ack) and "VIP" not in body(ack)
    [note] = [m for m in to(desk, "agent") if "Новое обращение" in str(m["Subject"])]
    assert "НЕ подтверждён, похоже на подделку (DMARC fail" in body(note)


def test_the_same_licensee_proven_keeps_its_vip_level(desk: Desk) -> None:
    desk.ingest(simple_letter(
        "Не работает сервер", sender="admin@sever.example",
        Authentication_Results="mx.example.ru; dkim=pass header.d=sever.example; "
                               "dmarc=pass (p=reject) header.from=sever.example"))
    [t] = desk.tickets()
    assert t["sla_level"] == "licensee-vip" and t["auth"]["verdict"] == "pass"
    assert t["auth"]["checked_by"] == "mta"


def test_a_pass_forged_below_our_received_cannot_outvote_our_fail(desk: Desk) -> None:
    desk.ingest_fixture("forged-ar-below-our-received.eml")
    [t] = desk.tickets()
    assert t["sla_level"] == "consultation" and t["auth"]["verdict"] == "fail"


def test_a_header_from_someone_elses_mta_is_not_believed(desk: Desk) -> None:
    desk.ingest(simple_letter(
        "Вопрос", sender="admin@sever.example",
        Authentication_Results="mx.evil.example; dmarc=fail header.from=sever.example"))
    [t] = desk.tickets()
    assert t["auth"]["verdict"] == "none" and t["sla_level"] == "licensee-vip"


@pytest.fixture
def stub() -> Iterator[DnsStub]:
    with dns_stub() as s:
        s.txt["s1._domainkey.sever.example"] = [PUBLIC]
        s.txt["_dmarc.sever.example"] = ["v=DMARC1; p=reject"]
        yield s


def own_checks(tmp_path: Path, stub: DnsStub) -> Desk:
    return registered(make_desk(tmp_path, auth=f'verify = true\ndns_servers = '
                                                f'["{stub.server}"]\ndns_timeout = "1s"\n'))


def test_our_own_checks_prove_a_signed_letter(tmp_path: Path, stub: DnsStub) -> None:
    d = own_checks(tmp_path, stub)
    raw = simple_letter("Не работает сервер", sender="admin@sever.example")
    d.ingest(dkim.sign(raw, b"s1", b"sever.example", (KEYS / "test-selector.key").read_bytes(),
                       include_headers=[b"from", b"subject", b"date"]) + raw)
    [t] = d.tickets()
    assert t["sla_level"] == "licensee-vip"
    assert (t["auth"]["verdict"], t["auth"]["dkim"], t["auth"]["checked_by"]) == (
        "pass", "pass", "own")


def test_our_own_checks_demote_an_unsigned_letter_of_a_reject_domain(
        tmp_path: Path, stub: DnsStub) -> None:
    d = own_checks(tmp_path, stub)
    d.ingest(simple_letter("Не работает сервер", sender="admin@sever.example"))
    [t] = d.tickets()
    assert t["sla_level"] == "consultation" and t["auth"]["verdict"] == "fail"
    assert t["auth"]["policy"] == "reject"


def test_a_dns_outage_is_no_verdict_and_no_demotion(tmp_path: Path, stub: DnsStub) -> None:
    stub.silent.add("_dmarc.sever.example")
    d = own_checks(tmp_path, stub)
    d.ingest(simple_letter("Не работает сервер", sender="admin@sever.example"))
    [t] = d.tickets()
    assert t["auth"]["verdict"] == "none" and t["auth"]["dmarc"] == "temperror"
    assert t["sla_level"] == "licensee-vip"


# ---------------------------------------------------------------- one reading of From


def test_a_display_name_holding_a_staff_address_gives_no_staff_rights(desk: Desk) -> None:
    desk.ingest_fixture("new-utf8-thunderbird.eml")
    desk.ingest_fixture("from-address-in-display-name.eml")
    first, second = desk.tickets()
    assert first["status"] != "closed" and first["first_response_at"] is None
    assert second["requester"] == "attacker@evil.example" and second["org"] is None
    assert "в имени отправителя (From) указан другой адрес" in second["attention_reason"]
    assert not to(desk, "a.ivanova@romashka.example")[1:]  # nothing relayed to the client


def test_a_folded_quoted_name_identifies_nobody(desk: Desk) -> None:
    desk.ingest_fixture("from-folded-quoted-name.eml")
    [t] = desk.tickets()
    assert t["requester"] == "attacker@evil.example" and t["org"] is None
    assert t["sla_level"] == "consultation" and t["needs_attention"]


def test_a_reply_to_outside_the_senders_organisation_gets_no_acknowledgement(
        desk: Desk) -> None:
    desk.ingest_fixture("reply-to-outside-domain.eml")
    [t] = desk.tickets()
    assert t["requester"] == "ivan@client.example"
    assert to(desk, "ivan@client.example") and not to(desk, "victim@other.example")
    [note] = to(desk, "agent")
    assert "Reply-To: victim@other.example — ответ туда не отправлен" in body(note)


def test_a_reply_to_in_the_same_organisation_is_answered(desk: Desk) -> None:
    desk.ingest(simple_letter("Вопрос", sender="it@romashka.example",
                              Reply_To="helpdesk@romashka.example"))
    assert desk.tickets()[0]["requester"] == "helpdesk@romashka.example"


# ---------------------------------------------------------------- staff letters fail closed


def open_ticket(d: Desk) -> None:
    d.ingest_fixture("new-utf8-thunderbird.eml")


def test_a_forged_staff_reply_is_not_relayed_and_runs_no_command(desk: Desk) -> None:
    open_ticket(desk)
    desk.ingest_fixture("forged-staff-reply-phishing.eml")
    [t] = desk.tickets()
    assert t["status"] != "closed" and t["first_response_at"] is None
    assert [m["kind"] for m in t["messages"] if m["direction"] == "in"] == [
        "client", "staff-unverified"]
    client_letters = to(desk, "a.ivanova@romashka.example")
    assert not [m for m in client_letters if "evil.example" in body(m)]
    [warning] = [m for m in to(desk, "agent1@example.ru")
                 if "нет подтверждения отправителя" in str(m["Subject"])]
    assert "Подтверждения нет" in body(warning) and "внутренняя заметка" in body(warning)


def test_a_forged_merge_merges_nothing(desk: Desk) -> None:
    open_ticket(desk)
    desk.ingest(simple_letter("Счёт", sender="ivan@client.example"))
    desk.ingest_fixture("forged-staff-merge.eml")
    assert [t["status"] for t in desk.tickets()] == ["new", "new"]


def test_without_any_way_to_authenticate_staff_letters_fail_closed(tmp_path: Path) -> None:
    d = make_desk(tmp_path, auth=NO_AUTH)
    open_ticket(d)
    d.ingest(simple_letter("Re: [SD-000013] Ошибка", "#close\nГотово.",
                           sender="agent1@example.ru"))  # carries a pass no MTA is trusted for
    [t] = d.tickets()
    assert t["status"] != "closed"
    [warning] = [m for m in to(d, "agent1@example.ru")
                 if "нет подтверждения отправителя" in str(m["Subject"])]
    assert "не настроена" in body(warning)


def test_the_loudly_named_switch_accepts_unauthenticated_staff(tmp_path: Path) -> None:
    d = make_desk(tmp_path, auth=NO_AUTH + "accept_unauthenticated_staff = true\n")
    open_ticket(d)
    d.ingest(simple_letter("Re: [SD-000013] Ошибка", "#close\nГотово.",
                           sender="agent1@example.ru", authenticated=False))
    assert d.tickets()[0]["status"] == "closed"
    # ... and says so on every check of the config, which still passes.
    for _ in range(2):
        p = subprocess.run([sys.executable, "-m", "daemon.cli", "--config", str(d.config_path),
                            "check-config"], capture_output=True, text=True, cwd=PROJECT)
        assert p.returncode == 0, p.stderr
        assert "auth.accept_unauthenticated_staff is on" in p.stdout + p.stderr


def test_an_authenticated_staff_reply_is_relayed(desk: Desk) -> None:
    open_ticket(desk)
    desk.ingest_fixture("staff-reply-from-agent.eml")
    [t] = desk.tickets()
    assert t["first_response_at"] is not None


# ---------------------------------------------------------------- our own letters signed


def test_the_letters_we_send_carry_a_dkim_signature_that_verifies(tmp_path: Path) -> None:
    d = make_desk(tmp_path, outbound=(
        f'transport = "maildir"\nmaildir = "{tmp_path}/outbox"\ndkim_selector = "s1"\n'
        f'dkim_key_file = "{KEYS / "test-selector.key"}"'))
    d.ingest(simple_letter("Вопрос"))
    d.flush()
    files = sorted((tmp_path / "outbox" / "new").iterdir())
    assert len(files) == 2
    for f in files:
        raw = f.read_bytes()
        assert raw.startswith(b"DKIM-Signature:") and b"d=example.ru" in raw[:400]
        assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: PUBLIC.encode())
        tampered = raw.replace(b"SD-000013", b"SD-000021")
        assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: PUBLIC.encode())


def test_a_staff_reply_through_our_own_submission_port_is_relayed(desk: Desk) -> None:
    open_ticket(desk)
    desk.ingest(simple_letter("Re: [SD-000013] Ошибка", "Проверьте сертификат.",
                              sender="agent1@example.ru",
                              Authentication_Results="mx.example.ru; auth=pass "
                                                     "smtp.auth=agent1@example.ru"))
    assert desk.tickets()[0]["first_response_at"] is not None
    desk.ingest(simple_letter("Re: [SD-000013] Ошибка", "#close", sender="agent1@example.ru",
                              Authentication_Results="mx.example.ru; auth=pass "
                                                     "smtp.auth=agent2@example.ru"))
    assert desk.tickets()[0]["status"] != "closed"  # logged in as someone else


# ---------------------------------------------------------------- the real listener


def test_forgeries_over_smtp_steer_nothing(daemon: Daemon) -> None:
    """The forged staff reply, the address in a display name and the forged requester
    with a Cc, sent to a running daemon over SMTP as a stranger's MTA would."""
    anna = "a.ivanova@romashka.example"
    letters = [("new-utf8-thunderbird.eml", anna),
               ("forged-staff-reply-phishing.eml", "agent1@example.ru"),
               ("from-address-in-display-name.eml", "attacker@evil.example"),
               ("forged-requester-with-cc.eml", anna)]
    for file, sender in letters:
        code, _ = daemon.send(fixture_bytes(file), sender=sender)
        assert code == 250
    daemon.wait_for_event("letter.processed", count=len(letters), timeout=60)
    by_requester = {t["requester"]: t for t in daemon.tickets()}
    assert set(by_requester) == {anna, "attacker@evil.example"}  # nothing else opened
    shown, second = daemon.show(by_requester[anna]["tid"]), by_requester["attacker@evil.example"]
    assert shown["status"] != "closed" and shown["first_response_at"] is None
    assert "staff-unverified" in [m["kind"] for m in shown["messages"]]
    assert "spy@evil.example" not in shown["participants"]
    assert second["needs_attention"] and daemon.show(second["tid"])["org"] is None
    daemon.wait_for(lambda: [m for m in daemon.outbox() if anna in str(m["To"])])
    to_anna = [m for m in daemon.outbox() if anna in str(m["To"])]
    assert not [m for m in to_anna if "evil.example" in m.get_body(("plain",)).get_content()]
    # The attacker hears only of the ticket their own letter opened, the spy of nothing.
    to_evil = [m for m in daemon.outbox() if "evil.example" in f"{m['To']} {m['Cc']}"]
    assert [str(m["To"]) for m in to_evil] == ["attacker@evil.example"]
    assert second["tid"] in str(to_evil[0]["Subject"])
