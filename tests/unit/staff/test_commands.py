"""Reading commands, ratings and requests out of letters."""

from __future__ import annotations

import pytest

from daemon.mail.client_requests import asks_for_transcript, mentions_credentials, rating_of
from daemon.staff.commands import Command, read_staff_letter


def test_commands_stop_at_the_first_line_of_text() -> None:
    s = read_staff_letter("#close\n\n#SLA licensee-vip\nЗдравствуйте!\n#note is text here")
    assert s.commands == (Command("close"), Command("sla", "licensee-vip"))
    assert s.problems == () and s.text == "Здравствуйте!\n#note is text here"


@pytest.mark.parametrize(("text", "problem"), [
    ("#clsoe", "неизвестная команда #clsoe"),
    ("#sla", "команде #sla нужен аргумент"),
    ("#close please", "команда #close пишется без аргумента"),
])
def test_problems_are_named(text: str, problem: str) -> None:
    assert read_staff_letter(text).problems[0].startswith(problem)


def test_a_letter_without_commands_is_all_text() -> None:
    s = read_staff_letter("Добрый день!\n#close")
    assert s.commands == () and s.text == "Добрый день!\n#close"


@pytest.mark.parametrize(("text", "rating"), [
    ("5", 5), ("5\nСпасибо", 5), ("  4. Хорошо", 4), ("3 из 5", 3), ("1!", 1),
    ("\n\n2 балла", 2), ("5/5", 5), ("0", None), ("6", None), ("55", None),
    ("5 минут назад снова упало", 5), ("Спасибо, 5", None), ("", None),
])
def test_ratings(text: str, rating: int | None) -> None:
    assert rating_of(text) == rating


@pytest.mark.parametrize(("text", "asks"), [
    ("Пришлите, пожалуйста, всю переписку по обращению [SD-000013]", True),
    ("Прошу предоставить полную переписку по обращению.", True),
    ("Вышлите историю переписки", True),
    ("Нужна переписка по этому вопросу для руководства", True),
    ("Переписку с контрагентом мы уже проверили.", False),
    ("Пришлите, пожалуйста, инструкцию.", False),
])
def test_transcript_requests(text: str, asks: bool) -> None:
    assert asks_for_transcript(text) is asks


@pytest.mark.parametrize(("text", "creds"), [
    ("Доступ по SSH: root / Qwerty", True), ("логин admin, пароль 123", True),
    ("Подключитесь через AnyDesk 123 456 789", True), ("FTP: ftp.example.ru", True),
    ("Не работает выгрузка в 1С", False),
])
def test_credentials(text: str, creds: bool) -> None:
    assert mentions_credentials(text) is creds
