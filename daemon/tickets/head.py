"""Letters to the head of support (§6): «Вы можете направить письмо руководителю
службы технической поддержки с просьбой прокомментировать или содействовать в
ускорении решения экстренных вопросов». Pure: which letter is one."""

from __future__ import annotations

import re

# «руководителю службы (технической) поддержки», «Руководителю службы техподдержки»
_TO_HEAD = re.compile(r"руководител[юья]\w*\s+служб", re.I)


def for_head(head_address: str, recipients: list[str], text: str, follow_up: bool) -> str:
    """Why a letter is for the head of support ("" when it is not): its address among
    the recipients, or the words in a letter on an existing ticket."""
    if head_address and head_address.lower() in {r.lower() for r in recipients}:
        return f"письмо на адрес {head_address}"
    if follow_up and _TO_HEAD.search(text):
        return "в письме: «руководителю службы»"
    return ""
