"""§5.3 (issue 19, item 7): access details are masked in what the desk mails on."""

from __future__ import annotations

import pytest

from daemon.mail.secrets import MASK, has_secrets, mask_secrets

MASKED = [
    ("Логин: admin\nПароль: Qwerty123!", "Логин: admin\nПароль: [скрыто]"),
    ("логин/пароль: admin/Qwerty123", "логин/пароль: admin/[скрыто]"),
    ("Login / password — root / toor", "Login / password — root / [скрыто]"),
    ("Доступ по SSH: ssh root@10.0.0.5, пароль S3cr3t#",
     "Доступ по SSH: ssh root@10.0.0.5, пароль [скрыто]"),
    ("ftp://user:p4ss@ftp.romashka.example/upload",
     "ftp://user:[скрыто]@ftp.romashka.example/upload"),
    ("s3://AKIDEXAMPLE:wJalrXUtnFEMI@bucket.example/x",
     "s3://AKIDEXAMPLE:[скрыто]@bucket.example/x"),
    ("см. (postgresql+psycopg://app:Zx9qw@db.example:5432/app)",
     "см. (postgresql+psycopg://app:[скрыто]@db.example:5432/app)"),
    ("Пароль к базе: P@ssw0rd, логин sa", "Пароль к базе: [скрыто], логин sa"),
    ("Password=abc123; User=sa", "Password=[скрыто]; User=sa"),
    ("пароль от админки «Zx9!qw»", "пароль от админки «[скрыто]»"),
    ("token: 9f8e7d6c5b4a", "token: [скрыто]"),
    ("API key: 12ab34cd56ef", "API key: [скрыто]"),
    ("Токен доступа — eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpM",
     "Токен доступа — [скрыто]"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.SflKxwRJSMeKKF2QT4fwpM",
     "Authorization: Bearer [скрыто]"),
    ("ключ ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ключ [скрыто]"),
    ("пароль Qwerty123", "пароль [скрыто]"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\n"
     "Спасибо", "[закрытый ключ скрыт]\nСпасибо"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA", "[закрытый ключ скрыт]"),
]
KEPT = [
    "Пароль не подходит, прошу сбросить",
    "Не забудьте сменить пароль",
    "Пароль был изменён вчера",
    "пароль админа сброшен",
    "Пароль: прежний",
    "Логин и пароль пришлю отдельно.",
    "Ошибка 500 при входе, логин admin",
    "https://edo.romashka.example/login?next=/",
]


@pytest.mark.parametrize(("text", "shown"), MASKED)
def test_secrets_are_masked_and_the_rest_kept(text: str, shown: str) -> None:
    assert mask_secrets(text) == shown
    assert has_secrets(text)


@pytest.mark.parametrize("text", KEPT)
def test_talk_about_passwords_is_not_a_password(text: str) -> None:
    assert mask_secrets(text) == text and not has_secrets(text)


def test_masking_twice_changes_nothing_more() -> None:
    for text, shown in MASKED:
        assert mask_secrets(shown) == shown, text
    assert MASK == "[скрыто]"
