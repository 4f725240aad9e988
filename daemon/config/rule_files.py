"""Files of rules beside the config: the scope's topics and the knowledge base.

Both are TOML files of tables in arrays (`[[topic]]`, `[[entry]]`), read into frozen
dataclasses. A problem names the file and the line of the table (or of its key) as
well as the config key that points to the file, so `supportd check-config` tells an
administrator which line of which entry to fix. A rule term that holds no word at all
(«—», «!!!») would match nothing: it is an error, not something silently ignored.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.config.schema import ConfigError

_WORDLIKE = re.compile(r"[0-9A-Za-zА-Яа-яЁё]")
_CODE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_URL = re.compile(r"^(https?://|mailto:)\S+$")


@dataclass(frozen=True)
class Topic:
    """A topic of §4 (in scope) or a kind of question §1.3, §1.4, §4.5 put out of it."""

    code: str
    title: str  # the topic in Russian, for letters: «Вопросы установки и настройки»
    clause: str  # the regulation's clause: "4.1", "1.4"
    in_scope: bool
    strong: tuple[str, ...]  # words and phrases that alone nearly decide (weight 3)
    words: tuple[str, ...]  # words that point to it (weight 1)
    reason: str = ""  # out of scope: why, in the regulation's words
    turn_to: str = ""  # out of scope: where to turn instead
    links: tuple[str, ...] = ()  # out of scope: pages that help
    line: int = 0  # where it starts in its file


@dataclass(frozen=True)
class Entry:
    """A page of the documentation, the FAQ or the forum (§1.2, §5.9)."""

    id: str
    title: str
    keywords: tuple[str, ...]
    link: str
    text: str = ""  # what `#faq ID` sends above the link; the title when empty
    file: str = ""
    line: int = 0


def _header_lines(text: str, table: str) -> list[int]:
    """The line numbers (from 1) where each `[[table]]` starts."""
    pattern = re.compile(rf"^[ \t]*\[\[[ \t]*{re.escape(table)}[ \t]*\]\]", re.M)
    return [text.count("\n", 0, m.start()) + 1 for m in pattern.finditer(text)]


def _key_line(text: str, start: int, key: str) -> int:
    """The line of `key = …` in the table that starts at line `start`, else `start`."""
    lines = text.splitlines()
    for n in range(start, len(lines)):  # the line after the header, counted from 0
        if lines[n].lstrip().startswith("["):
            break
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[n]):
            return n + 1
    return start


def _read(config_key: str, path: Path, table: str) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(config_key, f"{path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(config_key, f"{path}: is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(config_key, f"{path}: not valid TOML: {exc}") from None
    stray = sorted(set(data) - {table})
    if stray:
        raise ConfigError(config_key, f"{path}: unknown table or key {stray[0]!r}; "
                                      f"each entry starts with [[{table}]]")
    items = data.get(table, [])
    if not isinstance(items, list):
        raise ConfigError(config_key, f"{path}: {table} must be written [[{table}]]")
    starts = _header_lines(text, table)
    starts += [0] * (len(items) - len(starts))
    return text, list(zip(starts, items, strict=False))


class _Fields:
    """Reads one table's fields, each problem naming file, line and field."""

    def __init__(self, config_key: str, path: Path, text: str, where: str, line: int,
                 table: dict[str, Any], known: set[str]) -> None:
        self.config_key, self.path, self.text = config_key, path, text
        self.where, self.line, self.table = where, line, table
        for k in table:
            if k not in known:
                self.fail(k, "unknown key")

    def fail(self, key: str, problem: str) -> None:
        line = _key_line(self.text, self.line, key) if self.line else 0
        raise ConfigError(self.config_key,
                          f"{self.path}:{line}: {self.where}.{key}: {problem}")

    def text_field(self, key: str, required: bool = True, default: str = "") -> str:
        value = self.table.get(key, None)
        if value is None:
            if required:
                self.fail(key, "is missing")
            return default
        if not isinstance(value, str):
            self.fail(key, f"must be a string, not {value!r}")
        if required and not value.strip():
            self.fail(key, "is empty")
        return str(value).strip()

    def words_field(self, key: str, required: bool = False) -> tuple[str, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(key, "must be a list of strings")
        if required and not value:
            self.fail(key, "is empty: the entry would match nothing")
        for i, v in enumerate(value):
            if not _WORDLIKE.search(v):
                self.fail(key, f"[{i}] {v!r} holds no word: it would match nothing")
        return tuple(v.strip() for v in value)


def load_topics(config_key: str, path: Path) -> tuple[Topic, ...]:
    text, items = _read(config_key, path, "topic")
    topics: list[Topic] = []
    known = {"code", "title", "clause", "in_scope", "strong", "words", "reason", "turn_to",
             "links"}
    for i, (line, table) in enumerate(items):
        if not isinstance(table, dict):
            raise ConfigError(config_key, f"{path}:{line}: topic[{i}] is not a table")
        f = _Fields(config_key, path, text, f"topic[{i}]", line, table, known)
        code = f.text_field("code")
        if not _CODE.match(code):
            f.fail("code", f"{code!r}: use lower-case Latin letters, digits and '-'")
        if code in {t.code for t in topics}:
            f.fail("code", f"{code!r} is already the code of another topic")
        in_scope = table.get("in_scope", True)
        if not isinstance(in_scope, bool):
            f.fail("in_scope", "must be true or false")
        strong, words = f.words_field("strong"), f.words_field("words")
        if not strong and not words:
            f.fail("words", "no words and no strong words: the topic would match nothing")
        links = f.words_field("links")
        for link in links:
            if not _URL.match(link):
                f.fail("links", f"{link!r} is not an http(s):// or mailto: address")
        topics.append(Topic(
            code=code, title=f.text_field("title"), clause=f.text_field("clause"),
            in_scope=in_scope, strong=strong, words=words,
            reason=f.text_field("reason", required=not in_scope),
            turn_to=f.text_field("turn_to", required=not in_scope), links=links, line=line))
    if not topics:
        raise ConfigError(config_key, f"{path}: no [[topic]] tables")
    return tuple(topics)


def load_entries(config_key: str, folder: Path) -> tuple[Entry, ...]:
    """Every `*.toml` file of the folder, in name order; entry ids unique across them."""
    if not folder.is_dir():
        raise ConfigError(config_key, f"{folder}: is not a folder")
    entries: list[Entry] = []
    seen: dict[str, str] = {}
    known = {"id", "title", "keywords", "link", "text"}
    for path in sorted(folder.glob("*.toml")):
        text, items = _read(config_key, path, "entry")
        for i, (line, table) in enumerate(items):
            if not isinstance(table, dict):
                raise ConfigError(config_key, f"{path}:{line}: entry[{i}] is not a table")
            f = _Fields(config_key, path, text, f"entry[{i}]", line, table, known)
            entry_id = f.text_field("id")
            if not _CODE.match(entry_id):
                f.fail("id", f"{entry_id!r}: use lower-case Latin letters, digits and '-'")
            if entry_id in seen:
                f.fail("id", f"{entry_id!r} is already an entry in {seen[entry_id]}")
            link = f.text_field("link")
            if not _URL.match(link):
                f.fail("link", f"{link!r} is not an http(s):// or mailto: address")
            seen[entry_id] = f"{path.name}:{line}"
            entries.append(Entry(id=entry_id, title=f.text_field("title"),
                                 keywords=f.words_field("keywords", required=True), link=link,
                                 text=f.text_field("text", required=False), file=str(path),
                                 line=line))
    return tuple(entries)
