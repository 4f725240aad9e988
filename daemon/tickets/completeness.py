"""What a client's letter lacks under §5.2, and whether the client asks for urgency.

§5.2 asks every request for a description of the problem with the steps to
reproduce it, the address of the System where it is seen, and the version
number and edition of the Program. An incomplete letter still opens its ticket;
the acknowledgement lists what is missing, politely, from `MISSING_LABELS_RU`.

The checks read the client's own words: quoted lines (">"), the reply history
below a reply header, and the signature (after "-- " or a sign-off such as
«С уважением») are left out, so that the company site in a signature is not
taken for the System's address. The subject counts for the address and the
version, not for the description: a subject names a problem, it does not
describe the steps. Either a version number or an edition satisfies "version"
(asking for both again when the client gave one would only annoy).

`urgency_requested` tells when a client marks a letter urgent (headers or
configured words); whether that earns an emergency level is classify's call.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache
from itertools import islice
from types import MappingProxyType

MISSING_LABELS_RU: Mapping[str, str] = MappingProxyType({
    "description": "описание проблемы и шаги для её воспроизведения",
    "system_address": "адрес Системы, на котором наблюдается проблема",
    "version": "номер версии Программы и редакция",
    "screenshot": ("по возможности, скриншоты ошибки в форматах JPG, GIF или PNG "
                   "(скриншоты в формате BMP — запакованными в архив ZIP или RAR)"),
})
MIN_DESCRIPTION_WORDS = 5
URGENCY_LINES = 5  # how many of the first lines of the text are read for urgent words

_L = r"[^\W\d_]"  # a letter, Latin or Cyrillic
_SIGNATURE = re.compile(r"^--\s*$|^_{3,}\s*$")
_REPLY_HEADER = re.compile(
    r"^(?:-{2,}\s*(?:Original Message|Исходное сообщение|Reply message)\s*-{2,}"
    r"|.{0,200}\b(?:wrote|написал(?:а|\(а\))?|пишет):\s*$)", re.IGNORECASE)
_SIGN_OFF = re.compile(
    r"^(?:с\s+уважением|с\s+наилучшими\s+пожеланиями|всего\s+(?:доброго|хорошего)"
    r"|best\s+regards|kind\s+regards|regards|отправлено\s+(?:с|из)\b|sent\s+from\b)",
    re.IGNORECASE)
# Thanks end a letter only when nothing but short signature-like lines follows.
_THANKS = re.compile(r"^(?:заранее\s+)?(?:спасибо|благодар\w*|thanks|thank\s+you|cheers)",
                     re.IGNORECASE)
_GREETING = re.compile(
    r"^(?:здравствуйте|здравствуй|добрый\s+(?:день|вечер)|доброе\s+утро"
    r"|доброго\s+времени\s+суток|приветствую|привет|hello|hi|good\s+(?:morning|afternoon)"
    r"|dear|уважаем\w+|коллеги)(?!\w)", re.IGNORECASE)
_WORD = re.compile(r"\w+")


def _short(line: str) -> bool:
    return len(_WORD.findall(line)) <= 6


def _last_long_line(lines: list[str]) -> int:
    """The index of the last line that is not `_short`, -1 if none: found from the end,
    where a letter's long lines usually stop after a few short ones."""
    return next((i for i in range(len(lines) - 1, -1, -1) if not _short(lines[i])), -1)


def _reply_header(line: str) -> bool:
    # Every reply header starts with "--" or ends with ":" (the lines are stripped);
    # checking that first spares the pattern's backtracking on most lines.
    return (line.startswith("--") or line.endswith(":")) and bool(_REPLY_HEADER.match(line))


def _own_lines(text: str) -> list[str]:
    """The client's own lines: no quotes, no reply history, no signature."""
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    last_long = _last_long_line(lines)
    own: list[str] = []
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) or _reply_header(line):
            break
        if (_SIGN_OFF.match(line) or _THANKS.match(line) and i >= last_long) and _short(line):
            break
        if not line.startswith(">"):
            own.append(line)
    return own


def _without_greeting(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if not out and _GREETING.match(line):
            if len(_WORD.findall(line)) <= 5:
                continue  # «Добрый день, коллеги!»
            first = re.match(r"[^!,.]*[!,.]+", line)  # «Здравствуйте, при входе ...»
            if first and len(_WORD.findall(first.group())) <= 5:
                line = line[first.end():].strip()
        if line or out:
            out.append(line)
    return out


# Versions: a keyword and a number («версия 3.14», «v.3.14.2», «ЭДО v.3», «сборка 1234»),
# a bare three-part number that is not a date («3.14.2»), or an edition. The keyword and
# its number stand as words of their own: «V3AB» inside a coupon code is not a version.
_VERSION_WORD = (r"(?:верси[яиюей]|верс\.|вер\.|version|ver\.?|v\.?|релиз\w*|release"
                 r"|сборк[аиеуой]|build|билд\w*|патч\w*|patch)")
_VERSION = re.compile(
    rf"(?<!\w){_VERSION_WORD}(?:\s+{_L}+){{0,3}}\s*[:№#\-–—]?\s*(?:v\.?\s*)?\d+(?:\.\d+)*(?!\w)"
    r"|(?<![\d.])\d+\.\d+\.\d+(?!\.?\d)"
    rf"|(?<!{_L})(?:редакци[яиюей]|ред\.|edition)\s*[:\-–—]?\s*[«\"“]?{_L}{{3,}}"
    rf"|(?<!{_L}){_L}{{3,}}\s+(?:редакци[яиюей]|edition)(?!{_L})",
    re.IGNORECASE)
_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(?:\d{2}|\d{4})")
# A special-request coupon (§3.6, the shape of coupons.find_codes): random letters and
# digits («SPC-V234-…», «…-VER2-…») that must not read as a version or anything else.
_COUPON = re.compile(r"\bSPC-?[A-Z2-9]{4}-?[A-Z2-9]{4}-?[A-Z2-9]{4}\b", re.IGNORECASE)

# Top-level domains a System may live under; a whitelist, because file names
# («screen.png», «settings.json») look like host names too.
_TLDS = (
    "ru|su|рф|рус|москва|онлайн|сайт|орг|ком|дети|moscow|com|net|org|info|biz|io|pro|online"
    "|site|tech|cloud|space|store|shop|website|app|dev|digital|group|center|ltd|company|tv|me"
    "|kz|by|ua|uz|kg|am|az|ge|tj|lv|lt|ee|de|eu|uk|us|fr|it|es|nl|ch|at|fi|se|cn|local|lan"
    "|corp|internal|intra|intranet|home|localdomain|example|test")
_HOST_LABEL = r"[a-zа-яё0-9](?:[a-zа-яё0-9\-]{0,61}[a-zа-яё0-9])?"
_ADDRESS = re.compile(
    r"\b(?:https?|ftps?|sftp|ssh)://[^\s<>\"]+"
    rf"|(?<![\w@.\-])(?:{_HOST_LABEL}\.)+(?:{_TLDS})(?![\w\-])"
    r"|(?<![\w@.\-])localhost(?![\w\-])"
    r"|(?<![\w.])((?:\d{1,3}\.){3}\d{1,3})(?![\w]|\.\d)"
    r"|\\\\[\w.\-]+",
    re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")


def _has_version(versions: Iterable[re.Match[str]]) -> bool:
    """Whether a `_VERSION` match is a version, not a date."""
    for m in versions:
        date = _DATE.fullmatch(m.group())
        if not (date and 1 <= int(date[1]) <= 31 and 1 <= int(date[2]) <= 12):
            return True
    return False


def _has_address(text: str, versions: list[re.Match[str]]) -> bool:
    """Whether `text` (its e-mail addresses blanked, `versions` its `_VERSION` matches)
    names a System: version numbers are blanked too, «v.3.14.2» is not a host."""
    pieces, end = [], 0
    for m in versions:
        pieces += [text[end:m.start()], " "]
        end = m.end()
    pieces.append(text[end:])
    for m in _ADDRESS.finditer("".join(pieces)):
        ip = m.group(1)
        if not ip or all(int(octet) <= 255 for octet in ip.split(".")):
            return True
    return False


def _at_least_words(text: str, count: int) -> bool:
    return len(list(islice(_WORD.finditer(text), count))) == count


def missing_information(text: str, subject: str) -> list[str]:
    """Codes of what §5.2 asks for and the letter lacks, in a stable order:
    "description", "system_address", "version"."""
    own = _own_lines(text)
    missing: list[str] = []
    if not _at_least_words(" ".join(_without_greeting(own)), MIN_DESCRIPTION_WORDS):
        missing.append("description")
    searched = _COUPON.sub(" ", subject + "\n" + "\n".join(own))
    without_emails, emails = _EMAIL.subn(" ", searched)
    versions = list(_VERSION.finditer(without_emails))
    if not _has_address(without_emails, versions):
        missing.append("system_address")
    # The version is looked for with the e-mail addresses in place (a version may end
    # right before one); without any, the matches are the same, so they are reused.
    if not _has_version(_VERSION.finditer(searched) if emails else versions):
        missing.append("version")
    return missing


# ------------------------------------------------------------------ screenshots

# §5.2: "описание проблемы ... (по возможности с приложением скриншотов)". A letter that
# describes an error on the screen and carries no picture is asked for one (§5.7's
# formats). An archive may hold screenshots (BMP must come packed): it counts as one.
_ERROR = re.compile(
    r"ошибк\w*|error|exception|исключени\w*|сбо[йяею]\w*|некорректн\w*|неправильн\w*"
    r"|не\s+(?:работает|работают|открыва\w*|запуска\w*|формиру\w*|загружа\w*|сохраня\w*"
    r"|отправля\w*|отобража\w*|подписыва\w*|получается|проходит|приходит|приходят|видно"
    r"|видны|грузит\w*)"
    r"|пада\w*|упал\w*|вылета\w*|зависа\w*|завис\b|белый\s+экран|пуст\w+\s+экран"
    r"|выда[её]т|пишет,?\s|появля\w*\s+(?:сообщени|окн|надпис)|\b(?:4\d\d|5\d\d)\b",
    re.IGNORECASE)
_PICTURE_TYPES = ("image/", "application/zip", "application/x-zip", "application/x-rar",
                  "application/vnd.rar", "application/x-7z")
_PICTURE_NAMES = re.compile(r"\.(?:png|jpe?g|gif|bmp|tiff?|webp|heic|zip|rar|7z)$", re.I)


def describes_error(text: str, subject: str) -> bool:
    """Whether the client's own words (or the subject) describe an error they see."""
    return bool(_ERROR.search(subject + "\n" + "\n".join(_own_lines(text))))


def screenshot_wanted(text: str, subject: str,
                      attachments: Iterable[tuple[str, str]]) -> bool:
    """§5.2: an error is described and no picture (nor archive) is attached;
    `attachments` are (file name, content type) pairs."""
    for name, content_type in attachments:
        if content_type.lower().startswith(_PICTURE_TYPES) or _PICTURE_NAMES.search(name):
            return False
    return describes_error(text, subject)


# ------------------------------------------------------------------ urgency

_PRIORITY_HEADERS = ("x-priority", "importance", "priority", "x-msmail-priority")


def _header_urgent(headers: Mapping[str, str]) -> bool:
    h: dict[str, str] = {}
    for k, v in headers.items():
        name = str(k).lower()
        if name in _PRIORITY_HEADERS:  # the last of a repeated header counts
            h[name] = str(v).strip().lower()
    priority = re.match(r"\d", h.get("x-priority", ""))
    return bool(priority and priority.group() in ("1", "2")) \
        or h.get("importance", "").startswith("high") \
        or h.get("priority", "").startswith("urgent") \
        or h.get("x-msmail-priority", "").startswith("high")


@lru_cache(maxsize=256)  # the same few configured words, for every letter
def _word_pattern(word: str) -> re.Pattern[str] | None:
    """A configured word as a whole-word, case-insensitive pattern; ё matches е;
    a trailing "*" matches any ending («авари*»); «не» before it negates it."""
    word = word.strip().lower().replace("ё", "е")
    prefix = word.endswith("*")
    word = word.rstrip("*").strip()
    if not word:
        return None
    core = r"\s+".join(re.escape(part).replace("е", "[её]") for part in word.split())
    ending = r"\w*" if prefix else ""
    return re.compile(rf"(?<!\w)(не\s+)?{core}{ending}(?!\w)", re.IGNORECASE)


def urgency_requested(headers: Mapping[str, str], subject: str, text: str,
                      words: Collection[str]) -> bool:
    """True when the letter asks for urgent handling: X-Priority 1 or 2, Importance:
    high, Priority: urgent, X-MSMail-Priority: High, or one of `words` in the subject
    or the first lines of the text."""
    if _header_urgent(headers):
        return True
    lines = [ln for ln in _own_lines(text) if ln][:URGENCY_LINES]
    searched = subject + "\n" + "\n".join(lines)
    for word in words:
        pattern = _word_pattern(word)
        if pattern and any(not m.group(1) for m in pattern.finditer(searched)):
            return True
    return False
