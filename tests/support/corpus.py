"""The shared real-world corpus (`../shared/corpus`, or $SUPPORTD_CORPUS): its letters.

The corpus is not part of this repository (see its README). Most files are one
message each; a few are mbox files holding several messages, and a few are raw
TNEF blobs, which are not messages at all: each is wrapped here as the
`winmail.dat` attachment of a small letter, the way Outlook sends them.
"""

from __future__ import annotations

import hashlib
import mailbox
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

ENV = "SUPPORTD_CORPUS"
TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"  # 0x223E9F78, little-endian
NOT_LETTERS = {"README.md", "MANIFEST.tsv"}


def corpus_root(project: Path) -> Path:
    """$SUPPORTD_CORPUS if set, else `../shared/corpus` beside the project root."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser().resolve()
    return (project.parent / "shared" / "corpus").resolve()


@dataclass(frozen=True)
class CorpusLetter:
    name: str  # the file's path under the corpus root, "#N" for the N-th letter of an mbox
    kind: str  # eml | mbox | tnef
    raw: bytes = field(repr=False)


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and not (p.parent == root and p.name in NOT_LETTERS))


def is_tnef(path: Path, data: bytes) -> bool:
    return data.startswith(TNEF_SIGNATURE) and (
        path.suffix.lower() == ".tnef" or "_raw_tnef" in path.parts)


def mbox_messages(path: Path, data: bytes) -> list[bytes] | None:
    """The messages of an mbox file (first line `From `) with several; else None.

    Split the way the stdlib (and mutt) read mboxo: every line starting with
    `From ` begins a message; the From_ line itself is not part of it."""
    if not data.startswith(b"From ") or data.count(b"\nFrom ") == 0:
        return None
    box = mailbox.mbox(str(path), create=False)
    try:
        parts = [box.get_bytes(key) for key in box.iterkeys()]  # iter(box) gives messages
    finally:
        box.close()
    return parts if len(parts) > 1 else None


def wrap_tnef(name: str, blob: bytes) -> bytes:
    """A small Outlook-style letter carrying `blob` as application/ms-tnef winmail.dat."""
    tag = hashlib.sha256(name.encode()).hexdigest()[:16]
    m = EmailMessage()
    m["From"] = f"Outlook User {tag[:4]} <outlook.{tag[:8]}@client.example>"
    m["To"] = "techsupport@example.ru"
    m["Subject"] = f"Письмо из Outlook с вложением ({Path(name).name})"
    m["Date"] = format_datetime(datetime(2024, 3, 4, 10, 0, tzinfo=UTC))
    m["Message-ID"] = f"<tnef-{tag}@client.example>"
    m.set_content("Здравствуйте! Во вложении файл winmail.dat из Outlook.\n")
    m.add_attachment(blob, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    return m.as_bytes()


def corpus_letters(root: Path) -> Iterator[CorpusLetter]:
    """Every letter in the corpus, in a stable order."""
    for path in corpus_files(root):
        name = path.relative_to(root).as_posix()
        data = path.read_bytes()
        if is_tnef(path, data):
            yield CorpusLetter(name, "tnef", wrap_tnef(name, data))
            continue
        parts = mbox_messages(path, data)
        if parts is None:
            yield CorpusLetter(name, "eml", data)
            continue
        for i, part in enumerate(parts, 1):
            yield CorpusLetter(f"{name}#{i}", "mbox", part)


def manifest_names(root: Path) -> set[str] | None:
    """The files MANIFEST.tsv lists (first column), or None without a manifest."""
    manifest = root / "MANIFEST.tsv"
    if not manifest.exists():
        return None
    lines = manifest.read_text(encoding="utf-8").splitlines()[1:]
    return {ln.split("\t", 1)[0] for ln in lines if ln.strip()}
