"""Reading the commands staff write at the top of a reply."""

from __future__ import annotations

import pytest

from daemon.staff.commands import Command, is_view_request, read_staff_letter


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


@pytest.mark.parametrize(("text", "commands", "view"), [
    ("#list", [("list", "")], True),
    ("#list ALL\n\n--\nАнна", [("list", "all")], True),
    ("#show SD-000013", [("show", "SD-000013")], True),
    ("#find ООО Ромашка", [("find", "ООО Ромашка")], True),
    ("#list\n#show SD-000013", [("list", ""), ("show", "SD-000013")], True),
    ("#close\n#list", [("close", ""), ("list", "")], False),
    ("Здравствуйте! #list", [], False),
])
def test_looking_commands(text: str, commands: list[tuple[str, str]], view: bool) -> None:
    letter = read_staff_letter(text)
    assert [(c.name, c.arg) for c in letter.commands] == commands
    assert is_view_request(letter) is view


@pytest.mark.parametrize("text", ["#list mine", "#show", "#find"])
def test_looking_commands_that_are_wrong_are_named(text: str) -> None:
    letter = read_staff_letter(text)
    assert letter.problems and not is_view_request(letter)
