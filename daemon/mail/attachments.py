"""Attachment verdicts under §5.7 of the support regulation.

Screenshots and other pictures must be JPG, GIF or PNG; a BMP is accepted only
packed in a ZIP or RAR archive; every other image format is refused. Formats
are judged by content (magic bytes), never by the file name; the name only
fills in what the content cannot tell (an archive member we may not read, an
SVG whose root element lies past the bytes we saw). Files that are not
pictures (logs, text, PDF, office documents) are accepted: the regulation
restricts screenshots only. A refused attachment never refuses the letter: the
ticket opens and the acknowledgement lists every verdict with its reason.

A big attachment may come as a `Blob` instead of bytes (`skeleton.Decoded`: read back
from the letter a piece at a time): it is judged from the same few reads, its first
`HEAD_BYTES` and what zipfile or rarfile ask for, never read whole.

Archives are listed in memory by `daemon.mail.archives`, never unpacked to disk:

* ZIP: `zipfile` lists the members and we read at most `SNIFF_BYTES` of each
  to sniff it. Bounded by member count and total declared size; a member whose
  declared size is absurd (larger than the whole bound, or a compression ratio
  no deflate stream can reach) is judged by its name without being read.
* RAR: `rarfile` lists the members. Stored (uncompressed) members are read
  directly from the archive bytes; compressed members would need the external
  `unrar` tool (which may be absent and would spawn a process and temp files),
  so they are judged by their extension, and the reason says so.
* 7z and gzip are not inspected: accepted with a note that only ZIP and RAR
  are checked (the regulation names only those two as containers for BMP).

Policy for archives we cannot inspect (strict but helpful): a damaged ZIP/RAR,
or a RAR whose file list is encrypted, is rejected with a reason that tells
the client how to resend it - nobody at the desk could open it either, and an
opaque container would be a trivial way around §5.7. Password-protected
members whose names are visible are judged by name and the archive is
accepted with a note asking for the password. An archive over the count or
size bound is rejected with the bound in the reason.

Other decisions: an empty file is rejected (it did not attach; ask again); a
file named or declared as a picture whose bytes are no known format is
rejected as damaged; a name that disagrees with the content is only noted
(JPEG bytes named .png are accepted as jpeg; HEIC named .jpg is rejected);
archives inside archives are not opened (accepted with a note); macOS
resource forks (`__MACOSX/`, `._*`) are not listed.

ZIP-based office documents (docx/xlsx/pptx, OpenDocument) are detected as
"office" rather than "zip" - `sniff` from the first local header when it can,
`judge` from the central directory - and are judged as documents, not
archives: a docx legitimately embeds pictures of any format.
"""

from __future__ import annotations

import os
import re
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Protocol

from daemon.mail.archives import (
    ArchiveError,
    Listing,
    list_rar,
    list_zip,
    zip_declared_count,
)

ACCEPTED = "accepted"
REJECTED = "rejected"

HEAD_BYTES = 4096  # what we sniff of a whole attachment (XML prologues before <svg> run long)
MAX_NAME_BYTES = 180

SCREENSHOT_TYPES = frozenset({"jpeg", "png", "gif"})
IMAGE_TYPES = SCREENSHOT_TYPES | {
    "bmp", "webp", "tiff", "heic", "avif", "ico", "svg", "psd", "jxl", "jp2"}
ARCHIVE_TYPES = frozenset({"zip", "rar", "7z", "gzip"})

FORMAT_NAMES = {
    "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "bmp": "BMP", "webp": "WebP",
    "tiff": "TIFF", "heic": "HEIC/HEIF", "avif": "AVIF", "ico": "ICO", "svg": "SVG",
    "psd": "PSD (Photoshop)", "jxl": "JPEG XL", "jp2": "JPEG 2000", "zip": "ZIP",
    "rar": "RAR", "7z": "7z", "gzip": "gzip",
}

_EXTENSIONS = {
    "jpeg": "jpg jpeg jpe jfif pjpeg pjp", "png": "png apng", "gif": "gif",
    "bmp": "bmp dib", "webp": "webp", "tiff": "tif tiff dng nef cr2 arw",
    "heic": "heic heif hif", "avif": "avif", "ico": "ico cur", "svg": "svg svgz",
    "psd": "psd psb", "jxl": "jxl", "jp2": "jp2 j2k jpf jpx jpm",
    "zip": "zip", "rar": "rar", "7z": "7z", "gzip": "gz tgz",
    "office": "docx docm xlsx xlsm pptx pptm odt ods odp",
    "ole": "doc xls ppt msg", "pdf": "pdf", "ms-tnef": "tnef",
    "text": "txt log csv tsv xml json yaml yml ini cfg conf eml html htm sql md",
}
TYPE_BY_EXTENSION = {ext: t for t, exts in _EXTENSIONS.items() for ext in exts.split()}
TYPE_BY_MIME = {
    "image/jpeg": "jpeg", "image/pjpeg": "jpeg", "image/jpg": "jpeg", "image/png": "png",
    "image/gif": "gif", "image/bmp": "bmp", "image/x-bmp": "bmp", "image/x-ms-bmp": "bmp",
    "image/webp": "webp", "image/tiff": "tiff", "image/heic": "heic", "image/heif": "heic",
    "image/avif": "avif", "image/x-icon": "ico", "image/vnd.microsoft.icon": "ico",
    "image/svg+xml": "svg", "image/vnd.adobe.photoshop": "psd", "image/jxl": "jxl",
    "image/jp2": "jp2",
}

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}


@dataclass(frozen=True)
class ArchiveEntry:
    """One member of a listed archive."""

    name: str  # path inside the archive, cleaned for display
    detected_type: str  # from content, or from the extension when by_content is False
    size: int  # declared uncompressed size
    verdict: str  # "accepted" | "rejected"
    reason: str = ""
    by_content: bool = True


@dataclass(frozen=True)
class Verdict:
    filename: str  # safe display name
    detected_type: str  # one of sniff()'s answers
    size: int  # bytes of the attachment as received
    verdict: str  # "accepted" | "rejected"
    reason: str = ""  # Russian, for the acknowledgement; a note even when accepted
    entries: tuple[ArchiveEntry, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.verdict == ACCEPTED


def unjudged(filename: str, size: int) -> Verdict:
    """The verdict of an attachment nobody could judge (a bug on the way): kept for
    staff, not accepted as a screenshot."""
    return Verdict(safe_filename(filename), "", size, REJECTED,
                   "не проверено: ошибка при обработке письма, файл передан сотруднику")


class Blob(Protocol):
    """An attachment too big to hold: its size, and a seekable file to read it from."""

    @property
    def size(self) -> int: ...

    def open(self) -> IO[bytes]: ...


# ------------------------------------------------------------------ sniffing

def sniff(head: bytes) -> str:
    """The format of a file from its first bytes; never looks at a name.

    Answers: jpeg png gif bmp webp tiff heic avif ico svg psd jxl jp2 zip office
    rar 7z gzip pdf ms-tnef ole text unknown. "office" is a ZIP whose first
    member shows an OOXML or OpenDocument package; any other ZIP is "zip".
    """
    h = head
    if h.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if h.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if h[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if h.startswith(b"RIFF") and h[8:12] == b"WEBP":
        return "webp"
    if h[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if h[4:8] == b"ftyp":
        return _sniff_isobmff(h)
    if h.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "jp2"
    if h.startswith((b"\x00\x00\x00\x0cJXL \r\n\x87\n", b"\xff\x0a")):
        return "jxl"
    if h.startswith(b"8BPS") and h[4:6] in (b"\x00\x01", b"\x00\x02"):
        return "psd"
    if h.startswith(b"BM") and len(h) >= 18 and \
            int.from_bytes(h[14:18], "little") in (12, 16, 40, 52, 56, 64, 108, 124):
        return "bmp"
    if h[:4] in (b"\x00\x00\x01\x00", b"\x00\x00\x02\x00") and len(h) >= 6 and \
            0 < int.from_bytes(h[4:6], "little") <= 256 and (len(h) < 10 or h[9] == 0):
        return "ico"
    if h.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "office" if _office_head(h) else "zip"
    if h.startswith((b"Rar!\x1a\x07\x00", b"Rar!\x1a\x07\x01\x00")):
        return "rar"
    if h.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if h.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    if h.startswith(b"\x78\x9f\x3e\x22"):
        return "ms-tnef"
    if h.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if h.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"%PDF-"):
        return "pdf"
    text = _as_text(h)
    if text is None:
        return "unknown"
    markup = text.lstrip("\ufeff \t\r\n").lower()
    if markup.startswith("<") and "<svg" in markup and "<html" not in markup.split("<svg")[0]:
        return "svg"
    return "text"


def _sniff_isobmff(h: bytes) -> str:
    box = int.from_bytes(h[0:4], "big")
    brand = h[8:12]
    compatible = {h[i:i + 4] for i in range(16, min(box, len(h)) - 3, 4)}
    if brand in (b"avif", b"avis"):
        return "avif"
    if brand in _HEIF_BRANDS:
        return "heic"
    if brand in (b"mif1", b"msf1"):
        return "avif" if b"avif" in compatible else "heic"
    if brand in (b"jp2 ", b"jpx ", b"jpm "):
        return "jp2"
    return "unknown"  # video and other ISO media: not a picture


def _office_head(h: bytes) -> bool:
    if not h.startswith(b"PK\x03\x04") or len(h) < 30:
        return False
    name_len, extra_len = struct.unpack_from("<HH", h, 26)
    name = h[30:30 + name_len]
    if name == b"[Content_Types].xml":
        return True
    body, want = h[30 + name_len + extra_len:], b"application/vnd.oasis.opendocument"
    seen = min(len(body), len(want))
    return name == b"mimetype" and seen >= 12 and body[:seen] == want[:seen]


def _as_text(h: bytes) -> str | None:
    if h.startswith((b"\xff\xfe", b"\xfe\xff")):
        return h[:len(h) & ~1].decode("utf-16", "replace")
    # Text has no NUL and (almost) no other control bytes, whatever its charset.
    controls = sum(1 for b in h if (b < 32 and b not in b"\t\n\r\f\x1b\x08") or b == 0x7F)
    if b"\x00" in h or controls > len(h) // 100:
        return None
    try:
        return h.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data" and e.start >= len(h) - 3:
            return h[:e.start].decode("utf-8")
    return h.decode("cp1251", "replace")  # or koi8-r, cp866: single-byte Cyrillic


# ------------------------------------------------------------------ names

_RESERVED = {"con", "prn", "aux", "nul", "clock$", "conin$", "conout$"} | {
    f"{dev}{n}" for dev in ("com", "lpt") for n in "0123456789¹²³"}
_FORBIDDEN_CHARS = re.compile(r'[<>:"/\\|?*]')


def safe_filename(name: str) -> str:
    """A display and storage name: no path, no control characters, no reserved
    Windows device name, no leading dots, at most 180 bytes of UTF-8 with the
    extension kept; "attachment" when nothing is left."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(" " if ch in "\t\r\n" else ch for ch in name
                   if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp") or ch in "\t\r\n")
    name = _FORBIDDEN_CHARS.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").strip().rstrip(". ")
    if not name:
        return "attachment"
    stem, ext = os.path.splitext(name)
    if len(ext.encode()) > 20 or not stem:
        stem, ext = name, ""
    if stem.split(".")[0].strip().lower() in _RESERVED:
        stem = "_" + stem
    budget = MAX_NAME_BYTES - len(ext.encode())
    stem = stem.encode()[:budget].decode("utf-8", "ignore").rstrip(". ")
    return (stem + ext) if stem else "attachment"


def _member_display(name: str) -> str:
    parts = [p for p in re.split(r"[/\\]", name) if p not in ("", ".", "..")]
    clean = "/".join("".join(ch for ch in p if unicodedata.category(ch) not in ("Cc", "Cf"))
                     for p in parts)
    return clean[:255] or "?"


def type_from_name(name: str, declared_type: str = "") -> str:
    """What a name (or failing that, a MIME type) claims; "" when it claims nothing."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return TYPE_BY_EXTENSION.get(ext) or TYPE_BY_MIME.get(declared_type.strip().lower(), "")


# ------------------------------------------------------------------ verdicts

_SCREENSHOT_RULE = ("по п. 5.7 Регламента скриншоты и другие изображения принимаются "
                    "в форматах JPG, GIF и PNG, а в формате BMP — только упакованными "
                    "в архив ZIP или RAR")


def _format(kind: str) -> str:
    return FORMAT_NAMES.get(kind, kind.upper())


def _files(n: int, *, genitive: bool = False) -> str:
    """«1 файл», «2 файла», «5 файлов»; after «из»: «из 1 файла», «из 5 файлов»."""
    one = n % 10 == 1 and n % 100 != 11
    few = n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14)
    if genitive:
        return f"{n} файла" if one else f"{n} файлов"
    return f"{n} файл" if one else f"{n} файла" if few else f"{n} файлов"


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f}".replace(".", ",").removesuffix(",0") + " МБ"


def _decide(kind: str, claimed: str, ext: str, *, in_archive: bool) -> tuple[str, str, str]:
    """(detected_type, verdict, reason) for one file whose content says `kind`."""
    if kind == "text" and claimed == "svg":
        kind = "svg"  # the <svg> root lay beyond the bytes we saw
    mismatch = ""
    if ext and claimed in IMAGE_TYPES and claimed != kind and kind in IMAGE_TYPES:
        mismatch = (f"по содержимому это изображение {_format(kind)}, хотя имя файла "
                    f"оканчивается на .{ext}")
    if kind in SCREENSHOT_TYPES:
        return kind, ACCEPTED, (mismatch[:1].upper() + mismatch[1:] + ".") if mismatch else ""
    if kind == "bmp":
        if in_archive:
            return kind, ACCEPTED, ""
        return kind, REJECTED, (
            "Изображения в формате BMP принимаются только упакованными в архив ZIP или RAR "
            "(п. 5.7 Регламента)" + (f"; {mismatch}" if mismatch else "") + ". Пожалуйста, "
            "упакуйте файл в архив ZIP или RAR либо сохраните его в формате JPG, GIF или PNG "
            "и пришлите повторно.")
    if kind in IMAGE_TYPES:
        return kind, REJECTED, (
            f"Изображения в формате {_format(kind)} не принимаются: {_SCREENSHOT_RULE}"
            + (f". Обратите внимание: {mismatch}" if mismatch else "") + ". Пожалуйста, "
            "сохраните изображение в формате JPG, GIF или PNG и пришлите его повторно.")
    if kind in ("text", "unknown") and claimed in IMAGE_TYPES:
        said = "назван" if ext else "отправлен"
        return kind, REJECTED, (
            f"Файл {said} как изображение {_format(claimed)}, но его содержимое не удалось "
            "распознать как изображение — возможно, файл повреждён. Пожалуйста, пришлите "
            "его повторно в формате JPG, GIF или PNG.")
    if kind in ARCHIVE_TYPES and in_archive:
        return kind, ACCEPTED, "Вложенный архив не проверялся."
    if kind in ("7z", "gzip"):
        return kind, ACCEPTED, (
            f"Содержимое архивов {_format(kind)} не проверяется: проверяются только архивы "
            f"ZIP и RAR. Напоминаем, что {_SCREENSHOT_RULE}.")
    return kind, ACCEPTED, ""


def judge(filename: str, content: bytes | Blob, declared_type: str = "", *,
          max_entries: int = 1000, max_archive_bytes: int = 100 * 2**20) -> Verdict:
    """The §5.7 verdict on one attachment; `declared_type` is its MIME type."""
    if isinstance(content, bytes):
        return _judge(filename, content, len(content), content[:HEAD_BYTES], declared_type,
                      max_entries, max_archive_bytes)
    with content.open() as f:
        head = f.read(HEAD_BYTES) if content.size else b""
        return _judge(filename, f, content.size, head, declared_type, max_entries,
                      max_archive_bytes)


def _judge(filename: str, content: bytes | IO[bytes], size: int, head: bytes,
           declared_type: str, max_entries: int, max_archive_bytes: int) -> Verdict:
    name = safe_filename(filename)
    if not size:
        return Verdict(name, "unknown", 0, REJECTED, (
            "Файл пуст (0 байт) — вероятно, он не приложился к письму. Пожалуйста, "
            "пришлите его повторно."))
    detected = sniff(head)
    if detected in ("zip", "office"):
        return _judge_zip(name, content, size, max_entries, max_archive_bytes)
    if detected == "rar":
        return _judge_rar(name, content, size, max_entries, max_archive_bytes)
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    kind, verdict, reason = _decide(detected, type_from_name(name, declared_type),
                                    ext if ext in TYPE_BY_EXTENSION else "", in_archive=False)
    return Verdict(name, kind, size, verdict, reason)


def _entry(name: str, size: int, head: bytes | None, why_by_name: str = "") -> ArchiveEntry:
    """Judge a member from its first bytes, or from its name when `head` is None."""
    display = _member_display(name)
    claimed = type_from_name(display)
    ext = display.rsplit(".", 1)[-1].lower() if "." in display else ""
    if head is None:
        kind, verdict, reason = _decide(claimed or "unknown", claimed, "", in_archive=True)
        note = f"Формат определён по имени файла: {why_by_name}."
        return ArchiveEntry(display, kind, size, verdict, (reason + " " + note).strip(), False)
    if not head and size == 0:
        return ArchiveEntry(display, "unknown", 0, ACCEPTED, "Файл пуст.")
    kind, verdict, reason = _decide(sniff(head), claimed, ext if claimed else "",
                                    in_archive=True)
    return ArchiveEntry(display, kind, size, verdict, reason)


def _bounds(name: str, kind: str, size: int, count: int, total: int, max_entries: int,
            max_archive_bytes: int) -> Verdict | None:
    if count > max_entries:
        return Verdict(name, kind, size, REJECTED, (
            f"В архиве {_files(count)}, а проверяются архивы не более чем из "
            f"{_files(max_entries, genitive=True)}. Пожалуйста, оставьте в архиве только "
            "нужные файлы или разделите его на несколько архивов."))
    if total > max_archive_bytes:
        return Verdict(name, kind, size, REJECTED, (
            f"После распаковки архив займёт {_mb(total)}, а допускается не более "
            f"{_mb(max_archive_bytes)}. Пожалуйста, оставьте в архиве только нужные файлы "
            "или разделите его на несколько архивов."))
    return None


def _unreadable(name: str, kind: str, size: int, what: str, how: str = "") -> Verdict:
    return Verdict(name, kind, size, REJECTED, (
        f"Архив {_format(kind)} {what}, поэтому его содержимое не удалось проверить. "
        f"Пожалуйста, упакуйте файлы заново{how} и пришлите архив повторно."))


def _what(kind: str) -> str:
    return _format(kind) if kind in IMAGE_TYPES else "не распознан как изображение"


def _summary(name: str, kind: str, size: int, entries: list[ArchiveEntry],
             notes: Iterable[str]) -> Verdict:
    bad = [e for e in entries if e.verdict == REJECTED]
    if not bad:
        return Verdict(name, kind, size, ACCEPTED, " ".join(dict.fromkeys(notes)),
                       tuple(entries))
    listed = ", ".join(f"«{e.name}» ({_what(e.detected_type)})" for e in bad[:5])
    more = f" и ещё {len(bad) - 5}" if len(bad) > 5 else ""
    return Verdict(name, kind, size, REJECTED, (
        f"В архиве есть изображения, которые не принимаются: {listed}{more}. Напоминаем, что "
        f"{_SCREENSHOT_RULE}. Пожалуйста, пересохраните эти изображения и пришлите архив "
        "повторно."), tuple(entries))


_PASSWORD_NOTE = ("Файлы в архиве защищены паролем, поэтому их формат проверен только по "
                  "именам. Чтобы специалист мог открыть архив, сообщите, пожалуйста, пароль.")
# What a member left unread (`archives.Member.unread`) was judged by, and the note
# that goes with it on the whole archive.
_WHY_BY_NAME = {
    "password": "файл защищён паролем",
    "implausible-size": "заявленный размер файла неправдоподобен",
    "compressed": "сжатые файлы в архивах RAR не распаковываются",
    "failed": "файл не удалось прочитать",
}
_UNREAD_NOTES = {
    "password": _PASSWORD_NOTE,
    "compressed": ("Сжатые файлы в архиве RAR проверены по расширениям имён: их "
                   "содержимое не распаковывается."),
}


def _judge_zip(name: str, content: bytes | IO[bytes], size: int, max_entries: int,
               max_archive_bytes: int) -> Verdict:
    declared = zip_declared_count(content)
    if declared is not None:  # the end record counts the members: refuse before listing them all
        over = _bounds(name, "zip", size, declared, 0, max_entries, max_archive_bytes)
        if over:
            return over
    try:
        listing = list_zip(content, max_archive_bytes)
    except ArchiveError:
        return _unreadable(name, "zip", size, "повреждён и не открывается")
    if listing.kind == "office":
        return Verdict(name, "office", size, ACCEPTED)
    return _judge_listing(name, size, listing, max_entries, max_archive_bytes)


def _judge_rar(name: str, content: bytes | IO[bytes], size: int, max_entries: int,
               max_archive_bytes: int) -> Verdict:
    try:
        listing = list_rar(content)
    except ArchiveError as e:
        if e.reason == "names-encrypted":
            return _unreadable(name, "rar", size, "зашифрован вместе со списком файлов",
                               " без шифрования имён файлов")
        return _unreadable(name, "rar", size, "повреждён и не открывается")
    return _judge_listing(name, size, listing, max_entries, max_archive_bytes)


def _judge_listing(name: str, size: int, listing: Listing, max_entries: int,
                   max_archive_bytes: int) -> Verdict:
    """Bounds first, then every member: by content when read, else by name with a note."""
    over = _bounds(name, listing.kind, size, listing.count, listing.total,
                   max_entries, max_archive_bytes)
    if over:
        return over
    entries, notes = [], []
    for member in listing.members:
        entries.append(_entry(member.name, member.size, member.head,
                              _WHY_BY_NAME.get(member.unread, "")))
        if member.unread in _UNREAD_NOTES:
            notes.append(_UNREAD_NOTES[member.unread])
    return _summary(name, listing.kind, size, entries, notes)
