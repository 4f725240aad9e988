"""Reading what clients ask for in words: ratings (§6), transcripts (§5.5), credentials (§5.3).

Pure functions over a letter's new text. Clients rate a closed ticket with a
digit on the first line (§6) and ask for the correspondence in words (§5.5); a
letter that seems to hand over access is remembered, so that closing the ticket
reminds the client to change it (§5.3).
"""

from __future__ import annotations

import re

from daemon.mail.client_replies import LEADING_RATING as _RATING
from daemon.mail.client_replies import rating_in


def rating_of(text: str) -> int | None:
    """§6: the rating a reply gives («5», «Оценка: 4», «5 из 5», «ставлю 4», «★★★★☆»);
    `client_replies.rating_in`."""
    return rating_in(text)


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


def rating_comment(text: str) -> str:
    """§6: the words a client wrote beside a rating ("5. Спасибо, быстро!"): the rest of
    the rating's line and the lines after it, without the digit (for a rating that
    leads its first line)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip():
            m = _RATING.match(line)
            if m is None:
                return ""
            rest = [line[m.end():].strip(), *(x.strip() for x in lines[i + 1:])]
            return "\n".join(x for x in rest if x).strip()[:2000]
    return ""
