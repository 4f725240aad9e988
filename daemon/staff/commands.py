"""Reading the commands staff write at the top of a reply (SPEC "Staff by e-mail").

Pure functions over text. Staff write commands as lines at the very top of a
reply (`#close`, `#sla licensee-vip`, …); the first line that is not a command
ends them, and the rest is the answer to the client.

`#list`, `#list all`, `#show TID` and `#find TEXT` only look (issue 12): a letter
of them alone is a question to the desk, answered to its writer and kept on no
ticket (`daemon/staff/views.py`); beside commands that change a ticket they are
refused, so that a reply is either one or the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# name -> does it take an argument
KNOWN: dict[str, bool] = {
    "close": False, "pending": False, "sla": True, "dev": False, "assign": True,
    "note": False, "urgent": False, "standard": False, "merge": True, "cc": True,
    "resume": False, "spam": False, "release": True, "topic": True, "faq": True,
    "reopen": False, "list": False, "show": True, "find": True,
}
# `#spam` lists the quarantine, `#spam TID` marks; `#pending` or `#pending REASON` (§5.10);
# `#list` or `#list all`
OPTIONAL_ARGUMENT = frozenset({"spam", "pending", "list"})
WHOLE_ARGUMENT = frozenset({"cc", "find"})  # `#cc add ADDRESS`: more than a word
VIEW = frozenset({"list", "show", "find"})  # they only look: answered, nothing changed

_COMMAND = re.compile(r"^\s*#([A-Za-z][\w-]*)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Command:
    name: str
    arg: str = ""


@dataclass(frozen=True)
class StaffLetter:
    commands: tuple[Command, ...]
    problems: tuple[str, ...]  # unknown commands, missing arguments: said back to staff
    text: str  # what is left for the client


def read_staff_letter(text: str) -> StaffLetter:
    lines = text.splitlines()
    commands: list[Command] = []
    problems: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = _COMMAND.match(line)
        if m is None:
            break
        name, arg = m.group(1).lower(), m.group(2)
        if name not in KNOWN:
            problems.append(f"неизвестная команда #{name}")
        elif KNOWN[name] and not arg:
            problems.append(f"команде #{name} нужен аргумент")
        elif name == "list" and arg.lower() not in ("", "all"):
            problems.append(f"команда #list пишется без аргумента или как #list all "
                            f"(«{arg}» лишнее)")
        elif not KNOWN[name] and arg and name not in OPTIONAL_ARGUMENT:
            problems.append(f"команда #{name} пишется без аргумента («{arg}» лишнее)")
        else:
            words = arg.split()
            commands.append(Command(name, " ".join(words) if name in WHOLE_ARGUMENT
                                    else words[0].lower() if name == "list" and words
                                    else words[0] if words else ""))
        i += 1
    return StaffLetter(tuple(commands), tuple(problems), "\n".join(lines[i:]).strip())


def is_view_request(letter: StaffLetter) -> bool:
    """Only commands that look, and at least one: a question, not a reply."""
    return bool(letter.commands) and not letter.problems and \
        all(c.name in VIEW for c in letter.commands)
