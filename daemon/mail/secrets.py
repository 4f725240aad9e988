"""§5.3: access details a client sent are not mailed around again.

Clients give staff temporary access (§5.3): «логин/пароль: admin/Qwerty123», a
password on its own line, an FTP or SSH URL with the password in it, an API token,
a private key. The letter is kept as received (staff read the stored letter), but
what the desk mails on — the staff notification's quoted text, a transcript — has
them masked. Pure: text in, text out; the login stays, the secret goes.
"""

from __future__ import annotations

import re

MASK = "[скрыто]"

_PASSWORD_WORD = (r"(?:парол[ьяюем]\w*|пасс?ворд\w*|password|passwd|pass|pwd|пароль\s+от\s+\w+"
                  r"|код\s+доступа|пин-?код|pin|passphrase|secret|секрет\w*|ключ\s+api|api[\s_-]?key"
                  r"|apikey|access[\s_-]?key|secret[\s_-]?key|token|токен\w*|client[\s_-]?secret"
                  r"|bearer)")
_SEP = r"(?:\s*[:=\-—–]\s*|\s+(?:это|is)\s+|\s+)"
# «пароль: Qwerty123», «Password=abc», «токен — 9f8e…», «пароль Qwerty123»
_LABELLED = re.compile(rf"(?<![\w/])({_PASSWORD_WORD}(?:\s+доступа)?(?:\s+(?:для|от|к)\s+[\w.@-]+)?"
                       rf"{_SEP})"
                       r"([«\"'`]?)(\S+?)([»\"'`]?)(?=[\s,;]|$)", re.I)
# «логин/пароль: admin/Qwerty123», «login / password — root / toor»
_PAIR = re.compile(r"((?:логин|login|user(?:name)?|пользователь)\s*/\s*"
                   r"(?:парол\w*|password|pass|pwd)\s*[:=\-—–]?\s*)(\S+?)(\s*/\s*)(\S+)", re.I)
# scheme://user:password@host
# Anchored on "://" (a scheme character before it), not on the scheme's first letter:
# a long run of scheme characters is then not rescanned from each of them (quadratic).
_URL = re.compile(r"((?<=[a-z0-9+.-])://[^\s:/@]+:)([^\s@/]+)(@)", re.I)
_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END \1-----|\Z)", re.S)
# A long secret-looking run after a word that names it was caught above; these need none.
_KNOWN_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|xox[abp]-[A-Za-z0-9-]{20,}|AKIA[0-9A-Z]{16}"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}|sk-[A-Za-z0-9]{20,})\b")
_WORDS_NOT_SECRETS = frozenset({
    "и", "или", "не", "нет", "для", "от", "к", "в", "на", "по", "с", "это", "is", "the",
    "сменить", "сменили", "изменить", "изменили", "поменять", "поменяли", "забыл", "забыли",
    "сброшен", "сбросить", "верный", "неверный", "неправильный", "прежний", "тот", "же",
    "такой", "такие", "указан", "указали", "отправлю", "пришлю", "вышлю", "отдельно",
    "expired", "reset", "change", "changed", "old", "new", "новый", "старый", "временный",
    "ниже", "выше", "прилагаю", "см.", "как", "?", "не_указан", MASK,
})


_SECRET_LOOKING = re.compile(r"^(?=.*[\d\W_])|^(?=.*[A-Z])(?=.*[a-z])|^[A-Za-z]{8,}$")
_RUSSIAN_WORD = re.compile(r"^[а-яё]+[.,:;!?]?$", re.I)


def _labelled(m: re.Match[str]) -> str:
    value = m.group(3)
    if m.string[m.end():].lstrip().startswith("/"):
        return m.group(0)  # «login / password — root / …»: the pair's login, masked apart
    if value.lower().strip(".,:;!?") in _WORDS_NOT_SECRETS or len(value) < 3:
        return m.group(0)  # «пароль не подходит», «сменить пароль на новый»
    spaced = not re.search(r"[:=\-—–]", m.group(1)[-4:])  # «пароль Qwerty1», no colon
    if spaced and (_RUSSIAN_WORD.match(value) or not _SECRET_LOOKING.match(value)):
        return m.group(0)  # «пароль был изменён», «пароль админа»: prose, not a secret
    return f"{m.group(1)}{m.group(2)}{MASK}{m.group(4)}"


def mask_secrets(text: str) -> str:
    """The text with passwords, keys and tokens replaced by «[скрыто]»."""
    text = _PRIVATE_KEY.sub("[закрытый ключ скрыт]", text)
    text = _URL.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    text = _PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{MASK}", text)
    text = _LABELLED.sub(_labelled, text)
    return _KNOWN_TOKENS.sub(MASK, text)


def has_secrets(text: str) -> bool:
    return mask_secrets(text) != text
