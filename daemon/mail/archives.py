"""Reading ZIP and RAR archives in memory, for the attachment check.

`daemon.mail.attachments` decides what the files inside an archive mean under §5.7; this
module only opens the archive (its bytes, or a seekable file of them: only the
pieces zipfile and rarfile ask for are read) and says what is there: how many entries its directory
declares and how many bytes they would unpack to, then each file's name, declared size
and first `SNIFF_BYTES`, read only when the caller goes on past those totals. Nothing
is unpacked to disk and no member is read whole. ZIP names written in cp866 by Russian
Windows archivers and the Info-ZIP Unicode Path field are honoured, macOS resource
forks are skipped, and an office document (OOXML, OpenDocument) is told apart from a
plain ZIP. A member is left unread, with the reason in `Member.unread`, when it is
password-protected, when its declared size is absurd, when it is a compressed RAR
member (reading it would take the external `unrar` tool, a process and temporary
files), or when reading it fails. An archive that cannot be listed at all raises
`ArchiveError`. No verdicts and no wording for clients here.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import rarfile

__all__ = [
    "MAX_RATIO",
    "SNIFF_BYTES",
    "ArchiveError",
    "Listing",
    "Member",
    "list_rar",
    "list_zip",
    "zip_declared_count",
]

SNIFF_BYTES = 64  # what we read of an archive member
# Deflate cannot compress better than about 1032:1; a bigger declared ratio is a lie.
MAX_RATIO = 1100

# Hostile bytes reach zipfile, its decompressors and rarfile, which fail in many ways
# (BadZipFile, zlib.error, LZMAError, IndexError on broken LZMA properties, ...): any
# exception from them means "could not be read", never a crashed letter.
_UNREADABLE = Exception


class ArchiveError(Exception):
    """The archive cannot be listed; `reason` is "damaged" or "names-encrypted"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Member:
    """One file in an archive, with its first bytes when they could be read."""

    name: str  # as stored (the Unicode Path when valid), not yet cleaned for display
    size: int  # declared uncompressed size
    head: bytes | None  # the first SNIFF_BYTES, or None when not read
    unread: str = ""  # why head is None: password | implausible-size | compressed | failed


@dataclass(frozen=True)
class Listing:
    """What an archive's directory declares; its members are read as they are iterated."""

    kind: str  # "zip", "rar", or "office" for a ZIP that is an OOXML/OpenDocument package
    count: int  # directory entries, folders and resource forks included
    total: int  # declared uncompressed bytes of the files
    members: Iterator[Member]  # lazy and single-use: nothing is read unless iterated


# ------------------------------------------------------------------ ZIP

def _file(content: bytes | IO[bytes]) -> IO[bytes]:
    if isinstance(content, bytes):
        return io.BytesIO(content)
    content.seek(0)
    return content


def zip_declared_count(content: bytes | IO[bytes]) -> int | None:
    """The member count in a ZIP's end record, None when there is no end record.

    Read before listing, so that an archive declaring a huge count is refused without
    listing it. A count of 0xFFFF defers to ZIP64 and comes out as 0.
    """
    if isinstance(content, bytes):
        tail = content[-65_557:]
    else:
        content.seek(max(0, content.seek(0, io.SEEK_END) - 65_557))
        tail = content.read()
    end = tail.rfind(b"PK\x05\x06")
    if end < 0:
        return None
    return int.from_bytes(tail[end + 10:end + 12], "little") % 0xFFFF


def list_zip(content: bytes | IO[bytes], max_member_bytes: int) -> Listing:
    """List a ZIP; a member declaring more than `max_member_bytes` is not read."""
    try:
        # Russian Windows archivers write names in cp866 without the UTF-8 flag.
        zf = zipfile.ZipFile(_file(content), metadata_encoding="cp866")
        infos = zf.infolist()
    except _UNREADABLE as exc:
        raise ArchiveError("damaged") from exc
    if _is_office(zf, infos):
        return Listing("office", len(infos), 0, iter(()))
    files = [i for i in infos if not i.filename.endswith("/") and not _is_apple_double(i.filename)]
    return Listing("zip", len(infos), sum(i.file_size for i in files),
                   _zip_members(zf, files, max_member_bytes))


def _zip_members(zf: zipfile.ZipFile, files: list[zipfile.ZipInfo],
                 max_member_bytes: int) -> Iterator[Member]:
    for info in files:
        member = _zip_member_name(info)
        if info.flag_bits & 0x1:
            yield Member(member, info.file_size, None, "password")
        elif info.file_size > max_member_bytes or \
                info.file_size > MAX_RATIO * max(info.compress_size, 1):
            yield Member(member, info.file_size, None, "implausible-size")
        else:
            head = _zip_head(zf, info)
            yield Member(member, info.file_size, head, "" if head is not None else "failed")


def _zip_head(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    try:
        with zf.open(info) as f:
            return f.read(SNIFF_BYTES)
    except _UNREADABLE:
        return None


def _is_office(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> bool:
    if any(i.filename == "[Content_Types].xml" for i in infos):
        return True  # OOXML (docx, xlsx, pptx)
    if not infos or infos[0].filename != "mimetype" or infos[0].file_size > 256:
        return False
    try:
        with zf.open(infos[0]) as f:
            return f.read(SNIFF_BYTES).startswith(b"application/vnd.oasis.opendocument")
    except _UNREADABLE:
        return False


def _is_apple_double(name: str) -> bool:
    """macOS Finder adds resource forks (`__MACOSX/`, `._name`): metadata, not files."""
    return name.startswith("__MACOSX/") or name.rsplit("/", 1)[-1].startswith("._")


def _zip_member_name(info: zipfile.ZipInfo) -> str:
    """The name, preferring the Info-ZIP Unicode Path extra field (0x7075) when valid."""
    extra = info.extra
    while len(extra) >= 4:
        tag, length = struct.unpack_from("<HH", extra)
        body, extra = extra[4:4 + length], extra[4 + length:]
        if tag == 0x7075 and len(body) > 5 and body[0] == 1:
            raw = info.orig_filename.encode("cp866", "replace")
            if zlib.crc32(raw) == int.from_bytes(body[1:5], "little"):
                return body[5:].decode("utf-8", "replace")
    return info.filename


# ------------------------------------------------------------------ RAR

def list_rar(content: bytes | IO[bytes]) -> Listing:
    """List a RAR; only stored (uncompressed) members are read."""
    try:
        # part_only: a later volume of a multi-volume set lists what it holds.
        rf = rarfile.RarFile(_file(content), errors="strict", part_only=True)
        infos = rf.infolist()
        hidden = not infos and rf.needs_password()
    except _UNREADABLE as exc:
        raise ArchiveError("damaged") from exc
    if hidden:
        raise ArchiveError("names-encrypted")
    files = [i for i in infos if not i.is_dir()]
    return Listing("rar", len(infos), sum(i.file_size or 0 for i in files),
                   _rar_members(rf, files))


def _rar_members(rf: rarfile.RarFile, files: list[rarfile.RarInfo]) -> Iterator[Member]:
    for info in files:
        size = info.file_size or 0
        if info.needs_password():
            yield Member(info.filename, size, None, "password")
            continue
        head = _rar_head(rf, info)
        compressed = info.compress_type != rarfile.RAR_M0
        unread = "" if head is not None else "compressed" if compressed else "failed"
        yield Member(info.filename, size, head, unread)


def _rar_head(rf: rarfile.RarFile, info: rarfile.RarInfo) -> bytes | None:
    """First bytes of a stored member, read straight from the archive bytes.

    Anything else (compressed, a link, the tail of a split file) would make
    rarfile run unrar through temporary files, so it is judged by name.
    """
    if rarfile.FORCE_TOOL or info.compress_type != rarfile.RAR_M0 or info.file_redir \
            or info.flags & rarfile.RAR_FILE_SPLIT_BEFORE:
        return None
    try:
        with rf.open(info) as f:
            return bytes(f.read(SNIFF_BYTES))
    except _UNREADABLE:
        return None
