"""Reading what people ask for by e-mail: staff commands, ratings, transcript requests.

Pure functions over text. Staff write commands as lines at the very top of a
reply (`#close`, `#sla licensee-vip`, …); the first line that is not a command
ends them, and the rest is the answer to the client. Clients rate a closed
ticket with a digit on the first line (§6) and ask for the correspondence in
words (§5.5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# name -> does it take an argument
KNOWN: dict[str, bool] = {
    "close": False, "pending": False, "sla": True, "dev": False, "assign": True,
    "note": False, "urgent": False, "standard": False, "merge": True,
}

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
        elif not KNOWN[name] and arg:
            problems.append(f"команда #{name} пишется без аргумента («{arg}» лишнее)")
        else:
            commands.append(Command(name, arg.split()[0] if arg else ""))
        i += 1
    return StaffLetter(tuple(commands), tuple(problems), "\n".join(lines[i:]).strip())


_RATING = re.compile(r"^\s*([1-5])(?:\s*(?:[.)!,/]|из\s*5|/\s*5|баллов|балла|балл)?)?\s*(?:$|\s)",
                     re.I)


def rating_of(text: str) -> int | None:
    """§6: a reply whose first non-empty line begins with a digit 1–5 is a rating."""
    for line in text.splitlines():
        if line.strip():
            m = _RATING.match(line)
            return int(m.group(1)) if m else None
    return None


_TRANSCRIPT = re.compile(
    r"(пришлите|вышлите|пришли|вышли|предостав\w*|направ\w*|отправ\w*|перешл\w*|дайте|нужн\w*"
    r"|прошу|можно\s+получить)\W+(?:\w+\W+){0,4}?(всю\s+|полн\w+\s+)?(переписк\w*|историю\s+"
    r"(?:переписки|обращения))", re.I)


def asks_for_transcript(text: str) -> bool:
    """§5.5: "Пришлите, пожалуйста, всю переписку по обращению"."""
    head = "\n".join(text.splitlines()[:15])
    return bool(_TRANSCRIPT.search(head))


_CREDENTIALS = re.compile(
    r"\b(парол\w*|password|passwd|логин\s+и\s+парол\w*|доступ\w*\s+по\s+(ssh|ftp|rdp)"
    r"|ssh|ftp|rdp|teamviewer|anydesk|учетн\w+\s+запис\w*|учётн\w+\s+запис\w*)\b", re.I)


def mentions_credentials(text: str) -> bool:
    """§5.3: a letter that seems to hand over access (passwords, SSH/FTP, remote desktop)."""
    return bool(_CREDENTIALS.search(text))
