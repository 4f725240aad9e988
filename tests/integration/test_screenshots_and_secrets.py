"""§5.2 and §5.3 (issue 19, items 5 and 7): an error without a picture is asked for a
screenshot; access details are masked in the staff notification and the transcript,
and the letter is kept as received. Driven through the CLI at chosen moments."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from daemon.storage.spool import Spool
from tests.conftest import PROJECT, simple_letter
from tests.support.cli_desk import CliDesk, text_of, to

CLIENT = "it@romashka.example"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                    "0000000d4944415478da63f8ffff3f0005fe02fea7d6a4120000000049454e44ae426082")
SECRET_TEXT = ("Здравствуйте! При входе в https://edo.romashka.example (версия 3.14, редакция "
               "«Корпоративная») появляется ошибка 500.\nДоступ для проверки: "
               "логин/пароль: admin/Qwerty123\nSSH: ssh support@10.1.2.3, пароль Zx9!qw77")


def with_screenshot(subject: str, text: str) -> bytes:
    m = email.message_from_bytes(simple_letter(subject, text, sender=CLIENT),
                                 policy=email.policy.default)
    m.add_attachment(PNG, maintype="image", subtype="png", filename="screen.png")  # type: ignore[attr-defined]
    return bytes(m.as_bytes())


def test_an_error_without_a_picture_is_asked_for_a_screenshot(tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path)
    desk.ok("orgs", "import", str(PROJECT / "config" / "demo-registry.toml"))
    text = ("При входе в https://edo.romashka.example (версия 3.14, редакция «Корпоративная») "
            "появляется ошибка 500. Шаги: открыть страницу входа, ввести логин.")
    first = desk.at("2026-12-08T11:00+03:00").ingest(simple_letter("Ошибка 500", text,
                                                                   sender=CLIENT))
    second = desk.ingest(with_screenshot("Ошибка 500 снова", text))
    assert desk.ticket(first)["missing_info"] == ["screenshot"]
    assert desk.ticket(second)["missing_info"] == []
    acks = to(desk.new_letters(), CLIENT)
    asked = " ".join(text_of(acks[0]).split())
    assert ("Чтобы мы могли быстрее помочь, пришлите, пожалуйста, ответом на это письмо: "
            "— по возможности, скриншоты ошибки в форматах JPG, GIF или PNG (скриншоты в "
            "формате BMP — запакованными в архив ZIP или RAR).") in asked
    assert "скриншот" not in text_of(acks[1])


def test_access_details_are_masked_in_what_is_mailed_on(tmp_path: Path) -> None:
    desk = CliDesk.make(tmp_path)
    desk.ok("orgs", "import", str(PROJECT / "config" / "demo-registry.toml"))
    tid = desk.at("2026-12-08T11:00+03:00").ingest(
        simple_letter("Ошибка 500 при входе", SECRET_TEXT, sender=CLIENT))
    letters = desk.new_letters()
    [note] = to(letters, "agent1@example.ru")
    shown = text_of(note)
    assert "логин/пароль: admin/[скрыто]" in shown and "пароль [скрыто]" in shown
    assert "Qwerty123" not in shown and "Zx9!qw77" not in shown
    assert "данные для доступа (пароли, ключи, токены): в тексте ниже они скрыты" in shown

    # Kept as received: the stored letter, byte for byte, holds them.
    stored = [Spool.raw_of(p) for p in (tmp_path / "spool" / "store").rglob("*")
              if p.is_file()]
    texts = [text_of(email.message_from_bytes(raw, policy=email.policy.default))  # type: ignore[arg-type]
             for raw in stored]
    assert any("логин/пароль: admin/Qwerty123" in t and "Zx9!qw77" in t for t in texts)

    desk.at("2026-12-08T11:30+03:00").ingest(simple_letter(
        f"Re: [{tid}] Ошибка 500 при входе",
        "Пришлите, пожалуйста, всю переписку по обращению.", sender=CLIENT))
    [transcript] = [m for m in to(desk.new_letters(), CLIENT)
                    if "Переписка по обращению" in str(m["Subject"])]
    body = text_of(transcript)
    assert "логин/пароль: admin/[скрыто]" in body and "ошибка 500" in body
    assert "Qwerty123" not in body and "Zx9!qw77" not in body
    # Closing reminds the client to change them (§5.3), as before.
    desk.at("2026-12-08T12:00+03:00").ingest(simple_letter(
        f"Re: [{tid}] Ошибка 500 при входе", "#close\nИсправлено.", sender="agent1@example.ru"))
    [closed] = [m for m in to(desk.new_letters(), CLIENT) if "закрыто" in str(m["Subject"])]
    assert "смените, пожалуйста, пароли" in text_of(closed)
