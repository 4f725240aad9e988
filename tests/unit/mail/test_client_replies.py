"""§6 in clients' words: what they write after an answer or a closing (issue 19,
item 2). Real phrasings, typos and all: thanks and ratings never reopen; a real new
question or «открыть повторно» does; anything else stays closed and staff are asked."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.mail.client_replies import (
    QUESTION,
    RATING,
    REOPEN,
    THANKS,
    UNCLEAR,
    ReplyReading,
    rating_in,
    read_reply,
)

TABLE: list[tuple[str, str, int | None]] = [
    # thanks: recorded, never reopen
    ("Спасибо, всё работает!", THANKS, None),
    ("спасибо", THANKS, None),
    ("Спасибо большое!", THANKS, None),
    ("Огромное спасибо за помощь!", THANKS, None),
    ("Большое спасибо, вопрос решён.", THANKS, None),
    ("Всё заработало, благодарю!", THANKS, None),
    ("Благодарим за оперативное решение проблемы!", THANKS, None),
    ("спс", THANKS, None),
    ("Спасибо,все работает", THANKS, None),
    ("спасибо все ок", THANKS, None),
    ("Спасиб, заработало", THANKS, None),
    ("Спосибо большое", THANKS, None),
    ("сапсибо!", THANKS, None),
    ("Благодорю за помощь", THANKS, None),
    ("Пасиб)", THANKS, None),
    ("Thanks, it works now", THANKS, None),
    ("Спасибо, ошибка больше не появляется.", THANKS, None),
    ("Всё работает, можно закрывать.", THANKS, None),
    ("Спасибо, проблем больше нет", THANKS, None),
    ("Добрый день! Спасибо, ошибку исправили, всё хорошо.\nС уважением, Ольга", THANKS, None),
    ("Хотела поблагодарить Анну за помощь!", THANKS, None),
    ("Вопрос снят, спасибо.", THANKS, None),
    # ratings: recorded, never reopen
    ("5", RATING, 5),
    ("4.", RATING, 4),
    ("5!", RATING, 5),
    ("Оценка: 4", RATING, 4),
    ("оценка 5", RATING, 5),
    ("Оценка - 3", RATING, 3),
    ("5 из 5", RATING, 5),
    ("4/5", RATING, 4),
    ("ставлю 4", RATING, 4),
    ("Ставлю вам пятёрку!", RATING, 5),
    ("Поставил бы 5", RATING, 5),
    ("★★★★☆", RATING, 4),
    ("⭐⭐⭐⭐⭐", RATING, 5),
    ("5 баллов, спасибо!", RATING, 5),
    ("5, спасибо, всё быстро", RATING, 5),
    ("Моя оценка — 5. Спасибо!", RATING, 5),
    ("Спасибо!\nОценка: 5", RATING, 5),
    ("2", RATING, 2),
    # a rating and a problem: recorded, and the ticket reopens
    ("3, проблема осталась", QUESTION, 3),
    ("Оценка 2. Ошибка 500 снова появляется", QUESTION, 2),
    # explicit reopening
    ("Откройте, пожалуйста, обращение повторно", REOPEN, None),
    ("открыть повторно", REOPEN, None),
    ("Прошу переоткрыть обращение", REOPEN, None),
    ("#reopen", REOPEN, None),
    ("Не закрывайте, пожалуйста, завтра проверим ещё раз", REOPEN, None),
    ("Рано закрыли, откройте снова", REOPEN, None),
    # a real new question or the problem back: the ticket reopens
    ("Спасибо, а как настроить роуминг с другим оператором?", QUESTION, None),
    ("3 дня не работает выгрузка", QUESTION, None),
    ("Снова ошибка 500 при входе", QUESTION, None),
    ("Проблема осталась, отчёт так и не формируется", QUESTION, None),
    ("Спасибо, но теперь не открывается карточка документа", QUESTION, None),
    ("Подскажите ещё, где посмотреть журнал?", QUESTION, None),
    ("ошибка по-прежнему возникает", QUESTION, None),
    ("Добрый день. У нас опять не приходят входящие документы.", QUESTION, None),
    ("Спасибо. Есть ещё вопрос по лицензии.", QUESTION, None),
    ("После обновления перестал работать экспорт", QUESTION, None),
    # unclear: stays closed, staff are asked
    ("Добрый день. Пересылаю вам письмо нашей бухгалтерии.", UNCLEAR, None),
    ("Ок", UNCLEAR, None),
    ("", UNCLEAR, None),
    ("Принято.", UNCLEAR, None),
]


def test_the_table_holds_at_least_forty_phrasings() -> None:
    assert len(TABLE) >= 40


@pytest.mark.parametrize(("text", "kind", "rating"), TABLE)
def test_a_reply_is_read_as_a_person_would(text: str, kind: str, rating: int | None) -> None:
    assert read_reply(text) == ReplyReading(kind, rating)


@pytest.mark.parametrize("text", [
    "10 пользователей не могут войти", "1.5 часа ждём", "12:00 — время сбоя",
    "3-й раз пишу", "2 сотрудника", "5 декабря перестало работать", "2026 год",
])
def test_a_counted_digit_is_no_rating(text: str) -> None:
    assert rating_in(text) is None


@given(st.integers(min_value=1, max_value=5),
       st.sampled_from(["{n}", "{n}.", "Оценка: {n}", "оценка {n}", "{n} из 5", "{n}/5",
                        "ставлю {n}", "Ставлю {n}!", "{n} баллов", "{stars}"]),
       st.sampled_from(["", "\nСпасибо!", ", спасибо", "\n\n> Обращение закрыто."]))
def test_any_rating_form_is_recorded_and_never_reopens(n: int, form: str, tail: str) -> None:
    text = form.format(n=n, stars="★" * n + "☆" * (5 - n)) + tail
    reading = read_reply(text)
    assert reading.rating == n and reading.kind == RATING and not reading.reopens


@pytest.mark.parametrize("text", [
    "Дополнение: ошибка повторяется.", "Ошибка при подписании пакета.",
    "У бухгалтера зависает форма отчёта", "Не грузится список контрагентов",
])
def test_trouble_reported_without_thanks_is_a_new_question(text: str) -> None:
    assert read_reply(text) == ReplyReading(QUESTION)


@pytest.mark.parametrize(("body", "rating"), [
    ("4\n\n-----Original Message-----\nFrom: techsupport@example.ru\n"
     "Пожалуйста, оцените работу службы технической поддержки", 4),
    ("Оценка: 5, спасибо!\n\n08.12.2026, 12:00, techsupport@example.ru пишет:\n"
     "> Обращение SD-000013 закрыто.\n> Ответьте цифрой от 1 до 5.", 5),
    ("> Обращение SD-000013 закрыто.\n> Пожалуйста, оцените работу: цифру от 1 до 5.\n\n"
     "5\n", 5),  # answered below the quote
])
def test_a_rating_in_a_reply_that_quotes_the_closing_letter(body: str, rating: int) -> None:
    from daemon.mail.reply_text import new_text_of_reply

    assert read_reply(new_text_of_reply(body)) == ReplyReading(RATING, rating)
