"""How the corpus's mail clients write MIME: RFC 2047 headers (B or Q, split on
character bounds, in the body's charset), text parts in 8bit, quoted-printable or
base64, multiparts, HTML, and screenshots (PNG or JPEG with real headers, noise for
pixels) attached under ASCII, RFC 2231 or RFC 2047 file names.

The building blocks of bench/corpus.py; the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import random
import struct
import zlib

CRLF = "\r\n"

_FALLBACK = str.maketrans({"—": "-", "–": "-", "«": '"', "»": '"', "№": "N", "…": "..."})


def fit(text: str, charset: str) -> str:
    """What a client in `charset` could type: KOI8-R has no dashes or guillemets."""
    try:
        text.encode(charset)
        return text
    except UnicodeEncodeError:
        return text.translate(_FALLBACK).encode(charset, "replace").decode(charset)


def _encoded_words(text: str, charset: str, how: str) -> list[str]:
    """RFC 2047 encoded words of at most ~75 characters, split on character bounds."""
    words, chunk = [], ""
    limit = 45 if how == "B" else 22  # bytes of payload per word, roughly

    def flush(c: str) -> None:
        data = c.encode(charset)
        if how == "B":
            payload = base64.b64encode(data).decode()
        else:
            payload = "".join(
                "_" if b == 32 else chr(b) if (48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122)
                else f"={b:02X}" for b in data)
        words.append(f"=?{charset.upper()}?{how}?{payload}?=")

    for ch in text:
        if len((chunk + ch).encode(charset)) > limit:
            flush(chunk)
            chunk = ""
        chunk += ch
    if chunk:
        flush(chunk)
    return words


def enc_header(text: str, charset: str, how: str = "B") -> str:
    if charset == "us-ascii" and text.isascii():
        return text
    cs = "utf-8" if charset == "us-ascii" else charset
    return (CRLF + " ").join(_encoded_words(fit(text, cs), cs, how))


def enc_addr(name: str, addr: str, charset: str) -> str:
    return f"{enc_header(name, charset)} <{addr}>"


def b64_lines(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return CRLF.join(text[i:i + 76] for i in range(0, len(text), 76))


def qp(text: str, charset: str) -> str:
    data = text.replace("\r\n", "\n").encode(charset)
    out = binascii.b2a_qp(data, istext=True).decode("ascii")
    return out.replace("\n", CRLF)


def text_part(text: str, charset: str, cte: str, subtype: str = "plain",
              flowed: bool = False) -> bytes:
    text = fit(text, charset)
    params = f'; charset="{charset}"' + ("; format=flowed" if flowed else "")
    head = f"Content-Type: text/{subtype}{params}{CRLF}Content-Transfer-Encoding: {cte}{CRLF}"
    if cte == "base64":
        body = b64_lines(text.encode(charset))
    elif cte == "quoted-printable":
        body = qp(text, charset)
    else:
        body = text.replace("\r\n", "\n").replace("\n", CRLF)
    return (head + CRLF).encode("ascii") + body.encode(charset, "replace") + CRLF.encode()


def multipart(subtype: str, parts: list[bytes], boundary: str) -> bytes:
    out = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"{CRLF}{CRLF}'
           f"This is a multi-part message in MIME format.{CRLF}".encode()]
    for p in parts:
        out.append(f"--{boundary}{CRLF}".encode() + p)
    out.append(f"--{boundary}--{CRLF}".encode())
    return b"".join(out)


def html_of(text: str) -> str:
    paras = "".join(f"<p>{line}</p>" for line in text.split("\r\n") if line.strip())
    return (f'<html><head><meta http-equiv="Content-Type" content="text/html">'
            f"<style>p{{margin:0;font-family:Calibri}}</style></head>"
            f"<body><div>{paras}</div></body></html>")


# ---------------------------------------------------------------- screenshots


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def screenshot(rnd: random.Random, size: int) -> tuple[str, str, bytes]:
    """(file name, MIME type, bytes) of a PNG or JPEG of about `size` bytes.

    The pixels are noise (screenshots are already compressed, so noise is a fair
    stand-in); the headers are real, so type sniffing sees a PNG or a JPEG."""
    names_png = ["screenshot.png", "Снимок экрана 2026-11-20 в 14.32.10.png", "image001.png",
                 "ошибка.png", "Screenshot_20261120-143210.png"]
    names_jpg = ["IMG_2041.JPG", "photo_2026-11-20.jpg", "скрин.jpg"]
    if rnd.random() < 0.7:
        w, h = rnd.choice([(1920, 1080), (1366, 768), (1280, 1024), (2560, 1440)])
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        body = (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                + _png_chunk(b"IDAT", rnd.randbytes(max(0, size - 57))) + _png_chunk(b"IEND", b""))
        return rnd.choice(names_png), "image/png", body
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return rnd.choice(names_jpg), "image/jpeg", head + rnd.randbytes(size - 22) + b"\xff\xd9"


def attachment_part(name: str, ctype: str, data: bytes, rnd: random.Random) -> bytes:
    if name.isascii():
        disp = f'attachment; filename="{name}"'
        ct = f'{ctype}; name="{name}"'
    elif rnd.random() < 0.5:  # RFC 2231 (Thunderbird, Apple Mail)
        from urllib.parse import quote

        disp = f"attachment;{CRLF} filename*=UTF-8''{quote(name)}"
        ct = f"{ctype};{CRLF} name*=UTF-8''{quote(name)}"
    else:  # RFC 2047 in a parameter (Outlook, Gmail): wrong but everywhere
        encoded = enc_header(name, "utf-8").replace(CRLF + " ", "")
        disp = f'attachment; filename="{encoded}"'
        ct = f'{ctype}; name="{encoded}"'
    return (f"Content-Type: {ct}{CRLF}Content-Transfer-Encoding: base64{CRLF}"
            f"Content-Disposition: {disp}{CRLF}{CRLF}").encode() + b64_lines(data).encode() + \
        CRLF.encode()
