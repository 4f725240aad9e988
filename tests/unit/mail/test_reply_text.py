"""A reply, from any mail client, reaches the other side without the quoted history."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from daemon.mail.reply_text import REPLY_MARKER, new_text_of_reply

ANSWER = "Добрый день!\n\nПроблема решена, обновите страницу."

# What each client puts under the answer when it quotes the letter it replies to.
QUOTED_BY_CLIENT = {
    "gmail-en": "On Mon, Nov 24, 2026 at 3:30 PM Техподдержка <techsupport@example.ru> wrote:\n"
    "\n> Ваша заявка SD-000013 принята.\n>\n> -- \n> Техподдержка",
    "gmail-en-wrapped": "On Mon, Nov 24, 2026 at 3:30 PM Техподдержка <\n"
    "techsupport@example.ru> wrote:\n\n> Ваша заявка принята.",
    "gmail-ru": "пн, 24 нояб. 2026 г. в 15:30, Техподдержка <techsupport@example.ru>:\n\n"
    "> Ваша заявка принята.",
    "gmail-ru-wrapped": "пн, 24 нояб. 2026 г. в 15:30, Техподдержка\n"
    "<techsupport@example.ru>:\n\n> Ваша заявка принята.",
    "thunderbird-ru": "24.11.2026 15:30, Техподдержка пишет:\n> Ваша заявка принята.",
    "thunderbird-en": "On 24/11/2026 15:30, Techsupport wrote:\n> Your request is open.",
    "thunderbird-no-date": "Техподдержка пишет:\n> Ваша заявка принята.",
    "apple-mail": "> On 24 Nov 2026, at 15:30, Techsupport <techsupport@example.ru> wrote:\n"
    ">\n> Ваша заявка принята.",
    "yandex": "24.11.2026, 15:30, \"Техподдержка\" <techsupport@example.ru>:\n"
    "> Ваша заявка принята.",
    "yandex-no-quote-marks": "24.11.2026, 15:30, \"Техподдержка\" <techsupport@example.ru>:\n"
    "Ваша заявка принята.",
    "mail-ru": "Понедельник, 24 ноября 2026, 15:30 +03:00 от Техподдержка "
    "<techsupport@example.ru>:\n> Ваша заявка принята.",
    "mail-ru-written": "24 ноября 2026 г., 15:30 пользователь Техподдержка написал(а):\n"
    "> Ваша заявка принята.",
    "outlook-en": "________________________________\nFrom: Techsupport <techsupport@example.ru>\n"
    "Sent: Monday, November 24, 2026 3:30 PM\nTo: Ivan <ivan@romashka.example>\n"
    "Subject: [SD-000013] Request\n\nYour request is open.",
    "outlook-ru": "-----Original Message-----\nОт: Техподдержка <techsupport@example.ru>\n"
    "Отправлено: 24 ноября 2026 г. 15:30\nКому: Иван\nТема: [SD-000013] Заявка\n\nПринята.",
    "outlook-ru-no-rule": "От: Техподдержка <techsupport@example.ru>\n"
    "Отправлено: понедельник, 24 ноября 2026 г. 15:30\nКому: Иван <ivan@romashka.example>\n"
    "Копия: \nТема: RE: [SD-000013] Заявка\n\nПринята.",
    "outlook-html-to-text": "*From:* Techsupport [mailto:techsupport@example.ru]\n"
    "*Sent:* Monday, November 24, 2026 3:30 PM\n*To:* Ivan\n*Subject:* x\n\nold",
    "outlook-express": "----- Original Message -----\nFrom: Techsupport\nTo: Ivan\n"
    "Sent: Monday, November 24, 2026 3:30 PM\nSubject: x\n\nold",
    "original-message": "-----Original Message-----\nold text",
    "original-message-ru": "-----Исходное сообщение-----\nold text",
    "original-message-ru-spaced": "----- Исходное сообщение -----\nold text",
    "forwarded-gmail": "---------- Forwarded message ---------\nFrom: Techsupport\nold",
    "forwarded-yandex": "-------- Пересылаемое сообщение --------\n24.11.2026, 15:30, x\nold",
    "forwarded-thunderbird-ru": "-------- Перенаправленное сообщение --------\nТема: x\nold",
    "forwarded-apple": "Begin forwarded message:\n\nFrom: Techsupport\nold",
    "our-marker": f"{REPLY_MARKER}\n\nНовая заявка SD-000013 от ivan@romashka.example",
    "our-marker-mangled": "--- Пишите ответ выше этой строки ---\n\nНовая заявка",
    "our-marker-nbsp": "———\u00a0Пишите  ответ выше этой строки\u00a0———\nНовая заявка",
    "zendesk-style": "## Please type your reply above this line ##\nold",
    "brief-style": "-- Ответьте выше этой строки --\nold",
    "plain-quote": "> Ваша заявка принята.\n> Техподдержка",
    "indented-quote": "  > Ваша заявка принята.",
    "signature": "-- \nИван Петров\nООО «Ромашка»\n+7 000 000-00-00",
    "signature-no-space": "--\nИван Петров",
}


@pytest.mark.parametrize("client", sorted(QUOTED_BY_CLIENT))
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_the_answer_above_the_quote_is_kept(client: str, newline: str) -> None:
    body = ANSWER + "\n\n" + QUOTED_BY_CLIENT[client]
    assert new_text_of_reply(body.replace("\n", newline)) == ANSWER


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", ""),
        ("   \n\n  ", ""),
        ("Просто текст.", "Просто текст."),
        ("  Отступ сохраняется\n  внутри  ", "Отступ сохраняется\n  внутри"),
        ("Первая\n\n\nВторая\n\n", "Первая\n\n\nВторая"),
        # Only a quote, nothing written: nothing to send.
        ("> всё процитировано\n> целиком", ""),
        # Answered below the quote (bottom-posting) or between its lines.
        ("On 24.11.2026 15:30, Техподдержка wrote:\n> Вопрос?\n\nОтвет снизу.", "Ответ снизу."),
        ("> Вопрос 1?\nОтвет 1.\n> Вопрос 2?\nОтвет 2.\n-- \nИван", "Ответ 1.\nОтвет 2."),
        # The first marker wins, whatever comes after.
        ("Ответ\n-- \nПодпись\n> цитата", "Ответ"),
        ("Ответ\n> цитата\n-- \nПодпись", "Ответ"),
        (f"Ответ\n{REPLY_MARKER}\n> цитата", "Ответ"),
        # Our marker quoted by the client still cuts.
        (f"Ответ\n\n> {REPLY_MARKER}\n> Уведомление", "Ответ"),
        # Above the marker, nothing: an empty reply.
        (f"{REPLY_MARKER}\nУведомление", ""),
        # Trailing rules and blank lines before the quote go too.
        ("Ответ\n\n____________\n\n-----Original Message-----\nold", "Ответ"),
    ],
)
def test_new_text_of_reply(body: str, expected: str) -> None:
    assert new_text_of_reply(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        # Lines that look a little like markers but are a person's text.
        "Ошибка 500 появляется, когда пользователь пишет:\nвход в систему",
        "Коллега пишет:\nвсё сломалось",
        "От: бухгалтерии пришло письмо\nс вопросом",
        "From: the logs, the error is clear.\nTo: be fixed",
        "Отправлено: три письма\nКому: никому",
        "Пишите на адрес ivan@romashka.example:\nотвечу",
        "Сегодня 24.11.2026 звонил Иван <ivan@romashka.example>",
        "Ответ ниже этой строки не нужен\nтекст",
        "Ошибка выше этой строки в логе\nтекст",
        "---\nразделитель markdown\n---",
        "—\nтире",
        "a -- b\n--x\nтекст",
        "1. Первое\n2. Второе",
        "Время 15:30, <ivan@romashka.example> написал в чат:\nтекст",  # no quote follows
    ],
)
def test_a_persons_text_is_not_mistaken_for_a_marker(body: str) -> None:
    assert new_text_of_reply(body) == body.strip()


def test_extra_markers() -> None:
    body = "Ответ\n=== REPLY ABOVE ===\nуведомление"
    assert new_text_of_reply(body) == body
    assert new_text_of_reply(body, markers=["Reply above"]) == "Ответ"
    assert new_text_of_reply(body, markers=["", "---"]) == body  # empty markers ignored


# ---------------------------------------------------------------- properties

# Text a person writes that contains no marker of any kind: letters, spaces and
# sentence punctuation, no line starting with ">" or "-", no colons.
_plain_line = st.text(
    alphabet=st.sampled_from(list("абвгдежзийклмнопрстуфхцчшщыьэюяАБВГДЕЖЗИЙКabcxyzXYZ ,.!?")),
    max_size=40,
)
plain_text = st.lists(_plain_line, max_size=6).map("\n".join)
quotes = st.sampled_from(sorted(QUOTED_BY_CLIENT.values()))


@given(plain_text)
def test_text_without_markers_is_kept_whole(text: str) -> None:
    assert new_text_of_reply(text) == "\n".join(line.rstrip() for line in text.split("\n")).strip()


@given(plain_text, quotes, st.sampled_from(["\n", "\n\n", "\n \n"]))
def test_whatever_the_quote_the_answer_survives(text: str, quote: str, gap: str) -> None:
    expected = new_text_of_reply(text)
    if expected:  # nothing above: the bottom-posting rule may apply instead
        assert new_text_of_reply(text + gap + quote) == expected


@given(plain_text, st.text())
def test_nothing_below_our_marker_matters(text: str, below: str) -> None:
    assert new_text_of_reply(f"{text}\n{REPLY_MARKER}\n{below}") == new_text_of_reply(text)


_pieces = st.lists(
    st.one_of(_plain_line, quotes, st.sampled_from([">", "> x", "-- ", "", REPLY_MARKER])),
    max_size=8,
).map("\n".join)


@given(st.one_of(st.text(), _pieces))
@example("x\n> q\n\n-- \nsig")
def test_the_result_is_made_of_the_letters_own_lines(body: str) -> None:
    result = new_text_of_reply(body)
    source = {line.rstrip() for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n")}
    stripped = {line.strip() for line in source}
    assert all(line in source or line.strip() in stripped
               for line in (result.split("\n") if result else []))
    assert result == result.strip()
