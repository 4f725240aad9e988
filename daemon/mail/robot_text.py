"""Robots recognised by what they say, when their headers say nothing (issue 21, item 7).

Plenty of automatic letters come without a null sender, an Auto-Submitted header or a
multipart/report: free-text bounces (qmail, Lotus Domino, Exchange 5.5/2003, the
sendmail/Postfix "Returned mail", anti-virus gateways, «Недоставленное сообщение»)
that reach us through a forwarding mailbox or IMAP without their envelope, and
out-of-office replies written by mail clients that set no header at all.
`robot_by_content` reads them by their words, and weighs several kinds of evidence
rather than one phrase, because our clients write about delivery all day: an EDO
system *delivers documents*, and «сообщение не доставлено контрагенту» is a question
for support, not a bounce.

The evidence, each kind counted once:

- *opening* - the boilerplate a mail system opens its report with ("Hi. This is the
  qmail-send program", "Your message … was not delivered to", «Не удалось доставить
  сообщение следующим получателям»), at the very start of the text, not after a
  person's "here is what came back:";
- *system sender* - From or Sender names a mail system ("Mail Delivery System",
  «Почтовая система», Content-filter, MicrosoftExchange…@, post_master@, bounce@);
- *returned copy* - the returned letter attached (message/rfc822, text/rfc822-
  headers), or its raw headers or the SMTP dialogue quoted in the text;
- *subject* - "Undeliverable:", "Returned mail", "VIRUS ALERT", «Недоставленное
  сообщение», «Не доставлено:»;
- *words* - delivery-failure words or an SMTP diagnostic (550 5.1.1, "user unknown",
  «почтовый ящик переполнен») in the text.

A bounce is an opening; or a system sender with a returned copy and any subject or
words; or a system sender whose subject and words both speak of failed delivery.
Topic alone - the subject and the words, however many - is a person. An
out-of-office reply is a subject only auto-responders write ("Автоматический
ответ:", "Out of Office:", "Abwesenheitsnotiz:"), or a reply whose text opens with
"I am out of the office until…" / «Я в отпуске до…» in its first lines and says what
to do meanwhile («по срочным вопросам…», "when I return") above any quote. A forwarded letter (Fwd:,
Пересл:) is never a robot here: a person sent it on.

flufl.bounce (GNU Mailman's bounce detectors, 6.0.0) was measured against these rules
on the shared corpus of 1,541 letters: it saw failures in 5 letters our rules leave
to people (Amazon SES JSON notifications, which are not bounces of our mail) and in
10 ordinary letters with uuencoded bodies (their junk read as addresses), raised in
its Yale detector on 36 letters and took over 5 s on one; it finds nothing in
out-of-office replies. It is not used.

Pure: values in, values out; never raises on the letters it is given.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from daemon.mail.header_decode import decode_subject
from daemon.mail.reply_text import new_text_of_reply

__all__ = ["CONTENT_REASONS", "robot_by_content"]

CONTENT_REASONS: Final = ("bounce-text", "out-of-office-text")

_HEAD = 3000  # characters of text the phrases are looked for in
_WHOLE = 60_000  # characters searched for quoted headers and the SMTP dialogue
_OPENING_AT = 80  # an opening starts this close to the text's start, on its first line


def _any(*patterns: str) -> re.Pattern[str]:
    """One pattern of many; a space in them (outside [...]) is any run of whitespace,
    because mail systems and clients wrap their lines anywhere."""
    return re.compile("|".join(f"(?:{_spaced(p)})" for p in patterns), re.IGNORECASE)


def _spaced(pattern: str) -> str:
    out: list[str] = []
    depth = 0
    for ch in pattern:
        depth += (ch == "[") - (ch == "]") if out[-1:] != ["\\"] else 0
        out.append(r"\s+" if ch == " " and depth == 0 else ch)
    return "".join(out)


# ---------------------------------------------------------------- bounces

# What mail systems open their reports with, in the words of their templates.
_OPENINGS = _any(
    r"hi\.\s+this is the qmail-send program",  # qmail
    r"i'?m afraid i wasn'?t able to deliver your message",  # qmail, in the middle
    r"this is the mail system at host",  # Postfix
    r"i'?m sorry to have to inform you that (?:your|the) message",  # Postfix
    r"this message was created automatically by mail delivery software",  # Exim
    r"a message that you sent could not be delivered to one or more",  # Exim
    r"the original message was received at",  # sendmail
    r"-+\s*the following addresses? had permanent fatal errors",  # sendmail
    r"-+\s*transcript of session follows",  # sendmail
    r"your message did not reach some or all of the intended recipients",  # Exchange 2003
    r"your message\s+(?:(?:to|cc|subject|sent|date):[^\n]*\s+)+"
    r"(?:did not reach the following recipient|was not delivered to)",  # Exchange 5.5, Domino
    r"delivery has failed to these recipients or (?:groups|distribution lists)",  # Exchange
    r"your message to \S+ couldn'?t be delivered",  # Exchange Online
    r"delivery to the following recipients? failed",  # Exchange, Gmail
    r"\*\*\s*(?:address not found|message not delivered|delivery incomplete)\s*\*\*",  # Gmail
    r"unable to deliver (?:your |this |the )?message to",
    r"an error occurred while trying to deliver the mail to the following",  # Amazon SES
    r"this is the mailer-daemon, please do not reply",  # OpenSMTPD
    r"i'?m sorry to have to tell you that your message was not able to be",  # SendGrid
    r"your message could not be sent\. a transcript of the attempts",
    r"your mail message to the following address(?:\(es\))? could not be delivered",
    r"a message that you sent contained one or more recipient addresses",  # Exim
    r"this report relates to a message you sent with the following header",  # PMDF
    r"-+ the following addresses had delivery problems",  # sendmail
    r"message could not be delivered to mobile",
    r"we had trouble delivering your message",
    r"#* automatic bounce notification",
    r"a message from <[^>\n]*> to: -> ",  # amavisd
    r"this is an automatically generated delivery status notification",
    r"the following message to <?[^\s>]+>? was undeliverable",
    r"(?:this is an automatic message from the|report from) (?:content|virus|mail) "
    r"(?:filter|scanner|security)",  # anti-virus gateways
    r"virus alert\b", r"our content checker found",  # amavisd
    r"a virus (?:was|has been) (?:found|detected) in (?:an?|the|your) (?:e-?mail|message)",
    r"не удалось доставить сообщение следующим получателям",  # Exchange 2007+, Russian
    r"ваше сообщение не дошло до некоторых или всех",  # Exchange 2003, Russian
    r"ваше сообщение\s+(?:(?:кому|копия|тема|отправлено|дата):[^\n]*\s+)+"
    r"не (?:дошло|было доставлено|доставлено)",  # Exchange 5.5, Domino, Russian
    r"это письмо (?:создано автоматически|отправлено) (?:почтовым )?сервером",  # Mail.ru, Яндекс
    r"ваше письмо не может быть (?:отправлено|доставлено)",
    r"к сожалению,? (?:ваше )?(?:письмо|сообщение) не (?:может быть|было|удалось) доставлен",
    r"сообщение не может быть доставлено (?:одному или нескольким|следующим) получател",
)

# What failed delivery is called, in a subject or a text; a person writes these too.
_FAILURE_WORDS = (
    r"undeliver(?:able|ed)", r"non[- ]?deliver(?:y|able)", r"not (?:been )?delivered",
    r"could not be delivered", r"delivery (?:status notification|failure|failed|problem|"
    r"has failed|notification)", r"failure notice", r"mail delivery failed",
    r"returned (?:mail|to sender)", r"mail system error", r"virus (?:alert|found|detected)",
    r"(?:banned|blocked|prohibited|infected) (?:content|attachment|file|message)",
    r"недоставленн", r"не доставлен", r"не удалось доставить", r"не может быть доставлен",
    r"возвращ[её]нн(?:ое|ая) (?:письмо|сообщение|почта)", r"ошибка доставки",
    r"обнаружен вирус", r"quarantined", r"content[- ]filter",
    r"(?:message|mail|e-?mail) (?:was |has been )?blocked", r"blocked (?:message|mail)",
)
_FAILURE = _any(*_FAILURE_WORDS)
# What a remote server says when it refuses a recipient.
_DIAGNOSTIC = _any(
    r"\b[45]\.\d{1,3}\.\d{1,3}\b",
    r"\b5[0-5]\d[ -][^\n]{0,40}(?:user|mailbox|recipient|address|relay|domain|host|"
    r"rejected|denied|unavailable|not taken|does not exist|unknown|full)",
    r"user unknown", r"unknown user", r"no such (?:user|mailbox|recipient)",
    r"mailbox (?:unavailable|full|not found|does not exist)", r"quota exceeded",
    r"recipient address rejected", r"host or domain name not found",
    r"not listed in (?:the )?(?:domino|public) directory",
    r"пользователь не найден", r"адресат не найден", r"(?:ящик|адрес) не существует",
    r"ящик переполнен", r"превышен(?:а)? квот",
)
# The sender is a mail system: words of its display name, and local parts.
_SYSTEM_NAME = _any(
    r"mail delivery", r"delivery subsystem", r"post ?master", r"mailer",
    r"content[- ]?filter", r"anti-?virus", r"mail ?scanner",
    r"microsoft exchange", r"microsoft outlook", r"mail (?:system|server|gateway)",
    r"почтов(?:ая|ый) (?:систем|сервер|служб|шлюз)", r"служба доставки",
    r"антивирус",
)
_SYSTEM_LOCAL = re.compile(
    r"(?:post[_.]?master|mailer|mail[-_.]?daemon|mdaemon|bounces?(?:[-+.].*)?|"
    r"mail[-_.]?admin|antivirus|virus[-_.]?alert|amavis(?:d)?|mailscanner|"
    r"content[-_.]?filter|quarantine|microsoftexchange[0-9a-f]{32})", re.IGNORECASE)
# A bare local part starts where its run of characters starts (from every character of
# a long run without an "@" the search was quadratic: 26 s for a From of 120,000 letters).
_ADDRESS = re.compile(r"""(?:"([^"]*)"|(?<![^\s<>()",;:@])([^\s<>()",;:@]+))"""
                      r"""\s*@\s*[\w.-]+""")
# The returned letter quoted as text: its raw header lines, or the SMTP dialogue.
_RAW_HEADER = re.compile(
    r"^[ \t]*(received|return-path|message-id|mime-version|content-type|dkim-signature|"
    r"x-mailer|delivered-to|x-originating-ip):[ \t]*\S", re.IGNORECASE | re.MULTILINE)
_SMTP_DIALOGUE = re.compile(
    r"^[ \t]*+(?:(?:<<<|>>>)[ \t]*+)?(?:mail from|rcpt to):|in reply to (?:rcpt to|end of data|"
    r"mail from) command|^[ \t]*+-++ ?(?:below this line is a copy|this is a copy of the "
    r"message)", re.IGNORECASE | re.MULTILINE)
_RETURNED_TYPES = frozenset({"message/rfc822", "message/global", "text/rfc822-headers",
                             "message/global-headers", "message/partial"})

# ---------------------------------------------------------------- out of office

# Subjects only auto-responders write: their prefix, then a colon (or "is out of the
# office" at the end, Lotus Notes).
_OOF_SUBJECT = _any(
    r"^\s*(?:автоматический ответ|автоответ|автоответчик|auto(?:matic)?[- ]?(?:reply|"
    r"response|answer)|out of (?:the )?office(?: (?:auto)?reply)?|abwesenheitsnotiz|"
    r"automatische antwort|r[ée]ponse automatique|absence du bureau|"
    r"respuesta autom[aá]tica|risposta automatica|automatisch antwoord|"
    r"odpowied[zź] automatyczna|resposta autom[aá]tica|отсутствие на рабочем месте|"
    r"отсутствую|вне офиса|в отпуске)\s*[:：]",
    r"\bis out of (?:the )?office\b", r"\(out of (?:the )?office\)",
)
# How out-of-office texts open (searched in their first lines).
_OOF_OPENING = _any(
    r"\bi(?:'m| am| will be)(?: currently| now)? (?:out of (?:the )?office|away from "
    r"(?:the |my )?(?:office|desk|e-?mail)|on (?:vacation|holiday|leave|annual leave|"
    r"parental leave|maternity leave|sick leave|a business trip))",
    r"\bi(?:'m| am) (?:currently |now )?(?:away|off)\b",
    r"\bout of (?:the )?office (?:until|till|from|and will|with limited)",
    r"\bя (?:сейчас |в настоящее время )?(?:в отпуске|в командировке|на больничном|"
    r"отсутствую|не в офисе|вне офиса)",
    r"нахожусь (?:в отпуске|в командировке|"
    r"вне офиса|на больничном)",
    r"буду отсутствовать", r"меня нет (?:на рабочем месте|в офисе)",
    r"отсутствую (?:на рабочем месте|в офисе)",
    r"\bich bin (?:bis [^\n]{1,40}? |derzeit |zurzeit |momentan )?(?:nicht im büro|"
    r"abwesend|im urlaub|außer haus|nicht erreichbar)", r"befinde mich (?:im urlaub|"
    r"nicht im büro)",
    r"\bje suis (?:actuellement )?(?:absente?|en congés?|en vacances|hors du bureau)",
    r"\bje serai absente?",
    r"\b(?:estoy|me encuentro) (?:fuera de la oficina|de vacaciones)",
    r"\bsono (?:fuori ufficio|in ferie|assente)",
)
# What out-of-office texts go on to say.
_OOF_MEANWHILE = _any(
    r"when i (?:return|am back|get back)", r"(?:on|upon) my return", r"limited access to",
    r"(?:for|in) urgent (?:matters|issues|cases|requests|questions)", r"in case of urgen",
    r"please contact", r"will (?:reply|respond|answer|get back)",
    r"по возвращении", r"после возвращения", r"по срочным вопросам", r"в случае срочн",
    r"(?:прошу |просьба )?обращаться к", r"обращайтесь к", r"ограниченн\w* доступ",
    r"без доступа к (?:почте|e-?mail)", r"(?:не имею|нет) доступа к (?:почте|e-?mail)",
    r"\bвернусь\b", r"выйду (?:на работу|в офис)", r"отвечу", r"nach meiner rückkehr",
    r"in dringenden fällen", r"wenden sie sich", r"(?:dès|à) mon retour",
    r"en cas d'urgence", r"a mi regreso", r"al mio rientro",
)
_OOF_LINES = 3  # an out-of-office text says so in its first lines,
_GREETING = 40  # after nothing longer than a greeting or a thank-you
_OOF_TEXT = 1500  # and what to do meanwhile soon after

# Reply and forward prefixes: a leading forward among them means a person sent it on.
_PREFIX = re.compile(
    r"\s*(re|aw|sv|vs|antw|odp|rif|res|ha|на|отв|ответ|відп|fwd|fw|wg|tr|enc|rv|doorst|"
    r"i|пересл|переслано|пересылка)\s*(?:\[\s*\d+\s*\]|\(\s*\d+\s*\))?\s*[:：]",
    re.IGNORECASE)
_FORWARDS = frozenset({"fwd", "fw", "wg", "tr", "enc", "rv", "doorst", "i", "пересл",
                       "переслано", "пересылка"})


def robot_by_content(message: Message, subject: str, text: str, *,
                     replying: bool = False) -> str | None:
    """Why a letter whose headers look like a person's was written by a robot, or None.

    `message` is the parsed letter (its From and Sender, and its parts for a returned
    copy), `subject` and `text` its decoded subject and text. `replying` says the
    letter answers another (In-Reply-To or References); a reply prefix in the subject
    counts as well. The answer is "bounce-text (the evidence)" or "out-of-office-text
    (the evidence)", so that staff read why.
    """
    try:
        prefixes = _prefixes(subject)
        if _FORWARDS & set(prefixes):
            return None
        head = text.lstrip()[:_HEAD]
        lowered = head.lower().replace("ё", "е")
        bounce = _bounce_evidence(message, subject, lowered, text)
        if bounce:
            return f"bounce-text ({', '.join(bounce)})"
        oof = _oof_evidence(subject, lowered, replying or bool(prefixes))
        if oof:
            return f"out-of-office-text ({', '.join(oof)})"
    except (LookupError, ValueError, TypeError, AttributeError, IndexError):
        return None  # a letter too broken to read is left to the people
    return None


def _prefixes(subject: str) -> list[str]:
    """The reply/forward prefixes leading the subject, lower-case."""
    found: list[str] = []
    position = 0
    while match := _PREFIX.match(subject, position):
        found.append(match[1].lower())
        position = match.end()
    return found


def _bounce_evidence(message: Message, subject: str, head: str, text: str) -> list[str]:
    """The kinds of evidence that make this letter a bounce, or [] for a person."""
    opening = _OPENINGS.search(head[:_OPENING_AT + 400])
    if opening is not None and _opens(head, opening.start()):
        return ["opening"]
    if not system_sender(message):
        return []
    kinds = ["system sender"]
    if _returned_copy(message, text):
        kinds.append("returned copy")
    if _FAILURE.search(subject):
        kinds.append("subject")
    if _FAILURE.search(head) or _DIAGNOSTIC.search(head):
        kinds.append("words")
    if "returned copy" in kinds and len(kinds) >= 3:
        return kinds
    return kinds if {"subject", "words"} <= set(kinds) else []


def _opens(head: str, position: int) -> bool:
    """An opening counts only at the text's start: what stands before it is one short
    line at most ("Hi."), and not a person's "here is what came back:"."""
    before = head[:position]
    lines = [line for line in before.splitlines() if line.strip()]
    return position <= _OPENING_AT and len(lines) <= 1 and not before.rstrip().endswith(":")


def system_sender(message: Message) -> bool:
    """From or Sender names a mail system, by its display name or its local part."""
    for name in ("from", "sender"):
        for raw in message.get_all(name) or []:
            value = decode_subject(str(raw))
            for quoted, bare in _ADDRESS.findall(value):
                if _SYSTEM_LOCAL.fullmatch(quoted or bare):
                    return True
            display = _ADDRESS.sub(" ", value)
            if _SYSTEM_NAME.search(display):
                return True
    return False


def _returned_copy(message: Message, text: str) -> bool:
    """The returned letter is attached, or its headers or SMTP dialogue are quoted."""
    if message.is_multipart():
        for part in message.walk():
            if part.get_content_type() in _RETURNED_TYPES:
                return True
    whole = text[:_WHOLE]
    if _SMTP_DIALOGUE.search(whole):
        return True
    names = {m[1].lower() for m in _RAW_HEADER.finditer(whole)}
    return len(names) >= 2


def _oof_evidence(subject: str, head: str, replying: bool) -> list[str]:
    """The kinds of evidence that make this letter an out-of-office reply, or []."""
    if _OOF_SUBJECT.search(subject):
        return ["subject"]
    if not replying:
        return []
    if _oof_opens(head) and _OOF_MEANWHILE.search(new_text_of_reply(head[:_OOF_TEXT])):
        return ["opening", "meanwhile"]
    return []


def _oof_opens(head: str) -> bool:
    """The text says it is away in its first lines: after a greeting or a thank-you
    ("Здравствуйте!", "Thank you for your email."), not after a person's news."""
    lines = [line for line in head.splitlines() if line.strip()][:_OOF_LINES]
    for line in lines:
        if _OOF_OPENING.search(line):
            return True
        if len(line.strip()) > _GREETING:
            return False
    return False
