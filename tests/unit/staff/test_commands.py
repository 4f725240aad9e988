"""Reading the commands staff write at the top of a reply."""

from __future__ import annotations

import pytest

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
