"""The regulation's staff commands (daemon.staff.regulation) and the head of
support's words (daemon.tickets.head)."""

from __future__ import annotations

from daemon.config.rule_files import Entry
from daemon.staff.commands import Command, read_staff_letter
from daemon.staff.regulation import REASONS, Rules, problems, reason
from daemon.tickets.head import for_head

RULES = Rules(frozenset({"error", "signature"}),
              {"update-order": Entry("update-order", "Обновления", ("обновление",),
                                     "https://docs.example.ru/update/")})


def test_pending_takes_a_reason_or_none() -> None:
    letter = read_staff_letter("#pending need-info\n#pending\n#topic error\n#faq x\nТекст")
    assert letter.problems == ()
    assert letter.commands == (Command("pending", "need-info"), Command("pending"),
                               Command("topic", "error"), Command("faq", "x"))
    assert read_staff_letter("#topic\nТекст").problems == ("команде #topic нужен аргумент",)


def test_the_seven_reasons_of_5_10_by_code_and_number() -> None:
    assert len(REASONS) == 7
    assert reason("2") == reason("need-info") == REASONS[1]
    assert reason("8") is None and reason("0") is None and reason("later") is None
    assert REASONS[4].words == "используется нелицензионная копия Программы и/или " \
                               "Онлайн-сервиса"


def test_problems_name_what_exists() -> None:
    assert problems(Command("topic", "error"), RULES) == []
    assert problems(Command("topic", "Error"), RULES) == []
    [p] = problems(Command("topic", "x"), RULES)
    assert "error, signature" in p
    assert problems(Command("pending", ""), RULES) == []
    assert "1 cannot-reproduce" in problems(Command("pending", "soon"), RULES)[0]
    assert problems(Command("faq", "update-order"), RULES) == []
    assert "база знаний не настроена" in problems(Command("faq", "a"), Rules())[0]


def test_for_the_head_by_address_or_by_words_on_a_ticket() -> None:
    head = "head-support@example.ru"
    assert for_head(head, ["Head-Support@example.ru"], "Ускорьте", False)
    assert for_head("", ["techsupport@example.ru"], "Руководителю службы поддержки", True)
    assert for_head("", [], "прошу передать руководителю службы техподдержки", True)
    assert not for_head("", [], "Руководителю службы поддержки", False)  # new letter
    assert not for_head(head, ["techsupport@example.ru"], "Спасибо", True)
    assert not for_head("", [], "руководитель отдела просит ускорить", True)
