"""Reading what clients ask for in words: ratings, transcripts, shared credentials."""

from __future__ import annotations

import pytest

from daemon.mail.client_requests import (
    asks_for_transcript,
    mentions_credentials,
    rating_comment,
    rating_of,
)


@pytest.mark.parametrize(("text", "rating"), [
    ("5", 5), ("5\nСпасибо", 5), ("  4. Хорошо", 4), ("3 из 5", 3), ("1!", 1),
    ("\n\n2 балла", 2), ("5/5", 5), ("0", None), ("6", None), ("55", None),
    ("5 минут назад снова упало", None), ("Спасибо, 5", None), ("", None),
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


@pytest.mark.parametrize(("text", "comment"), [
    ("5", ""), ("5. Спасибо, быстро!", "Спасибо, быстро!"),
    ("\n4\nВсё хорошо,\nно долго ждали", "Всё хорошо,\nно долго ждали"),
    ("5 из 5 отличная работа", "отличная работа"), ("Спасибо!", ""), ("", ""),
])
def test_rating_comments(text: str, comment: str) -> None:
    assert rating_comment(text) == comment
