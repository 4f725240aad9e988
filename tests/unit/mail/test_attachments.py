"""§5.7: what a client may attach, judged by content, with archives listed in memory.

Every file here is built in the test: pictures whose headers (and, where cheap,
whole bodies) are what real encoders write, real ZIP archives from `zipfile`,
RAR5 archives assembled block by block per the RAR 5.0 format description, and
two tiny RAR archives made by the real RAR archiver (from the test suite of the
`rarfile` package, ISC licence, (c) Marko Kreen).
"""

from __future__ import annotations

import base64
import gzip
import io
import struct
import zipfile
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.mail.attachments import (
    ACCEPTED,
    REJECTED,
    ArchiveEntry,
    Verdict,
    judge,
    safe_filename,
    sniff,
)

# ---------------------------------------------------------------- tiny real files


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png() -> bytes:
    """A complete, decodable 1x1 white PNG."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + _chunk(b"IEND", b""))


def gif() -> bytes:
    """A complete 1x1 transparent GIF89a."""
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00"
            b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def jpeg(exif: bool = False) -> bytes:
    """JPEG as cameras (Exif) and editors (JFIF) begin it: SOI, APPn, DQT ... EOI."""
    if exif:
        app = b"\xff\xe1" + struct.pack(">H", 16) + b"Exif\x00\x00II*\x00\x08\x00\x00\x00"
    else:
        app = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    dqt = b"\xff\xdb" + struct.pack(">H", 67) + b"\x00" + bytes(range(1, 65))
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 1, 1, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app + dqt + sof + b"\xff\xd9"


def bmp(width: int = 2, height: int = 2) -> bytes:
    """A complete 24-bit BMP (BITMAPFILEHEADER + BITMAPINFOHEADER + pixels)."""
    row = (width * 3 + 3) & ~3
    pixels = (b"\x00\x00\xff" * width).ljust(row, b"\x00") * height
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    header = struct.pack("<2sIHHI", b"BM", 14 + 40 + len(pixels), 0, 0, 14 + 40)
    return header + info + pixels


def webp() -> bytes:
    """RIFF/WEBP with a VP8L (lossless) 1x1 chunk header, as cwebp -lossless writes."""
    vp8l = b"\x2f" + (0).to_bytes(4, "little") + b"\x00\x00\x00\x00\x00"
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(vp8l)) + b"WEBP" + b"VP8L" \
        + struct.pack("<I", len(vp8l)) + vp8l


def tiff(big_endian: bool = False) -> bytes:
    """A complete 1x1 8-bit greyscale TIFF."""
    e = ">" if big_endian else "<"
    tags = [(256, 3, 1, 1), (257, 3, 1, 1), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
            (273, 4, 1, 8 + 2 + 12 * 8 + 4), (278, 3, 1, 1), (279, 4, 1, 1)]
    ifd = struct.pack(e + "H", len(tags))
    for tag, typ, count, value in tags:
        packed = struct.pack(e + "H", value) + b"\x00\x00" if typ == 3 else \
            struct.pack(e + "I", value)
        ifd += struct.pack(e + "HHI", tag, typ, count) + packed
    head = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(e + "I", 8)
    return head + ifd + b"\x00\x00\x00\x00" + b"\x80"


def isobmff(major: bytes, *compatible: bytes) -> bytes:
    """An ISO media file's `ftyp` box (what HEIC/AVIF readers check first) and an empty meta."""
    ftyp = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(ftyp)) + b"ftyp" + ftyp + struct.pack(">I", 12) \
        + b"meta\x00\x00\x00\x00"


def heic() -> bytes:
    return isobmff(b"heic", b"mif1", b"miaf", b"MiHB", b"heic")  # as an iPhone writes it


def avif() -> bytes:
    return isobmff(b"avif", b"avif", b"mif1", b"miaf", b"MA1A")


def ico() -> bytes:
    """A Vista-style .ico: one 1x1 entry holding a PNG."""
    image = png()
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 1, 1, 0, 0, 1, 32,
                                                      len(image), 22) + image


def psd() -> bytes:
    """A complete 1x1 greyscale Photoshop file."""
    return (b"8BPS" + struct.pack(">H6xHIIHH", 1, 1, 1, 1, 8, 1) + struct.pack(">I", 0)
            + struct.pack(">I", 0) + struct.pack(">I", 0) + struct.pack(">H", 0) + b"\x80")


SVG = (b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
       b'<!-- Created with Inkscape (http://www.inkscape.org/) -->\n'
       b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" '
       b'height="10"/></svg>\n')
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]"
       b"/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
SEVEN_Z = b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24)
TNEF = b"\x78\x9f\x3e\x22" + b"\x01\x00\x01\x06\x90\x08\x00\x04\x00\x00\x00\x00\x00\x01\x00"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + b"\x3e\x00\x03\x00\xfe\xff\x09\x00"
LOG_CP1251 = "2025-03-01 10:00:01 ОШИБКА: не удалось подписать документ\r\n".encode("cp1251")
LOG_UTF8 = "2025-03-01 10:00:01 ОШИБКА: не удалось подписать документ\n".encode()


def zip_of(*members: tuple[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def docx(media: bytes) -> bytes:
    return zip_of(("[Content_Types].xml", b"<Types/>"), ("_rels/.rels", b"<Relationships/>"),
                  ("word/document.xml", b"<w:document/>"), ("word/media/image1.webp", media))


def odt() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", b"application/vnd.oasis.opendocument.text")  # stored, first
        zf.writestr("content.xml", b"<office:document-content/>", zipfile.ZIP_DEFLATED)
    return buf.getvalue()


# RAR5, block by block (RAR 5.0 archive format: vint fields, CRC32 of each header).

def _vint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, low = n >> 7, n & 0x7F
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _rar5_header(htype: int, fields: bytes, extra: bytes = b"", data: bytes = b"") -> bytes:
    flags = (0x1 if extra else 0) | (0x2 if data else 0)
    body = _vint(htype) + _vint(flags)
    body += (_vint(len(extra)) if extra else b"") + (_vint(len(data)) if data else b"")
    body += fields + extra
    sized = _vint(len(body)) + body
    return struct.pack("<I", zlib.crc32(sized)) + sized + data


def rar5(*members: tuple[str, bytes], method: int = 0, encrypted: bool = False) -> bytes:
    """A RAR5 archive; method 0 stores, other methods are only declared (listing never
    decompresses); `encrypted` adds the per-file AES-256 extra record."""
    out = b"Rar!\x1a\x07\x01\x00" + _rar5_header(1, _vint(0))
    for name, data in members:
        raw = name.encode()
        fields = (_vint(0x4) + _vint(len(data)) + _vint(0x20) + struct.pack("<I", zlib.crc32(data))
                  + _vint(method << 7) + _vint(0) + _vint(len(raw)) + raw)
        extra = b""
        if encrypted:
            record = _vint(1) + _vint(0) + _vint(0) + bytes([15]) + bytes(16) + bytes(16)
            extra = _vint(len(record)) + record
        out += _rar5_header(2, fields, extra, data)
    return out + _rar5_header(5, _vint(0))


def rar5_names_encrypted() -> bytes:
    """RAR5 with an archive encryption header: the file list itself is encrypted."""
    enc = _vint(0) + _vint(0x1) + bytes([15]) + bytes(range(16)) + bytes(12)
    return b"Rar!\x1a\x07\x01\x00" + _rar5_header(4, enc) + bytes(range(96))


# Made by the RAR archiver (rarfile's test files): a RAR 2.9 archive holding the stored
# file ro_dir/ro_file.txt and its directory; and one holding two compressed files with
# Unicode names (Cyrillic "уииоотивл.txt" and mathematical bold "𝐀𝐁𝐁𝐂.txt").
REAL_RAR_STORED = base64.b64decode(
    "UmFyIRoHAM+QcwAADQAAAAAAAAC153QgkDcACQAAAAkAAAACdiKNgXWx+lAdMBIAIQAAAHJvX2Rp"
    "clxyb19maWxlLnR4dACwk7MvcmVhZG9ubHkKcUd04JArAAAAAAAAAAAAAgAAAAB1sfpQFDAGABEA"
    "AAByb19kaXIAsJokMsQ9ewBABwA=")
REAL_RAR_UNICODE = base64.b64decode(
    "UmFyIRoHADvQcwgADQAAAAAAAAAc8XSAgDYAEQAAAAIAAAADU/xRZwKG5j4dNRYApIEAANGD0LjQ"
    "uNC+0L7RgtC40LLQuy50eHSnGDDY998j8QAAv4hn9qn/1AX2dJCANAANAAAAAgAAAANT/FFnAobm"
    "Ph01FACkgQAA8J2QgPCdkIHwnZCB8J2Qgi50eHSHrY13gwC/iGf2qf/UxD17AEAHAA==")


# ---------------------------------------------------------------- sniffing

@pytest.mark.parametrize(("content", "kind"), [
    (jpeg(), "jpeg"), (jpeg(exif=True), "jpeg"), (png(), "png"), (gif(), "gif"),
    (bmp(), "bmp"), (webp(), "webp"), (tiff(), "tiff"), (tiff(big_endian=True), "tiff"),
    (heic(), "heic"), (avif(), "avif"), (isobmff(b"mif1", b"mif1", b"avif"), "avif"),
    (isobmff(b"mif1", b"mif1", b"heic"), "heic"), (ico(), "ico"), (SVG, "svg"), (psd(), "psd"),
    (zip_of(("a.txt", b"x")), "zip"), (docx(webp()), "office"), (odt(), "office"),
    (rar5(("a.txt", b"x")), "rar"), (REAL_RAR_STORED, "rar"), (SEVEN_Z, "7z"),
    (gzip.compress(b"x"), "gzip"), (PDF, "pdf"), (TNEF, "ms-tnef"), (OLE, "ole"),
    (LOG_UTF8, "text"), (LOG_CP1251, "text"), ("журнал".encode("koi8-r"), "text"),
    ("лог".encode("utf-16"), "text"), (isobmff(b"isom", b"mp41"), "unknown"),
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00", "unknown"),
    (b"\x01\x02" * 40, "unknown"),
])
def test_sniff_tells_the_format_from_content(content: bytes, kind: str) -> None:
    assert sniff(content) == kind


@pytest.mark.parametrize("content", [jpeg(), png(), gif(), bmp(), webp(), tiff(), heic(), ico(),
                                     psd(), PDF, OLE, LOG_UTF8])
def test_sniff_needs_only_the_first_64_bytes(content: bytes) -> None:
    assert sniff(content[:64]) == sniff(content)


def test_utf8_cut_in_the_middle_of_a_letter_is_still_text() -> None:
    assert sniff("Ошибка".encode()[:5]) == "text"


def test_a_text_that_begins_with_bm_is_not_a_bitmap() -> None:
    assert sniff(b"BM-2025 order list\n") == "text"


def test_html_with_inline_svg_is_text_not_an_svg_picture() -> None:
    assert sniff(b"<html><body><svg></svg></body></html>") == "text"


# ---------------------------------------------------------------- single files

@pytest.mark.parametrize(("name", "content", "kind"), [
    ("screen.jpg", jpeg(), "jpeg"), ("screen.png", png(), "png"), ("anim.gif", gif(), "gif"),
    ("log.txt", LOG_CP1251, "text"), ("act.pdf", PDF, "pdf"), ("report.doc", OLE, "ole"),
    ("letter.docx", docx(webp()), "office"), ("letter.odt", odt(), "office"),
    ("winmail.dat", TNEF, "ms-tnef"),
])
def test_screenshots_in_jpg_gif_png_and_documents_are_accepted_plainly(
        name: str, content: bytes, kind: str) -> None:
    v = judge(name, content)
    assert (v.verdict, v.detected_type, v.reason, v.entries) == (ACCEPTED, kind, "", ())
    assert v.filename == name and v.size == len(content) and v.accepted


def test_a_bare_bmp_is_rejected_and_the_client_is_told_to_pack_it() -> None:
    v = judge("скриншот.bmp", bmp())
    assert (v.verdict, v.detected_type) == (REJECTED, "bmp")
    assert "ZIP или RAR" in v.reason and "JPG, GIF или PNG" in v.reason
    assert "п. 5.7 Регламента" in v.reason


@pytest.mark.parametrize(("name", "content", "kind", "shown"), [
    ("shot.webp", webp(), "webp", "WebP"), ("IMG_0001.HEIC", heic(), "heic", "HEIC"),
    ("shot.avif", avif(), "avif", "AVIF"), ("scan.tiff", tiff(), "tiff", "TIFF"),
    ("icon.ico", ico(), "ico", "ICO"), ("mockup.psd", psd(), "psd", "PSD"),
    ("scheme.svg", SVG, "svg", "SVG"),
])
def test_other_image_formats_are_rejected_naming_the_format(
        name: str, content: bytes, kind: str, shown: str) -> None:
    v = judge(name, content)
    assert (v.verdict, v.detected_type) == (REJECTED, kind)
    assert f"в формате {shown}" in v.reason
    assert "JPG, GIF и PNG" in v.reason and v.reason.endswith(".")


def test_format_is_judged_by_content_jpeg_named_png_is_accepted_as_jpeg() -> None:
    v = judge("screen.png", jpeg(), "image/png")
    assert (v.verdict, v.detected_type) == (ACCEPTED, "jpeg")
    assert v.reason == "По содержимому это изображение JPEG, хотя имя файла оканчивается на .png."


def test_heic_named_jpg_is_rejected() -> None:
    v = judge("IMG_0001.jpg", heic(), "image/jpeg")
    assert (v.verdict, v.detected_type) == (REJECTED, "heic")
    assert "HEIC" in v.reason and "оканчивается на .jpg" in v.reason


def test_png_named_bmp_is_accepted_as_png() -> None:
    assert judge("shot.bmp", png()).verdict == ACCEPTED


def test_svg_whose_root_lies_beyond_the_sniffed_head_is_caught_by_its_name() -> None:
    content = b"<?xml version='1.0'?>\n<!--" + b" " * 5000 + b"-->\n<svg/>"
    v = judge("diagram.svg", content)
    assert (v.verdict, v.detected_type) == (REJECTED, "svg")


def test_a_picture_name_over_unrecognisable_bytes_is_rejected_as_damaged() -> None:
    v = judge("screen.png", bytes(range(256)) * 4)
    assert (v.verdict, v.detected_type) == (REJECTED, "unknown")
    assert "повреждён" in v.reason and "назван как изображение PNG" in v.reason
    by_mime = judge("screen", bytes(range(256)), "image/png")
    assert by_mime.verdict == REJECTED and "отправлен как изображение PNG" in by_mime.reason


def test_an_unknown_binary_without_a_picture_name_is_accepted() -> None:
    assert judge("dump.bin", bytes(range(256))).verdict == ACCEPTED


def test_an_empty_file_is_rejected_with_a_request_to_resend() -> None:
    v = judge("screen.png", b"")
    assert (v.verdict, v.size) == (REJECTED, 0) and "пуст" in v.reason


def test_the_verdict_carries_a_safe_display_name() -> None:
    assert judge("..\\..\\C:\\Windows\\evil\r\n.png", png()).filename == "evil.png"


# ---------------------------------------------------------------- ZIP

def test_bmp_inside_a_zip_is_accepted_and_every_member_is_listed() -> None:
    v = judge("screens.zip", zip_of(("1.bmp", bmp()), ("2.png", png()), ("logs/app.log", LOG_UTF8)))
    assert (v.verdict, v.detected_type, v.reason) == (ACCEPTED, "zip", "")
    assert v.entries == (
        ArchiveEntry("1.bmp", "bmp", len(bmp()), ACCEPTED, "", True),
        ArchiveEntry("2.png", "png", len(png()), ACCEPTED, "", True),
        ArchiveEntry("logs/app.log", "text", len(LOG_UTF8), ACCEPTED, "", True),
    )


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                         zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_zip_members_are_sniffed_by_content_whatever_the_compression(compression: int) -> None:
    v = judge("a.zip", zip_of(("shot.png", webp()), compression=compression))
    assert v.verdict == REJECTED
    assert v.entries[0].detected_type == "webp" and v.entries[0].by_content


def test_a_zip_with_a_webp_is_rejected_naming_the_member() -> None:
    v = judge("screens.zip", zip_of(("ok.png", png()), ("shots/bad.webp", webp())))
    assert (v.verdict, v.detected_type) == (REJECTED, "zip")
    assert "«shots/bad.webp» (WebP)" in v.reason and "JPG, GIF и PNG" in v.reason
    assert [e.verdict for e in v.entries] == [ACCEPTED, REJECTED]
    assert "WebP" in v.entries[1].reason


def test_a_long_list_of_bad_members_is_shortened_in_the_reason() -> None:
    v = judge("a.zip", zip_of(*[(f"{i}.webp", webp()) for i in range(8)]))
    assert "и ещё 3" in v.reason and len(v.entries) == 8


def test_zip_names_from_russian_windows_archivers_are_read_as_cp866() -> None:
    name = "Снимок экрана.png"
    placeholder = "x" * len(name.encode("cp866"))
    raw = zip_of((placeholder, png())).replace(placeholder.encode(), name.encode("cp866"))
    assert judge("a.zip", raw).entries[0].name == name


def test_office_documents_are_documents_even_when_they_embed_webp() -> None:
    assert judge("act.docx", docx(webp())).verdict == ACCEPTED


def test_macos_resource_forks_are_not_listed() -> None:
    apple_double = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "
    v = judge("a.zip", zip_of(("shot.png", png()), ("__MACOSX/._shot.png", apple_double)))
    assert v.verdict == ACCEPTED and [e.name for e in v.entries] == ["shot.png"]


def test_a_zip_inside_a_zip_is_accepted_with_a_note() -> None:
    v = judge("a.zip", zip_of(("inner.zip", zip_of(("b.webp", webp())))))
    assert v.verdict == ACCEPTED and v.entries[0].reason == "Вложенный архив не проверялся."


def _patch_zip(raw: bytes, *, flag_bits: int | None = None, file_size: int | None = None) -> bytes:
    """Rewrite the general-purpose flags or declared size in both local and central headers."""
    out = bytearray(raw)
    for magic, flags_at, size_at in ((b"PK\x03\x04", 6, 22), (b"PK\x01\x02", 8, 24)):
        at = out.find(magic)
        if flag_bits is not None:
            struct.pack_into("<H", out, at + flags_at, flag_bits)
        if file_size is not None:
            struct.pack_into("<I", out, at + size_at, file_size)
    return bytes(out)


def test_password_protected_zip_members_are_judged_by_name_with_a_note() -> None:
    v = judge("a.zip", _patch_zip(zip_of(("shot.png", png()), compression=zipfile.ZIP_STORED),
                                  flag_bits=0x1))
    assert v.verdict == ACCEPTED and "пароль" in v.reason
    assert v.entries[0].detected_type == "png" and not v.entries[0].by_content
    bad = judge("a.zip", _patch_zip(zip_of(("shot.webp", png())), flag_bits=0x1))
    assert bad.verdict == REJECTED and "«shot.webp» (WebP)" in bad.reason


def test_a_member_declaring_an_absurd_size_is_judged_by_name_without_reading() -> None:
    raw = _patch_zip(zip_of(("shot.png", webp())), file_size=50 * 2**20)
    v = judge("bomb.zip", raw)
    assert v.verdict == ACCEPTED  # the name says png; the content was never read
    entry = v.entries[0]
    assert (entry.detected_type, entry.by_content, entry.size) == ("png", False, 50 * 2**20)
    assert "неправдоподобен" in entry.reason


def test_a_highly_compressible_but_honest_member_is_still_read() -> None:
    v = judge("big.zip", zip_of(("zeros.bmp", bmp()[:54] + bytes(4 * 2**20))))
    assert v.entries[0].detected_type == "bmp" and v.entries[0].by_content


def test_an_archive_over_the_declared_size_bound_is_rejected() -> None:
    raw = zip_of(("a.log", bytes(3 * 2**20)))
    v = judge("logs.zip", raw, max_archive_bytes=2 * 2**20)
    assert v.verdict == REJECTED and "3 МБ" in v.reason and "2 МБ" in v.reason
    assert judge("logs.zip", raw).verdict == ACCEPTED


def test_an_archive_with_too_many_members_is_rejected() -> None:
    v = judge("many.zip", zip_of(*[(f"{i}.txt", b"x") for i in range(5)]), max_entries=4)
    assert v.verdict == REJECTED and "В архиве 5 файлов" in v.reason and "из 4 файлов" in v.reason


@pytest.mark.parametrize("cut", [10, 40, -30, -1])
def test_a_damaged_zip_is_rejected_with_a_request_to_repack(cut: int) -> None:
    raw = zip_of(("shot.png", png()), ("b.png", png()))
    v = judge("a.zip", raw[:cut])
    assert (v.verdict, v.detected_type) == (REJECTED, "zip")
    assert "повреждён" in v.reason and "пришлите" in v.reason


# ---------------------------------------------------------------- RAR

def test_stored_members_of_a_rar_are_sniffed_by_content() -> None:
    v = judge("shots.rar", rar5(("1.bmp", bmp()), ("2.png", png())))
    assert (v.verdict, v.detected_type, v.reason) == (ACCEPTED, "rar", "")
    assert [(e.name, e.detected_type, e.by_content) for e in v.entries] == [
        ("1.bmp", "bmp", True), ("2.png", "png", True)]


def test_a_rar_with_a_stored_webp_is_rejected_whatever_its_name() -> None:
    v = judge("shots.rar", rar5(("shot.png", webp())))
    assert v.verdict == REJECTED and "«shot.png» (WebP)" in v.reason


def test_compressed_rar_members_are_judged_by_extension_and_the_reason_says_so() -> None:
    ok = judge("shots.rar", rar5(("1.bmp", b"\x00" * 40), ("2.jpg", b"\x01" * 40), method=3))
    assert ok.verdict == ACCEPTED
    assert "по расширениям имён" in ok.reason and "не распаковывается" in ok.reason
    assert all(not e.by_content for e in ok.entries)
    assert [e.detected_type for e in ok.entries] == ["bmp", "jpeg"]
    bad = judge("shots.rar", rar5(("shot.heic", b"\x00" * 40), method=3))
    assert bad.verdict == REJECTED and "«shot.heic» (HEIC/HEIF)" in bad.reason
    assert "по имени файла" in bad.entries[0].reason


def test_a_real_rar_made_by_the_archiver_is_listed() -> None:
    v = judge("real.rar", REAL_RAR_STORED)
    assert v.verdict == ACCEPTED
    assert [(e.name, e.detected_type, e.size, e.by_content) for e in v.entries] == [
        ("ro_dir/ro_file.txt", "text", 9, True)]
    uni = judge("unicode.rar", REAL_RAR_UNICODE)
    assert [e.name for e in uni.entries] == ["уииоотивл.txt", "𝐀𝐁𝐁𝐂.txt"]
    assert uni.verdict == ACCEPTED and not uni.entries[0].by_content


def test_password_protected_rar_members_are_judged_by_name() -> None:
    v = judge("a.rar", rar5(("shot.png", png()), encrypted=True))
    assert v.verdict == ACCEPTED and "пароль" in v.reason
    assert not v.entries[0].by_content


def test_a_rar_whose_file_list_is_encrypted_is_rejected() -> None:
    v = judge("secret.rar", rar5_names_encrypted())
    assert (v.verdict, v.detected_type) == (REJECTED, "rar")
    assert "зашифрован вместе со списком файлов" in v.reason


@pytest.mark.parametrize("cut", [12, 30, -8])
def test_a_damaged_rar_is_rejected(cut: int) -> None:
    v = judge("a.rar", rar5(("shot.png", png()))[:cut])
    assert v.verdict == REJECTED and "повреждён" in v.reason


def test_rar_bounds_apply_too() -> None:
    raw = rar5(*[(f"{i}.txt", b"x") for i in range(3)])
    assert judge("a.rar", raw, max_entries=2).verdict == REJECTED
    assert judge("a.rar", raw, max_archive_bytes=2).verdict == REJECTED


# ---------------------------------------------------------------- archives we do not open

@pytest.mark.parametrize(("name", "content", "shown"), [
    ("shots.7z", SEVEN_Z, "7z"), ("shot.bmp.gz", gzip.compress(bmp()), "gzip")])
def test_7z_and_gzip_are_accepted_with_a_note_that_only_zip_and_rar_are_checked(
        name: str, content: bytes, shown: str) -> None:
    v = judge(name, content)
    assert v.verdict == ACCEPTED and v.entries == ()
    assert f"архивов {shown} не проверяется" in v.reason and "ZIP и RAR" in v.reason


# ---------------------------------------------------------------- robustness

@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"Rar!\x1a\x07\x00",
                        b"Rar!\x1a\x07\x01\x00", b"\xff\xd8\xff", b"BM", b"RIFF"]),
       st.binary(max_size=400), st.text(max_size=40))
def test_judge_never_raises_on_hostile_bytes(prefix: bytes, body: bytes, name: str) -> None:
    v = judge(name, prefix + body)
    assert isinstance(v, Verdict) and v.verdict in (ACCEPTED, REJECTED)
    assert v.verdict == ACCEPTED or v.reason


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_judge_never_raises_on_damaged_archives(noise: bytes) -> None:
    for raw in (zip_of(("a.png", png()), ("b.bmp", bmp())), rar5(("a.png", png()))):
        at = len(noise) % len(raw)
        judge("a", raw[:at] + noise + raw[at + len(noise):])


def test_a_member_without_a_name_is_listed_not_fatal() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo(""), b"x")
    assert judge("a.zip", buf.getvalue()).entries[0].name == "?"


def test_broken_lzma_properties_in_a_zip_member_are_survived() -> None:
    raw = bytearray(zip_of(("x.png", png()), compression=zipfile.ZIP_LZMA))
    struct.pack_into("<H", raw, 30 + len("x.png") + 2, 0xFFFF)  # LZMA properties size
    v = judge("a.zip", bytes(raw))
    assert v.entries[0].by_content is False and v.entries[0].detected_type == "png"


# ---------------------------------------------------------------- safe names

@pytest.mark.parametrize(("raw", "safe"), [
    ("отчёт.pdf", "отчёт.pdf"),
    ("C:\\Users\\ivanov\\Desktop\\screen.png", "screen.png"),
    ("../../etc/passwd", "passwd"),
    ("shot\r\n.png", "shot.png"),
    ("photo\u202egnp.exe", "photognp.exe"),
    ("a\x00b\x1f.txt", "ab.txt"),
    ("...hidden", "hidden"),
    (".png", "png"),
    ("CON.txt", "_CON.txt"),
    ("lpt1", "_lpt1"),
    ("nul.tar.gz", "_nul.tar.gz"),
    ('what?<>|*".log', "what______.log"),
    ("name. . .", "name"),
    ("", "attachment"),
    ("../..", "attachment"),
    ("\r\n", "attachment"),
])
def test_safe_filename(raw: str, safe: str) -> None:
    assert safe_filename(raw) == safe


def test_long_names_are_cut_to_180_bytes_keeping_the_extension() -> None:
    name = safe_filename("Снимок экрана " * 30 + ".png")
    assert name.endswith(".png") and len(name.encode()) <= 180
    assert name.startswith("Снимок экрана")


@settings(max_examples=500)
@given(st.text())
def test_safe_filename_properties(raw: str) -> None:
    name = safe_filename(raw)
    assert name and len(name.encode()) <= 180
    assert not name.startswith(".") and not name.endswith((".", " "))
    assert not any(ch in name for ch in '/\\\r\n\x00<>:"|?*')
    assert name.split(".")[0].lower() not in {"con", "prn", "aux", "nul", "com1", "lpt1"}
    assert safe_filename(name) == name
