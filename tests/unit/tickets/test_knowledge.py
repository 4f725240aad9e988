"""Documentation first (§1.2, §5.9): which entries match a letter, and what says the
documentation answered it (daemon.tickets.knowledge)."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.config.rule_files import load_entries
from daemon.tickets.knowledge import Knowledge, says_solved

DEMO = Path(__file__).resolve().parents[3] / "config" / "knowledge"


@pytest.fixture(scope="module")
def kb() -> Knowledge:
    return Knowledge(load_entries("knowledge.folder", DEMO), min_score=2)


def ids(entries: tuple) -> list[str]:  # type: ignore[type-arg]
    return [e.id for e in entries]


def test_entries_match_by_their_keywords_in_any_form(kb: Knowledge) -> None:
    got = kb.matching("Обновление", "Где взять модуль обновления до последней версии?", 3)
    assert ids(got)[0] == "update-order"


def test_at_most_the_limit_and_only_with_enough_keywords(kb: Knowledge) -> None:
    text = ("Установка на сервер, резервная копия и перенос, обновление до новой версии, "
            "лицензионный ключ, тормозит и долго, метод API и json")
    assert len(kb.matching("", text, 3)) == 3
    assert kb.matching("Вопрос", "Подскажите телефон офиса.", 3) == ()
    assert kb.matching("", "Установка", 3) == ()  # one keyword is not enough


def test_an_entry_by_its_id(kb: Knowledge) -> None:
    assert kb.get("Licence-Key ") is not None and kb.get("nothing") is None


def test_no_knowledge_base_matches_nothing() -> None:
    assert Knowledge((), 2).matching("Обновление", "обновить", 3) == ()


@pytest.mark.parametrize("text", [
    "Спасибо, помогло!", "спасибо помогло", "Спасибо, всё получилось.",
    "Благодарю, статья помогла", "Помогло, спасибо!", "#solved", "  #SOLVED update-order",
    "Спасибо — помогло.\n\nС уважением, Иван",
])
def test_the_documentation_answered_it(text: str) -> None:
    assert says_solved(text)


@pytest.mark.parametrize("text", [
    "Спасибо, но не помогло.", "Не помогло, спасибо.", "Спасибо за ответ!",
    "Помогите, пожалуйста", "", "Ошибка осталась.\n" * 3 + "спасибо, помогло" * 0,
])
def test_it_did_not_say_so(text: str) -> None:
    assert not says_solved(text)
