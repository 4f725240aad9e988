"""What a person actually wrote in a reply (SPEC "Staff by e-mail", regulation §5.5).

Mail clients quote the whole letter they answer: Gmail and Thunderbird under "On
<date>, <name> wrote:", Outlook under a From/Sent/To/Subject block, Yandex and
Mail.ru under "24.11.2026, 15:30, "Имя" <a@b>:", older ones with "> " on every
line. A staff reply must reach the client without our internal notification
quoted underneath, and a client's follow-up is more readable without the whole
history; so `new_text_of_reply` keeps only the text above the first such marker.
Our own notifications carry `REPLY_MARKER`, which makes the cut certain whatever
the client does to quoting.

Heuristics, tuned to fail safe: a marker must look like a marker (an attribution
needs a date or an address, an Outlook block needs three of its fields),
and a person who answers below the quote or between quoted lines keeps their text.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from functools import lru_cache

__all__ = ["REPLY_MARKER", "new_text_of_reply"]

REPLY_MARKER = "——— Пишите ответ выше этой строки ———"

# Marker lines compared by their letters alone, so that dashes turned into hyphens,
# extra spaces or a client's "## … ##" decoration do not matter.
_KNOWN_MARKERS = (
    REPLY_MARKER,
    "Ответьте выше этой строки",
    "Напишите ответ выше этой строки",
    "Пожалуйста, пишите ответ выше этой строки",
    "Пожалуйста, ответьте выше этой строки",
    "Reply above this line",
    "Please reply above this line",
    "Type your reply above this line",
    "Please type your reply above this line",
    "Write your reply above this line",
)

_QUOTE = re.compile(r"^\s*>")
# The runs of blanks and rules below are possessive (*+): a line of 20,000 blanks is
# then read once, not split between three runs every possible way (cubic).
_SIGNATURE = re.compile(r"^--[ \t]?$")  # RFC 3676 "-- "; many clients drop the space
_SEPARATOR = re.compile(
    r"^[\s>]*+[-_=—–*]*+\s*+(?:"
    r"original message|исходное сообщение|forwarded message|пересылаемое сообщение|"
    r"перенаправленное сообщение|пересланное сообщение|переадресованное сообщение|"
    r"начало переадресованного сообщения|begin forwarded message|ursprüngliche nachricht|"
    r"original-nachricht|weitergeleitete nachricht|message d'origine|message transféré|"
    r"mensaje original|mensaje reenviado|messaggio originale|messaggio inoltrato|"
    r"oorspronkelijk bericht|doorgestuurd bericht|wiadomość oryginalna|"
    r"oryginalna wiadomość|wiadomość przekazana"
    r")\s*+[-_=—–*]*+\s*+:?\s*+$",
    re.IGNORECASE,
)

# Outlook's header block of the quoted letter, in English, Russian and the
# languages of Outlook's other common localisations; HTML-to-text turns the bold
# field names into *From:*.
_FIELD = r"^\s*+[*_]*+\s*+(?:{names})\s*+[*_]*+\s*+:"
_FROM_FIELD = re.compile(
    _FIELD.format(names="from|от|от кого|von|de|da|van|od|fra|från|від") + r"\s*\S",
    re.IGNORECASE,
)
_DATE_FIELD = re.compile(
    _FIELD.format(
        names="sent|date|отправлено|дата|gesendet|datum|envoyé|enviado|data|wysłano|"
        "verzonden|sendt|skickat|надіслано"
    ),
    re.IGNORECASE,
)
_OTHER_FIELD = re.compile(
    _FIELD.format(
        names="to|кому|an|à|para|a|do|aan|til|till|cc|копия|subject|тема|betreff|objet|"
        "asunto|oggetto|temat|onderwerp|emne|ämne"
    ),
    re.IGNORECASE,
)
_OUTLOOK_LOOKAHEAD = 8  # lines after From: within which Sent: and To:/Subject: must come

# Attributions. The "wrote" family ends the line; Gmail's Russian form and Yandex and
# Mail.ru end with the address and a colon instead.
_WROTE_END = re.compile(
    r"(?:wrote|writes|пишет|пише|написал(?:а|\s*\(а\))?|написав|писал(?:а|\s*\(а\))?|"
    r"schrieb|a\s+écrit|escribió|ha\s+scritto|napisał(?:a|\s*\(a\))?|schreef|escreveu)"
    r"\s*:\s*$",
    re.IGNORECASE,
)
_ADDRESS_END = re.compile(r"(?P<angle><)?[^\s<>@]+@[^\s<>@]+(?(angle)>)\s*:\s*$")
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
# A date or a time: what separates "On 24.11.2026 Ivan wrote:" from "error 500 when
# the user writes:".
_DATE_LIKE = re.compile(
    r"\b\d{1,2}:\d{2}\b|\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b"
    r"|\b(?:19|20)\d{2}\b"
)
# How attributions begin, for gluing one that the client wrapped onto two or three
# lines: "On …", "Le …", "Am …", "В …", a weekday, or a date.
_ATTRIBUTION_START = re.compile(
    r"^\s*(?:on|le|am|el|em|il|op|w dniu|в|пн|вт|ср|чт|пт|сб|вс|понедельник|вторник|"
    r"среда|четверг|пятница|суббота|воскресенье|mon|tue|wed|thu|fri|sat|sun)\b|^\s*\d",
    re.IGNORECASE,
)
_MAX_ATTRIBUTION_LINES = 3
_MAX_ATTRIBUTION_CHARS = 400  # an attribution line, or the lines of one glued together
_OUTLOOK_RULE = re.compile(r"^\s*_*\s*$")  # blank, or the ____ Outlook draws above From:


def _letters(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def new_text_of_reply(body: str, *, markers: Collection[str] = ()) -> str:
    """The text written above the quoted part of a reply, stripped.

    Cuts at the first of: a quoted line (``>``), an attribution ("On …, X wrote:",
    "…, Имя <a@b>:", "… пишет:"), an "Original Message" / "Исходное сообщение" /
    forwarded-message separator, an Outlook From/Sent/To block, our `REPLY_MARKER`
    or a similar "reply above this line" line (more in `markers`), a signature
    separator ``-- ``. When nothing stands above a quote, the writer answered below
    it or between its lines: then the unquoted lines are the answer.
    """
    # Several steps read one letter's own text (scope, documentation, escalation, store,
    # staff queries): computed once a letter, not once a step.
    return _own_text(body) if not markers else _cut_reply(body, tuple(markers))


@lru_cache(maxsize=16)
def _own_text(body: str) -> str:
    return _cut_reply(body, ())


def _cut_reply(body: str, markers: tuple[str, ...]) -> str:
    lines = re.split(r"\r\n|\r|\n", body)
    wanted = {_letters(m) for m in (*_KNOWN_MARKERS, *markers)} - {""}
    cuts = list(_cuts(lines, wanted))
    if not cuts:
        return _tidy(lines)
    start, _, kind = cuts[0]
    above = _tidy(lines[:start])
    if above or kind not in ("quote", "attribution"):
        return above
    # Bottom-posting or inline answers: drop the quotes and their attributions, then
    # cut at the first marker of any other kind.
    dropped: set[int] = set()
    for first, end, what in cuts:
        if what in ("quote", "attribution"):
            dropped.update(range(first, end))
    rest = [line for index, line in enumerate(lines) if index not in dropped]
    for first, _, what in _cuts(rest, wanted):
        if what not in ("quote", "attribution"):
            return _tidy(rest[:first])
    return _tidy(rest)


def _cuts(lines: list[str], wanted: set[str]) -> Iterator[tuple[int, int, str]]:
    """Every reply marker as (first line, line after it, kind), in order of lines."""
    last_end = 0
    for index, line in enumerate(lines):
        if _QUOTE.match(line):
            yield index, index + 1, "quote"
        elif _letters(line) in wanted:
            yield index, index + 1, "marker"
        elif _SEPARATOR.match(line):
            yield index, index + 1, "separator"
        elif _SIGNATURE.match(line):
            yield index, index + 1, "signature"
        elif _is_outlook_block(lines, index):
            yield index, index + 1, "outlook"
        else:
            start = _attribution_start(lines, index, floor=last_end)
            if start is not None:
                yield start, index + 1, "attribution"
                last_end = index + 1


def _is_outlook_block(lines: list[str], index: int) -> bool:
    """A From: line followed closely by a Sent:/Date: line and a To:/Subject: line."""
    if not _FROM_FIELD.match(lines[index]):
        return False
    following = lines[index + 1 : index + 1 + _OUTLOOK_LOOKAHEAD]
    return any(_DATE_FIELD.match(line) for line in following) and any(
        _OTHER_FIELD.match(line) for line in following
    )


def _attribution_start(lines: list[str], index: int, floor: int) -> int | None:
    """The first line of an attribution ending at line `index`, or None if it is none."""
    line = lines[index]
    if len(line) > _MAX_ATTRIBUTION_CHARS:  # no attribution is that long; and the searches
        return None  # below, anchored at the line's end, are quadratic on a huge line
    wrote = _WROTE_END.search(line)
    address = None if wrote else _ADDRESS_END.search(line)
    if not (wrote or address):
        return None
    start = index
    # Glue a wrapped attribution: go up while the window does not yet begin like one
    # and the line above could be its beginning (not blank, not a finished sentence).
    while (
        index - start < _MAX_ATTRIBUTION_LINES - 1
        and start > floor
        and not _ATTRIBUTION_START.match(lines[start])
        and lines[start - 1].strip()
        and not _QUOTE.match(lines[start - 1])
        and not re.search(r"[.!?;)]\s*$", lines[start - 1])
        # a lone word ("В") that happens to begin like one is a person's answer
        and (re.search(r"\d", lines[start - 1])
             or (_ATTRIBUTION_START.match(lines[start - 1])
                 and len(lines[start - 1].split()) > 1))
    ):
        start -= 1
    window = " ".join(lines[start : index + 1])
    if len(window) > _MAX_ATTRIBUTION_CHARS:
        return None
    dated = bool(_DATE_LIKE.search(window))
    if wrote:
        quote_follows = _next_text_line(lines, index + 1).lstrip().startswith(">")
        return start if dated or "@" in window or quote_follows else None
    assert address is not None
    return start if dated and (address["angle"] or _TIME.search(window)) else None


def _next_text_line(lines: list[str], index: int) -> str:
    for line in lines[index:]:
        if line.strip():
            return line
    return ""


def _tidy(lines: list[str]) -> str:
    """Join lines, dropping trailing blanks and an Outlook ____ rule."""
    kept = [line.rstrip() for line in lines]
    while kept and _OUTLOOK_RULE.match(kept[-1]):
        kept.pop()
    return "\n".join(kept).strip()
