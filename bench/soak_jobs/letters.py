"""The soak's letters as mail clients write them: names, subjects and sentences of a
Russian support desk; RFC 2047 headers (B or Q, as `email.header` writes them), text
parts in 8bit, base64 or quoted-printable in UTF-8, KOI8-R or windows-1251,
multiparts, small PNG and BMP attachments (RFC 2231 names), and the headers of a
letter from a `Client`. The building blocks of bench/soak_jobs/mix.py.
"""

from __future__ import annotations

import base64
import quopri
import random
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime

from bench.harness.desk_config import DESK_ADDRESS as DESK

DOMAINS = ["romashka.example", "polyus-log.example", "kontur-snab.example", "vega-trade.example",
           "sever-energo.example", "ural-stroy.example", "baltika-med.example", "mir-it.example",
           "avangard.example", "tsentr-uchet.example", "zarya-agro.example", "volga-bank.example"]
FIRST = ["Иван", "Мария", "Алексей", "Ольга", "Сергей", "Наталья", "Дмитрий", "Елена", "Павел",
         "Татьяна", "Андрей", "Юлия", "Виктор", "Светлана", "Михаил", "Анна"]
LAST = ["Иванов", "Смирнова", "Кузнецов", "Попова", "Соколов", "Лебедева", "Козлов", "Новикова",
        "Морозов", "Петрова", "Волков", "Соловьёва", "Васильев", "Зайцева", "Павлов", "Семёнова"]
TRANSLIT = str.maketrans({"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e",
                          "ж": "zh", "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m",
                          "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
                          "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch",
                          "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya"})
SUBJECTS = ["Не формируется отчёт за квартал", "Ошибка при входе в личный кабинет",
            "Не приходят уведомления", "Вопрос по лицензии", "Зависает выгрузка в 1С",
            "Ошибка 500 при сохранении документа", "Не открывается архив документов",
            "Как добавить нового пользователя", "Сбой синхронизации справочников",
            "Медленно работает поиск", "Не печатается счёт-фактура", "Пропали вложения в карточке",
            "Ошибка подписи документа", "Не работает импорт из Excel", "Просьба продлить доступ"]
SENTENCES = ["Здравствуйте!", "Добрый день.", "При формировании отчёта появляется ошибка.",
             "Проблема воспроизводится у всех пользователей отдела.",
             "Вчера всё работало, сегодня после обновления перестало.",
             "Шаги: открыть раздел, выбрать период, нажать «Сформировать».",
             "Версия системы 3.14, редакция «Корпоративная».",
             "Адрес системы https://edo.client.example, браузер Firefox 128.",
             "Просим помочь как можно скорее, закрывается период.",
             "Перезапуск браузера и очистка кэша не помогли.",
             "Снимок экрана с ошибкой прилагаю.", "Заранее спасибо за помощь.",
             "Наш договор на сопровождение действует до конца года.",
             "Ошибка появляется примерно в половине случаев.",
             "Подскажите, пожалуйста, что можно сделать."]
REPLY_TEXT = ["Спасибо, попробовали — не помогло.", "Добавляю подробности: ошибка та же.",
              "Проблема решена, спасибо!", "Когда ждать ответа?", "Прикладываю журнал ниже.",
              "Уточнение: ошибка только у пользователей с правами администратора."]
REPLY_PREFIXES = ["Re: ", "RE: ", "Отв: ", "Re[2]: ", "Ответ: ", "Re: Re: ", "Fwd: Re: "]
CHARSETS = [("utf-8", "8bit"), ("utf-8", "base64"), ("utf-8", "quoted-printable"),
            ("koi8-r", "8bit"), ("windows-1251", "quoted-printable"), ("windows-1251", "8bit")]


def fit(text: str, charset: str) -> str:
    """What a client in that charset could type: KOI8-R has no «», —, №."""
    if charset == "koi8-r":
        text = text.replace("«", '"').replace("»", '"').replace("—", "-").replace("№", "N")
    return text.encode(charset, "replace").decode(charset)


def enc_header(text: str, charset: str, how: str = "b") -> str:
    text = fit(text, charset)
    if all(ord(c) < 128 for c in text):
        return text
    h = Header(text, charset=charset, header_name="Subject", maxlinelen=76)
    if how == "q":  # email.header picks B for Cyrillic; some clients write Q
        from email.charset import QP, Charset

        cs = Charset(charset)
        cs.header_encoding = QP
        h = Header(text, charset=cs, header_name="Subject", maxlinelen=76)
    return h.encode(linesep="\r\n")


def enc_addr(name: str, addr: str, charset: str) -> str:
    return f"{enc_header(name, charset)} <{addr}>"


def body_bytes(text: str, charset: str, cte: str) -> bytes:
    """Line ends are LF here; `crlf` makes them CRLF when the letter is sent."""
    data = fit(text, charset).encode(charset)
    if cte == "base64":
        return base64.encodebytes(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data)
    return data


def text_part(text: str, charset: str, cte: str, subtype: str = "plain") -> bytes:
    head = (f"Content-Type: text/{subtype}; charset={charset}\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode()
    return head + body_bytes(text, charset, cte)


def multipart(subtype: str, parts: list[bytes], boundary: str) -> bytes:
    out = [f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n".encode(),
           b"This is a multi-part message in MIME format.\r\n"]
    for p in parts:
        out += [f"--{boundary}\r\n".encode(), p, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def png(rnd: random.Random, w: int = 48, h: int = 32) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    base = rnd.randrange(256)
    rows = b"".join(b"\0" + bytes((base + x * 5 + y * 3 + rnd.randrange(8)) & 0xFF
                                  for x in range(w * 3)) for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b""))


def bmp(rnd: random.Random, w: int = 40, h: int = 30) -> bytes:
    stride = (w * 3 + 3) & ~3
    pixels = b"".join(bytes(rnd.randrange(256) for _ in range(w * 3)) + b"\0" * (stride - w * 3)
                      for _ in range(h))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + pixels


def attachment_part(name: str, ctype: str, data: bytes) -> bytes:
    if all(ord(c) < 128 for c in name):
        disp = f'attachment; filename="{name}"'
        ct = f'{ctype}; name="{name}"'
    else:  # RFC 2231, as Thunderbird writes a Cyrillic file name
        from urllib.parse import quote

        disp = f"attachment; filename*=UTF-8''{quote(name)}"
        ct = f"{ctype}; name*=UTF-8''{quote(name)}"
    head = (f"Content-Type: {ct}\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: {disp}\r\n\r\n").encode()
    return head + base64.encodebytes(data).replace(b"\n", b"\r\n")


@dataclass
class Client:
    name: str
    addr: str
    charset: str
    cte: str


def headers(client: Client, subject_header: str, mid: str, extra: str = "") -> bytes:
    return (f"From: {enc_addr(client.name, client.addr, client.charset)}\r\n"
            f"To: {enc_addr('Техподдержка', DESK, client.charset)}\r\n"
            f"Subject: {subject_header}\r\n"
            f"Date: {format_datetime(datetime.now(UTC))}\r\n"
            f"Message-ID: {mid}\r\n"
            f"MIME-Version: 1.0\r\n{extra}").encode()
