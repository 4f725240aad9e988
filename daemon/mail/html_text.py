"""Good-enough text from an HTML-only letter, in linear time on any markup."""

from __future__ import annotations

import html
import re

# Linear on any input: a tag stops at the next "<" (an unclosed "<" or "<br" would
# otherwise scan to the end from each one), and script/style blocks are found by
# `_drop_blocks` rather than by a lazy ".*?" that rescans the rest for every opening.
_TAGS = re.compile(r"<[^<>]*>")
_BREAKS = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d)\b[^<>]*>", re.I)
_BLOCK_OPEN = re.compile(r"<(script|style)\b", re.I)


def _drop_blocks(markup: str) -> str:
    """Markup without its <script> and <style> blocks. An unclosed opening tag is left
    for `_TAGS`, and once one is unclosed no later one of its kind is looked for."""
    lower = markup.lower()
    out: list[str] = []
    pos = 0
    unclosed: set[str] = set()
    while (m := _BLOCK_OPEN.search(markup, pos)) is not None:
        name = m.group(1).lower()
        close = -1 if name in unclosed else lower.find(f"</{name}", m.end())
        if close == -1:
            unclosed.add(name)
            out.append(markup[pos:m.end()])
            pos = m.end()
            continue
        out.append(markup[pos:m.start()])
        end = markup.find(">", close)
        pos = len(markup) if end == -1 else end + 1
    out.append(markup[pos:])
    return "".join(out)


def html_to_text(markup: str) -> str:
    """Good-enough text from an HTML-only letter, for staff and for reading rules."""
    text = _BREAKS.sub("\n", _drop_blocks(markup))
    text = _TAGS.sub("", text)
    text = html.unescape(text)
    lines = [re.sub(r"[ \t\xa0]+", " ", ln).strip() for ln in text.splitlines()]
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip()
