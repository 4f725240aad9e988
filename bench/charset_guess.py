"""Our charset guess for unlabelled 8-bit header text against charset-normalizer's, on
the shared corpus (issue 20): is ours worth keeping?

Every line of Russian text in the corpus's letters (subjects and body lines, 8 to
120 characters, with Cyrillic in them) is encoded, without a label, in each
single-byte Cyrillic charset Russian mail uses (windows-1251, KOI8-R, CP866) and
read back by `daemon.mail.header_decode._decode_bytes` and by charset-normalizer's
best guess. A reading counts as right when it is the original text exactly.

    .venv/bin/pip install charset-normalizer   # not a dependency: for this only
    .venv/bin/python bench/charset_guess.py     # prints the table for the docstring
"""

from __future__ import annotations

import email
import email.policy
import re
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from daemon.mail.header_decode import _decode_bytes, decode_subject  # noqa: E402
from tests.support.corpus import corpus_letters, corpus_root  # noqa: E402

CHARSETS = ("cp1251", "koi8-r", "cp866")
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


def samples() -> list[str]:
    found: list[str] = []
    for letter in corpus_letters(corpus_root(PROJECT)):
        m = email.message_from_bytes(letter.raw, policy=email.policy.default)
        texts = [decode_subject(str(m.get("Subject", "")))]
        for part in m.walk():
            if part.get_content_type() == "text/plain":
                try:
                    texts += str(part.get_content()).splitlines()
                except Exception:
                    continue
        for text in texts:
            text = text.strip()
            if 8 <= len(text) <= 120 and CYRILLIC.search(text) and text not in found:
                found.append(text)
    return found


def main() -> None:
    from charset_normalizer import from_bytes

    lines = samples()
    right = {"ours": 0, "charset-normalizer": 0}
    spent = {"ours": 0.0, "charset-normalizer": 0.0}
    total = 0
    for text in lines:
        for charset in CHARSETS:
            try:
                data = text.encode(charset)
            except UnicodeEncodeError:
                continue
            total += 1
            t = time.perf_counter()
            ours = _decode_bytes(data, None)
            spent["ours"] += time.perf_counter() - t
            t = time.perf_counter()
            best = from_bytes(data).best()
            theirs = str(best) if best is not None else ""
            spent["charset-normalizer"] += time.perf_counter() - t
            right["ours"] += ours == text
            right["charset-normalizer"] += theirs == text
    print(f"{len(lines)} lines x {len(CHARSETS)} charsets = {total} unlabelled readings")
    for who in right:
        print(f"{who:<20} {right[who]:>5}/{total} right ({100 * right[who] / total:.1f}%), "
              f"{1e6 * spent[who] / total:.0f} µs a reading")


if __name__ == "__main__":
    main()
