"""Robots recognised by what they say: free-text bounces and out-of-office replies
whose headers look like a person's, and the people who write about the same things."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage, Message

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.mail.robot_text import robot_by_content, system_sender

PERSON = "Анна Иванова <a.ivanova@romashka.example>"


def letter(subject: str, text: str, sender: str = PERSON, *,
           returned: str | None = None) -> Message:
    """A letter as a person's client would write it, optionally with a returned copy."""
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "techsupport@example.ru"
    m["Subject"] = subject
    m.set_content(text)
    if returned is not None:
        inner = email.message_from_string(returned, policy=email.policy.default)
        m.add_attachment(inner)
    return email.message_from_bytes(m.as_bytes())


def verdict(subject: str, text: str, sender: str = PERSON, *, replying: bool = False,
            returned: str | None = None) -> str | None:
    m = letter(subject, text, sender, returned=returned)
    return robot_by_content(m, subject, text, replying=replying)


OUR_ACK = ("From: techsupport@example.ru\nTo: a.ivanova@romashka.example\n"
           "Subject: [SD-000013] Error\nMessage-ID: <ack.1.x@example.ru>\n\n"
           "TID: SD-000013\n")

# ---------------------------------------------------------------- bounces

# (subject, opening text, sender): bounces that open with their mail system's words.
OPENINGS = [
    pytest.param("failure notice",
                 "Hi. This is the qmail-send program at mx.romashka.example.\n"
                 "I'm afraid I wasn't able to deliver your message to the following "
                 "addresses.\nThis is a permanent error; I've given up. Sorry it didn't "
                 "work out.\n\n<a.ivanova@romashka.example>:\nSorry, no mailbox here by "
                 "that name. (#5.1.1)\n", "root@mx.romashka.example", id="qmail"),
    pytest.param("DELIVERY FAILURE: User a.ivanova not listed in Domino Directory",
                 "Your message\n\n  Subject: [SD-000013] Ошибка при отправке\n\nwas not "
                 "delivered to:\n\n  a.ivanova@romashka.example\n\nbecause:\n\n  User "
                 "a.ivanova (a.ivanova@romashka.example) not listed in Domino Directory\n",
                 "Notes Admin <notes@romashka.example>", id="domino"),
    pytest.param("Undeliverable: [SD-000013] Ошибка при отправке",
                 "Your message\n\n  To:      Иванова Анна\n  Subject: [SD-000013] Ошибка\n"
                 "  Sent:    Tue, 10 Nov 2026 11:25:38 +0300\n\ndid not reach the following "
                 "recipient(s):\n\nIVANOVA A. on Tue, 10 Nov 2026 11:26:02 +0300\n"
                 "    The recipient name is not recognized\n",
                 "Exchange <exch@romashka.example>", id="exchange-5.5"),
    pytest.param("Undeliverable: [SD-000013] Ошибка при отправке",
                 "Your message did not reach some or all of the intended recipients.\n\n"
                 "      Subject:  [SD-000013] Ошибка при отправке\n      Sent:  10.11.2026 "
                 "11:25\n\nThe following recipient(s) cannot be reached:\n", PERSON,
                 id="exchange-2003"),
    pytest.param("Недоставленное сообщение",
                 "Не удалось доставить сообщение следующим получателям или группам:\n\n"
                 "a.ivanova@romashka.example\nАдрес электронной почты не найден.\n",
                 "Microsoft Outlook <exch@romashka.example>", id="exchange-2010-ru"),
    pytest.param("Не доставлено: [SD-000013] Ошибка",
                 "Ваше сообщение\n\n  Кому: Иванова Анна\n  Тема: [SD-000013] Ошибка\n\n"
                 "не дошло до следующих получателей:\n", "exch@romashka.example",
                 id="exchange-5.5-ru"),
    pytest.param("Returned mail: see transcript for details",
                 "The original message was received at Tue, 10 Nov 2026 11:25:40 +0300\n"
                 "from out.example.ru [192.0.2.25]\n\n   ----- The following addresses had "
                 "permanent fatal errors -----\n<a.ivanova@romashka.example>\n", PERSON,
                 id="sendmail"),
    pytest.param("Undelivered Mail Returned to Sender",
                 "This is the mail system at host mx.romashka.example.\n\nI'm sorry to have "
                 "to inform you that your message could not\nbe delivered to one or more "
                 "recipients.\n", "Почтовик <mail@romashka.example>", id="postfix-wrapped"),
    pytest.param("Mail delivery failed: returning message to sender",
                 "This message was created automatically by mail delivery software.\n\nA "
                 "message that you sent could not be delivered to one or more of its\n"
                 "recipients. This is a permanent error.\n", PERSON, id="exim"),
    pytest.param("VIRUS ALERT: [SD-000013] Ошибка",
                 "VIRUS ALERT\n\nOur content checker found\n    virus: Eicar-Test-Signature\n"
                 "in an email to you from:\n    techsupport@example.ru\n", PERSON,
                 id="amavisd-virus-alert"),
    pytest.param("Blocked message",
                 "This is an automatic message from the content filter at romashka.example."
                 "\nYour message was blocked because it contained a banned attachment.\n",
                 PERSON, id="content-filter"),
    pytest.param("Недоставленное сообщение",
                 "Это письмо создано автоматически сервером Mail.Ru, отвечать на него не "
                 "нужно.\n\nК сожалению, Ваше письмо не может быть доставлено одному или "
                 "нескольким получателям:\n", PERSON, id="mailru"),
    pytest.param("Delivery Status Notification (Failure)",
                 "** Address not found **\n\nYour message wasn't delivered to "
                 "a.ivanova@romashka.example because the address couldn't be found.\n",
                 PERSON, id="gmail"),
    pytest.param("Сообщение",
                 "Hi. This is the qmail-send program at mx.example.\nI'm afraid I wasn't able "
                 "to deliver your message.\n", PERSON, id="qmail-plain-subject"),
]


@pytest.mark.parametrize(("subject", "text", "sender"), OPENINGS)
def test_a_bounce_is_known_by_its_opening(subject: str, text: str, sender: str) -> None:
    assert verdict(subject, text, sender) == "bounce-text (opening)"


# Bounces without a known opening: a system sender and more.
@pytest.mark.parametrize(("subject", "text", "sender", "returned", "expected"), [
    pytest.param("Недоставленное сообщение",
                 "Ваше сообщение не доставлено.\nПричина: 550 5.1.1 пользователь не найден\n",
                 "Почтовая система <robot@mail.romashka.example>", OUR_ACK,
                 "bounce-text (system sender, returned copy, subject, words)", id="ru-attached"),
    pytest.param("Недоставленное сообщение", "Ваше сообщение не доставлено адресату.\n",
                 "Почтовый сервер <mail@romashka.example>", None,
                 "bounce-text (system sender, subject, words)", id="ru-no-copy"),
    pytest.param("Re:Test", "Error: Invalid user address\n\nError message below:\n550 - "
                 "Requested action not taken: no such user here\n\nMessage details:\n"
                 "  MAIL FROM: techsupport@example.ru\n  RCPT TO: a@romashka.example\n",
                 "post_master@gw.romashka.example", None,
                 "bounce-text (system sender, returned copy, words)", id="james-gateway"),
    pytest.param("Message blocked", "Content filter: the attachment was quarantined.\n"
                 "Received: from out.example.ru\nMessage-ID: <ack.1.x@example.ru>\n",
                 '"Content-filter at romashka.example" <cf@romashka.example>', None,
                 "bounce-text (system sender, returned copy, subject, words)",
                 id="av-quoted-headers"),
])
def test_a_bounce_is_known_by_its_sender_and_more(subject: str, text: str, sender: str,
                                                  returned: str | None, expected: str) -> None:
    assert verdict(subject, text, sender, returned=returned) == expected


# People who write about delivery: an EDO system delivers documents.
@pytest.mark.parametrize(("subject", "text", "sender", "returned"), [
    pytest.param("Сообщение не доставлено контрагенту",
                 "Здравствуйте! При отправке УПД сообщение не доставлено контрагенту, "
                 "статус «Не доставлено». Ошибка 550. ИНН 7707083893.\n", PERSON, None,
                 id="edo-not-delivered"),
    pytest.param("Недоставленное сообщение в ЭДО",
                 "Ваше сообщение не доставлено — так пишет Организатор ЭДО v.3.14 при "
                 "отправке счёта. Что делать?\n", PERSON, None, id="edo-quoting-its-error"),
    pytest.param("Не удалось доставить документ",
                 "Не удалось доставить документ: ящик переполнен? Письмо, которое вернулось, "
                 "во вложении.\n", PERSON, OUR_ACK, id="client-attaches-a-letter"),
    pytest.param("Fwd: Undeliverable: [SD-000013] Ошибка",
                 "Коллеги, пришло вот это.\n\nYour message did not reach some or all of the "
                 "intended recipients.\n", PERSON, None, id="forwarded-bounce"),
    pytest.param("Пересл: Недоставленное сообщение",
                 "Hi. This is the qmail-send program at mx.example.\n", PERSON, None,
                 id="forwarded-ru"),
    pytest.param("Не доходят письма",
                 "Добрый день, вот что приходит:\nHi. This is the qmail-send program at "
                 "mx.example.\nI'm afraid I wasn't able to deliver your message.\n",
                 PERSON, None, id="pasted-after-a-persons-line"),
    pytest.param("Вопрос по фильтру",
                 "Здравствуйте!\nУ нас стоит content filter, и письма с вирусами "
                 "блокируются. Returned mail приходит не всегда.\nКак настроить "
                 "уведомления о недоставленных документах?\n", PERSON, None,
                 id="topic-words-only"),
    pytest.param("Delivery status notification: как узнать статус отправки?",
                 "Где посмотреть, доставлен ли документ контрагенту?\n", PERSON, None,
                 id="dsn-words-in-a-question"),
    pytest.param("Ошибка доставки",
                 "Система пишет 5.1.1 user unknown при отправке уведомлений.\n",
                 "Системный администратор ООО Ромашка <admin@romashka.example>", None,
                 id="a-clients-sysadmin-asks"),
])
def test_a_person_writing_about_delivery_is_a_person(subject: str, text: str, sender: str,
                                                     returned: str | None) -> None:
    assert verdict(subject, text, sender, returned=returned) is None


@pytest.mark.parametrize(("sender", "system"), [
    ("Mail Delivery System <mail@mx.example>", True),
    ("Mail Delivery Subsystem <root@mx.example>", True),
    ('"Content-filter at mx.example" <cf@mx.example>', True),
    ("=?utf-8?b?0J/QvtGH0YLQvtCy0LDRjyDRgdC40YHRgtC10LzQsA==?= <x@mx.example>", True),
    ("post_master@vtext.example", True),
    ("bounces+123@lists.example", True),
    ("Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@x.example>", True),
    ("Анна Иванова <a.ivanova@romashka.example>", False),
    ("postman.pat@romashka.example", False),
    ("Системный администратор ООО Ромашка <admin@romashka.example>", False),  # a person
])
def test_system_senders(sender: str, system: bool) -> None:
    assert system_sender(letter("x", "x", sender)) is system


# ---------------------------------------------------------------- out of office

OOF = [
    pytest.param("Автоматический ответ: [SD-000013] Ошибка", "Спасибо за письмо.", False,
                 "subject", id="ru-exchange-subject"),
    pytest.param("Automatic reply: [SD-000013] Ошибка", "Thanks.", False, "subject",
                 id="en-exchange-subject"),
    pytest.param("Out of Office: Re: [SD-000013]", "Thanks.", False, "subject", id="ooo"),
    pytest.param("Abwesenheitsnotiz: [SD-000013] Ошибка", "Danke.", False, "subject",
                 id="de-subject"),
    pytest.param("Réponse automatique : [SD-000013]", "Merci.", False, "subject",
                 id="fr-subject"),
    pytest.param("Ivanova Anna is out of the office.", "Back on Monday.", False, "subject",
                 id="lotus-subject"),
    pytest.param("Re: [SD-000013] Ошибка при отправке",
                 "Здравствуйте!\nЯ в отпуске до 20.11.2026. По срочным вопросам обращайтесь "
                 "к Петрову П. П., petrov@romashka.example.\n", True,
                 "opening, meanwhile", id="ru-vacation"),
    pytest.param("Re: [SD-000013] Ошибка при отправке",
                 "В настоящее время я нахожусь вне офиса и отвечу на Ваше письмо после "
                 "возвращения.\n", True, "opening, meanwhile", id="ru-out-of-office"),
    pytest.param("Re: [SD-000013] Ошибка",
                 "Добрый день.\nВ настоящее время я отсутствую в офисе.\nВернусь 15.12.\n",
                 True, "opening, meanwhile", id="ru-away-back-on"),
    pytest.param("Re: [SD-000013] Ошибка",
                 "Здравствуйте!\nВ настоящее время я отсутствую в офисе и не имею доступа к "
                 "почте.\n", True, "opening, meanwhile", id="ru-away-no-mail"),
    pytest.param("RE: [SD-000013] Ошибка",
                 "Thank you for your email.\nI am out of the office until 20 November with "
                 "limited access to email. For urgent matters please contact "
                 "petrov@romashka.example.\n", True, "opening, meanwhile", id="en-ooo"),
    pytest.param("Re: [SD-000013] Ошибка",
                 "I'm on vacation and will reply when I return.\n", True,
                 "opening, meanwhile", id="en-vacation"),
    pytest.param("AW: [SD-000013] Ошибка",
                 "Vielen Dank für Ihre Nachricht.\nIch bin bis 20.11. nicht im Büro. In "
                 "dringenden Fällen wenden Sie sich bitte an Herrn Petrow.\n", True,
                 "opening, meanwhile", id="de"),
    pytest.param("RE: [SD-000013] Ошибка",
                 "Bonjour,\nJe suis absente du bureau jusqu'au 20 novembre. En cas d'urgence, "
                 "contactez M. Petrov.\n", True, "opening, meanwhile", id="fr"),
]


@pytest.mark.parametrize(("subject", "text", "replying", "evidence"), OOF)
def test_an_out_of_office_reply_without_headers(subject: str, text: str, replying: bool,
                                                evidence: str) -> None:
    assert verdict(subject, text, replying=replying) == f"out-of-office-text ({evidence})"


@pytest.mark.parametrize(("subject", "text", "replying"), [
    pytest.param("Не работает вход", "Здравствуйте! Я в отпуске до 20.11, но коллеги не "
                 "могут войти. По срочным вопросам обращайтесь ко мне.\n", False,
                 id="a-new-letter-is-not-a-reply"),
    pytest.param("Re: [SD-000013] Ошибка", "Спасибо, проверим. Я в отпуске до понедельника, "
                 "коллега Петров напишет подробности.\n", True, id="no-meanwhile-words"),
    pytest.param("Re: [SD-000013] Ошибка", "Проверили ещё раз, ошибка осталась. Вернусь к "
                 "вам с логами завтра.\n", True, id="coming-back-without-absence"),
    pytest.param("Re: [SD-000013] Ошибка", "Здравствуйте!\nОшибка повторяется, скриншот "
                 "приложен. Логин romashka-admin.\nЯ в отпуске до 20.11, по срочным вопросам "
                 "обращайтесь к Петрову.\n", True, id="said-late-in-a-real-letter"),
    pytest.param("Автоматический ответ не приходит", "Мы настроили автоматический ответ, "
                 "но он не приходит.\n", False, id="about-auto-replies"),
    pytest.param("Fwd: Automatic reply: [SD-000013]", "Смотрите, что пришло.\n", False,
                 id="forwarded"),
])
def test_a_person_mentioning_absence_is_a_person(subject: str, text: str,
                                                 replying: bool) -> None:
    assert verdict(subject, text, replying=replying) is None


def test_a_reply_prefix_counts_as_replying() -> None:
    text = "I am out of the office until Monday. I will respond when I return.\n"
    assert verdict("Re: hello", text) == "out-of-office-text (opening, meanwhile)"
    assert verdict("hello", text) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.text(max_size=2000))
def test_never_raises(subject: str, text: str) -> None:
    found = robot_by_content(letter("x", "x"), subject, text)
    assert found is None or found.startswith(("bounce-text (", "out-of-office-text ("))


def test_a_huge_text_is_read_in_bounded_time() -> None:
    text = ("Your message " + "To: x\n" * 50_000) + "was not delivered to"
    assert verdict("x", text) is None  # the opening is not at the start of a text this long
