"""§6 in a client's words: a rating, thanks, or a new question after an answer.

Pure functions over the new text of a client's reply (the quote already cut off,
`reply_text.new_text_of_reply`). After a ticket is answered or closed, clients
write «Спасибо, всё работает!», «Оценка: 4», «5 из 5», «★★★★☆» or a real new
question. Thanks and ratings are recorded and never reopen a closed ticket; a
closed ticket reopens on a real new question or when the client asks for it
(«открыть повторно», `#reopen`); anything else is "unclear": the ticket stays
closed and staff are asked (they reopen it with `#reopen`).

Read as a person would: a rating's digit is the first thing on the first line or
stands after «оценка» / «ставлю»; a digit with a unit after it («3 дня не
работает») is no rating; «ошибка больше не появляется» is not a problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RATING, THANKS, REOPEN, QUESTION, UNCLEAR = "rating", "thanks", "reopen", "question", "unclear"


@dataclass(frozen=True)
class ReplyReading:
    kind: str  # RATING | THANKS | REOPEN | QUESTION | UNCLEAR
    rating: int | None = None  # a rating written in it, whatever the kind

    @property
    def reopens(self) -> bool:
        return self.kind in (REOPEN, QUESTION)


_WORDS = {"один": 1, "одна": 1, "единица": 1, "единицу": 1, "кол": 1,
          "два": 2, "двойка": 2, "двойку": 2, "три": 3, "тройка": 3, "тройку": 3,
          "четыре": 4, "четвёрка": 4, "четверка": 4, "четвёрку": 4, "четверку": 4,
          "пять": 5, "пятёрка": 5, "пятерка": 5, "пятёрку": 5, "пятерку": 5}
_NUMBER = r"([1-5]|" + "|".join(sorted(_WORDS, key=len, reverse=True)) + r")"
# A digit followed by one of these counts something; it is no rating.
_UNIT = (r"(?:дн|день|сут|час|ч\b|мин|сек|недел|месяц|мес\b|раз|год|лет|сотрудник|пользовател"
         r"|человек|чел\b|шт|штук|ошибк|файл|документ|письм|отчёт|отчет|сервер|компьютер|%"
         r"|числ|января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября"
         r"|декабря|версии|верси|т\.?\s?р|руб|тыс|-?й|-?го|-?х)")
LEADING_RATING = re.compile(
    r"^\s*(?:оценка\s*[:\-—–]?\s*)?([1-5])(?![\d.,:]\d)"
    r"(?!\s*" + _UNIT + r")"
    r"(?:\s*(?:из\s*(?:5|пяти)|/\s*5|балл\w*|звезд\w*|звёзд\w*|[.)!,:;+\-—–]))*"
    r"(?=\s|$)", re.I)
_NAMED = re.compile(
    r"(?:оценк\w*|оцениваю|ставл\w+|ставим|поставлю|поставил\w*|голосую)"
    r"(?:\s+(?:вам|вас|бы|работу|поддержк\w+|службу|оценку|за\s+работу))*"
    r"\s*(?:[:\-—–=]\s*)?(?:на\s+)?" + _NUMBER + r"(?!\s*" + _UNIT + r")\b", re.I)
_OUT_OF = re.compile(r"(?<![\d.,])\b([1-5])\s*(?:из\s*(?:5|пяти)|/\s*5)\b", re.I)
_STARS = re.compile(r"^[\s★☆⭐✩✰\ufe0f]+")


def rating_in(text: str) -> int | None:
    """A rating 1–5 a client wrote: on the first line («5», «5 из 5», «Оценка: 4»,
    «★★★★☆»), or named in the first lines («ставлю 4», «оценка — пятёрка»)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    first = lines[0]
    run = _STARS.match(first)
    if run and any(c in run.group(0) for c in "★☆⭐"):
        stars = run.group(0).count("★") + run.group(0).count("⭐")
        return stars if 1 <= stars <= 5 else None
    m = LEADING_RATING.match(first)
    if m:
        return int(m.group(1))
    head = " ".join(lines[:3])
    m = _NAMED.search(head) or _OUT_OF.search(head)
    if m:
        word = m.group(1).lower()
        return int(word) if word.isdigit() else _WORDS.get(word)
    return None


_REOPEN = re.compile(
    r"#reopen\b|(?:откр\w*|переоткр\w*)(?:\W+\w+){0,3}?\W+(?:повторно|заново|снова"
    r"|ещё\s+раз|еще\s+раз|обратно)\b|переоткро\w*|переоткрыт\w*"
    r"|возобнов\w*(?:\W+\w+){0,2}?\W+(?:обращени\w*|заявк\w*|тикет\w*|работ\w*)"
    r"|(?:не|рано)\s+закрыва\w*|зря\s+закрыл\w*|закрыли\s+(?:рано|преждевременно|зря)", re.I)
# What a satisfied client writes; removed before looking for a problem, so «ошибка
# больше не появляется» is not read as «ошибка».
_RESOLVED = re.compile(
    r"(?:вс[её]|все)\s+(?:уже\s+|теперь\s+|сейчас\s+)?(?:работает|заработало|ок\b|ok\b|хорошо"
    r"|получилось|в\s+порядке|отлично|норм\w*|исправ\w*)"
    r"|(?:теперь|уже|сейчас)\s+(?:всё\s+|все\s+)?работает|заработал\w*|работает\s*[,.!)]"
    r"|(?:ошибк\w*|проблем\w*|сбо\w*|вопрос\w*)\s+(?:уже\s+)?(?:исчезл\w*|пропал\w*|ушл\w*"
    r"|устранен\w*|устранён\w*|решен\w*|решён\w*|снят\w*|закрыт\w*|не\s+актуал\w*"
    r"|больше\s+не\s+\w+)"
    r"|(?:проблем|ошибок|вопросов)\s+(?:больше\s+)?нет"
    r"|больше\s+не\s+(?:появляется|возникает|повторяется|воспроизводится|беспокоит|нужн\w*)"
    r"|перестал\w*\s+(?:появля|возника|выда|воспроизвод)\w*"
    r"|(?:можно|можете|прошу)\s+(?:его\s+)?закры\w*|(?:уже\s+)?не\s+актуальн\w*|разобрал\w*"
    r"|помогло|(?:решили|решено|исправили|починили|устранили)\b"
    r"|(?:за|в)\s+(?:\w+\s+){0,2}?(?:решени\w*|устранени\w*|помощ\w*|ответ\w*)"
    r"(?:\s+(?:\w+\s+)?(?:вопрос\w*|проблем\w*|ошибк\w*|сбо\w*))?"
    r"|хотел\w*\s+(?:бы\s+)?(?:поблагодар\w*|сказать\s+спасибо)", re.I)
_PROBLEM = re.compile(
    r"\?|не\s+(?:работает|работают|получается|получилось|открывается|запускается|"
    r"формируется|приходит|приходят|могу|можем|удаётся|удается|удалось|помогло|"
    r"отправляется|загружается|проходит|видно|вижу|решен\w*|решён\w*|исправлен\w*)"
    r"|ошибк\w*\s*[:№#]?\s*\d+|(?:выда|показыва|пиш|вылета|возника|появля|появил)\w*"
    r"\s+(?:\w+\s+)?ошибк\w*|опять|снова|по-прежнему|по\s+прежнему|до\s+сих\s+пор"
    r"|всё\s+ещё|все\s+еще|проблема\s+(?:осталась|сохраняется|повтор\w*|не\s+решена)"
    r"|(?:та\s+же|есть|новая|другая|ещё\s+одна|еще\s+одна)\s+проблем\w*"
    r"|подскаж\w*|уточни\w*|помогите|нужн\w+|как\s+(?:мне\s+|нам\s+)?(?:настро\w*|сделать"
    r"|добав\w*|подключ\w*|измен\w*|удал\w*|получить)|можно\s+ли"
    r"|хотел\w*\s+(?:бы\s+)?(?:уточнить|спросить|узнать)|перестал\w*"
    r"|(?:ещё|еще|есть|новый|другой|один)\s+вопрос\w*|а\s+ещё|а\s+еще|кстати|повтор\w*", re.I)
# Words of trouble: in a letter that thanks nobody they are a problem reported.
_TROUBLE = re.compile(r"ошибк\w*|проблем\w*|сбо[йяею]\w*|авари\w*|глюк\w*|завис\w*"
                      r"|тормоз\w*|вылета\w*|не\s+(?:грузит|открыва|запуска|сохраня|отправля|"
                      r"приход|проход|формиру|работа)\w*", re.I)
_THANKS = re.compile(
    r"сп[ао]с[иі]б\w*|с[пп]асиб\w*|сапсиб\w*|спсб|спс\b|пасиб\w*|пасибо|спасибки|благодар\w*"
    r"|благодор\w*|блогодар\w*|признател\w*|thanks?\b|thank\s+you|thx\b|мерси", re.I)
_LONG = 600  # characters: past this a letter says more than thanks
_READ = 4000  # characters read: what decides is at the top (bounds the work, issue 21)


def read_reply(text: str) -> ReplyReading:
    """What a client's reply to an answered or closed ticket is (module docstring)."""
    body = text.strip()[:_READ]
    rating = rating_in(body)
    if _REOPEN.search(body):
        return ReplyReading(REOPEN, rating)
    rest = _RESOLVED.sub(" ", body)
    if rating is not None:  # «3, проблема осталась»: recorded, and the ticket reopens
        return ReplyReading(QUESTION if _PROBLEM.search(rest) else RATING, rating)
    resolved = rest != body
    if _PROBLEM.search(rest) or (_TROUBLE.search(rest) and not resolved
                                 and not _THANKS.search(body)):
        return ReplyReading(QUESTION)
    if (_THANKS.search(body) or resolved) and len(body) <= _LONG:
        return ReplyReading(THANKS)
    return ReplyReading(UNCLEAR)
