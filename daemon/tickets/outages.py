"""§2.1, §3.1, §3.3: an outage recognised by what the letter describes.

Partners and licensees get operational support when "as a result of a failure,
work with the Program becomes completely impossible" — whether or not they wrote
«срочно» or «авария». A letter that describes such a failure of the desk's programs
(DiServer v.3, Организатор ЭДО v.3, Оператор ЭДО v.3, or a project built on them)
— «DiServer полностью не работает», «система недоступна», «не запускается», «все
пользователи не могут войти» — is proposed as an emergency, which staff confirm
(`#urgent`) or downgrade (`#standard`), as with the keyword path.

A failure of something that is not ours (an electronic signature, a browser, the
Internet, mail, hosting: §1.3, §1.4) is no outage of the programs, nor is a
partial trouble («не работает кнопка печати»). Pure: text in, the phrase out.
"""

from __future__ import annotations

import re

_THING = (r"(?:систем\w*|сервер\w*|сервис\w*|портал\w*|сайт\w*|программ\w*|приложени\w*"
          r"|diserver|ди\s?сервер\w*|эдо|платформ\w*|проект\w*|кабинет\w*|организатор\w*"
          r"|оператор\w*|продакшн\w*|прод\b|база\s+данных|бд\b|всё|все)")
_DOWN = (r"(?:недоступ\w*|не\s+доступ\w*|не\s+запуска\w*|не\s+стартует|не\s+отвечает|упал\w*"
         r"|лежит|легл\w*|не\s+работает|не\s+работают|остановил\w*|перестал\w*\s+работать"
         r"|не\s+открывается|не\s+загружается|не\s+поднимается|рухнул\w*|отвалил\w*)")
_PATTERNS = tuple(re.compile(p, re.I) for p in (
    # «DiServer полностью не работает», «совсем не запускается»
    r"(?<!не\s)(?:полностью|совсем|вообще|целиком|абсолютно)\s+(?:ничего\s+)?" + _DOWN,
    # «система недоступна», «сервер упал», «DiServer v.3 не запускается»
    r"\b" + _THING + r"(?:\s+[\w.«»\"-]+){0,3}?\s+(?:сейчас\s+|опять\s+|снова\s+|с\s+утра\s+)?"
    + _DOWN,
    # «не запускается DiServer», «недоступен портал»
    _DOWN + r"\s+(?:наш\w*\s+)?" + _THING,
    # «все пользователи не могут войти», «никто не может зайти»
    r"(?:все|никто\s+из)\s+(?:наш\w*\s+)?(?:пользовател\w*|сотрудник\w*|участник\w*"
    r"|клиент\w*|абонент\w*)\s+(?:\w+\s+)?не\s+мо\w+\s+(?:войти|зайти|работать|подключиться"
    r"|авторизоваться|отправить|получить|подписать)",
    r"никто\s+не\s+может\s+(?:войти|зайти|работать|подключиться|авторизоваться)",
    # «работа остановлена», «работа полностью парализована»
    r"работа\s+(?:\w+\s+)?(?:полностью\s+)?(?:остановлена|парализована|встала|невозможна)",
    r"невозможно\s+работать|работать\s+невозможно",
    r"(?:ошибк\w*\s+)?50[0234]\s+(?:у\s+всех|на\s+всех|для\s+всех)",
))
# Failures of what is not ours (§1.3, §1.4): a sentence naming them is no outage.
_NOT_OURS = re.compile(
    r"крипто\w*|электронн\w+\s+подпис\w*|\bэп\b|\bэцп\b|сертификат\w*|рутокен\w*|токен\w*"
    r"|браузер\w*|chrome|firefox|интернет\w*|почт\w*|хостинг\w*|принтер\w*|сканер\w*"
    r"|антивирус\w*|windows|виндовс\w*|роутер\w*|провайдер\w*|vpn\b", re.I)
_SENTENCES = re.compile(r"(?<=[.!?\n])\s+")
_LINES = 25  # the description is at the top; a quoted thread below is not it


def outage_described(subject: str, text: str) -> str:
    """The phrase of the letter that describes a total failure of our programs, or ""."""
    own = [line for line in text.splitlines() if not line.lstrip().startswith(">")][:_LINES]
    for sentence in _SENTENCES.split(subject + ".\n" + "\n".join(own)):
        if _NOT_OURS.search(sentence):
            continue
        found = [m.group(0) for pattern in _PATTERNS if (m := pattern.search(sentence))]
        if found:  # the fullest description: «DiServer v.3 полностью не работает»
            return " ".join(max(found, key=len).split())
    return ""
