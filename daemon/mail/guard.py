"""Work limits for one letter, decided by a cheap byte scan before anything parses it.

The stdlib parser and mail-parser are fine on real mail and slow on hostile mail:
thousands of encoded-words on one header line (`email.header.decode_header` pops
from the front of a list: quadratic, a 5 MB subject took 300 s), thousands of
parameters (`_parseparam`, quadratic), tens of thousands of addresses or Received
lines (about 0.1 ms each), every body line checked against every enclosing
boundary (lines x depth), nesting deep enough for RecursionError. The pipeline runs
in a worker thread, where no alarm can interrupt a parse, so the bound is on work,
not on wall time: `inspect` walks the header blocks and the MIME boundary lines
(a regex jumps over everything else) and decides, at a cost linear in the size:

- the top-level header is *trimmed* when it is too big: a field too long (or with
  too many encoded-words or parameters) is cut short, fields beyond the count or
  byte budget are dropped, except the first of each field the daemon reads (From,
  Subject, Content-Type, the robot markers...). The letter is parsed as usual from
  the trimmed copy;
- the body is *not parsed* (headers only) when its structure is too big: too many
  parts, nesting too deep, too many header fields in the parts, a part's header
  field too long, too many lines for the depth they sit at. The letter still gets
  its ticket, threading and acknowledgement from the header; staff see why.

Either way the raw bytes are kept whole by the spool; only the copy handed to
the parser is cut. Pure: bytes in, a `Decision` out; never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

# -- the top-level header: over these it is trimmed, the letter still parsed
MAX_HEADER_FIELDS = 1000  # real mail has 10-100 (Received, DKIM, ARC); mail-parser ~0.1 ms each
MAX_HEADER_BYTES = 256 * 1024  # all top-level fields; real headers are under 30 KB
MAX_FIELD_BYTES = 32 * 1024  # one field, folded lines and all: a To of ~1,500 addresses
MAX_ENCODED_WORDS = 200  # per field; decoding is quadratic in them (a subject has < 50)
MAX_PARAMS = 100  # ';' in one Content-* field; parameter parsing is quadratic in them

# -- the body: over these only the header is parsed
MAX_PARTS = 500  # MIME parts; each costs ~1 ms in the parsers, up to ~3 ms in the pipeline
MAX_DEPTH = 50  # nested multiparts and enclosed messages; recursion, and lines x depth
MAX_PART_FIELDS = 20_000  # header fields of all parts and enclosed messages together
MAX_PART_FIELD_BYTES = 8 * 1024  # one field in a part: a long RFC 2231 file name is ~2 KB
MAX_LINES = 1_000_000  # ~1 us each in the stdlib parser; 25 MB of base64 is 330,000
MAX_NESTED_LINES = 5_000_000  # sum of lines x the depth they are at (each line meets
#                               every enclosing boundary); ~0.15 us each

# -- big bodies: listed for the parser, which may decode them without the stdlib
LARGE_BODY = 64 * 1024  # a leaf's body from this size on is listed in `Decision.large`

# -- the boundary search: lines starting with "--" that are no delimiter, told apart
# one by one (~1 us each) before the letter's own regex is compiled (~0.1 ms)
MAX_DASH_MISSES = 200

# -- decoded text: what the pipeline's rules read and the database stores
MAX_TEXT_CHARS = 500_000  # per letter, text and HTML each; rules cost ~1 s per MB
MAX_ADDRESSES = 500  # To and Cc each: they become the ticket's participants
CHARSET_SAMPLE = 8 * 1024  # bytes of a text part the charset guess reads
CHARSET_BUDGET = 64 * 1024  # bytes per letter the guess may read (~8 us a byte)

# The header fields the daemon reads: kept (the first of each) when others are dropped.
ESSENTIAL_FIELDS = frozenset({
    "from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id",
    "in-reply-to", "references", "mime-version", "content-type",
    "content-transfer-encoding", "content-disposition", "return-path", "auto-submitted",
    "precedence", "list-id", "list-unsubscribe", "x-autoreply", "x-autorespond",
    "x-auto-response-suppress", "x-loop", "x-priority", "importance", "priority",
    "authentication-results",
})

_LINE = re.compile(rb"[^\r\n]*(?>\r\n|\r|\n)?")
# A field: a header line (the stdlib's headerRE) and the folded lines after it.
_FIELD = re.compile(rb"(?:From |[\x21-\x39\x3b-\x7e]*:|[ \t])[^\r\n]*+(?>\r\n|\r|\n)?"
                    rb"(?:[ \t][^\r\n]*+(?>\r\n|\r|\n)?)*+")
_ENCODED_WORD = re.compile(rb"=\?[^?\s]*\?[bBqQ]\?")  # the start of an RFC 2047 word
_BARE_CR = re.compile(rb"\r(?!\n)")  # a line break the stdlib reads that is no LF
# A line starting with "--" (a delimiter has the form "--" boundary ["--"] blanks), from
# the line break before it; with bare CRs in the letter, a CR breaks lines too.
_DASH_LINE = re.compile(rb"\n--([^\r\n]*)")
_DASH_LINE_CR = re.compile(rb"[\r\n]--([^\r\n]*)")


@dataclass(frozen=True)
class Stats:
    """What the scan counted (the top-level header as received, before trimming)."""

    size: int = 0
    header_fields: int = 0
    header_bytes: int = 0
    longest_field: int = 0
    parts: int = 0
    depth: int = 0
    part_fields: int = 0
    longest_part_field: int = 0
    lines: int = 0
    nested_lines: int = 0


@dataclass(frozen=True)
class Body:
    """A leaf part's body in the letter: raw[start:end], the line break before the
    next boundary line excluded (as the stdlib leaves it out of the payload)."""

    start: int
    end: int
    content_type: str  # as the stdlib reads the part's header
    base64: bool  # its Content-Transfer-Encoding says base64


@dataclass(frozen=True)
class Decision:
    to_parse: bytes  # the letter, a copy with its header trimmed, or the header alone
    headers_only: bool  # the body is not to be parsed
    notes: tuple[str, ...]  # every limit met, as "what: found > limit"
    stats: Stats = field(default_factory=Stats)
    # Leaf bodies of LARGE_BODY bytes or more, closed by a boundary line, in the
    # order of the letter; only when `to_parse` is the letter itself.
    large: tuple[Body, ...] = ()

    @property
    def reason(self) -> str:
        return "; ".join(self.notes)


def _lines(raw: bytes, pos: int, end: int, bare_cr: bool) -> int:
    """Line breaks in raw[pos:end], as the stdlib counts them (CRLF, CR or LF).

    In a letter whose every CR starts a CRLF (`bare_cr` False, the common case) a
    break is an LF, or a CR ending the span whose LF lies beyond it: one pass over
    the bytes instead of three (a pass is ~0.7 ms per MB)."""
    if not bare_cr:
        return raw.count(b"\n", pos, end) + int(end > pos and raw[end - 1] == 0x0D)
    return raw.count(b"\n", pos, end) + raw.count(b"\r", pos, end) - raw.count(b"\r\n", pos, end)


def _line_end(raw: bytes, pos: int) -> int:
    """Where the line at `pos` ends, past its line break."""
    m = _LINE.match(raw, pos)
    return m.end() if m else pos  # _LINE always matches, if only the empty string


def _block(raw: bytes, pos: int) -> tuple[list[tuple[int, int]], int]:
    """The header fields of the block at `pos` as (start, end) spans, line ends
    included, and where its body begins (past the blank line; at a line that is no
    header line, as the stdlib does)."""
    fields: list[tuple[int, int]] = []
    size = len(raw)
    while pos < size:
        if raw[pos] in b"\r\n":
            return fields, _line_end(raw, pos)  # the blank line
        m = _FIELD.match(raw, pos)
        if m is None:
            return fields, pos
        fields.append((pos, m.end()))
        pos = m.end()
    return fields, size


def _name(f: bytes) -> str:
    return f.split(b":", 1)[0].strip().decode("latin-1").lower() if b":" in f else ""


def _encoded_words(f: bytes) -> int:
    if f.count(b"=?") == 0:
        return 0
    return sum(1 for _ in _ENCODED_WORD.finditer(f))


def _params(f: bytes, name: str) -> int:
    return f.count(b";") if name.startswith("content-") else 0


def _cut(f: bytes, name: str) -> bytes:
    """A field cut to the limits: at most MAX_FIELD_BYTES, MAX_ENCODED_WORDS, MAX_PARAMS,
    never inside an encoded-word or a line break, ending as it ended."""
    ending = f[len(f.rstrip(b"\r\n")):] or b"\r\n"
    cut = min(len(f), MAX_FIELD_BYTES - len(ending))
    for n, word in enumerate(_ENCODED_WORD.finditer(f, 0, cut)):
        if n == MAX_ENCODED_WORDS:
            cut = word.start()
            break
    if name.startswith("content-"):
        at = -1
        for _ in range(MAX_PARAMS + 1):
            at = f.find(b";", at + 1, cut)
            if at == -1:
                break
        if at != -1:
            cut = at
    kept = f[:cut]
    words = list(_ENCODED_WORD.finditer(kept, max(0, cut - 200)))
    if words and kept.find(b"?=", words[-1].end()) == -1:  # a word cut in two
        kept = kept[:words[-1].start()]
    return kept.rstrip(b" \t\r\n") + ending


def _too_big(f: bytes, name: str) -> bool:
    return (len(f) > MAX_FIELD_BYTES or _encoded_words(f) > MAX_ENCODED_WORDS
            or _params(f, name) > MAX_PARAMS)


def _trim_header(raw: bytes, spans: list[tuple[int, int]]) -> tuple[list[bytes], list[str]]:
    """The top-level fields to parse, and a note for each kind of cut made."""
    kept: list[bytes] = []
    seen: set[str] = set()
    total = dropped = 0
    cut: list[str] = []
    for start, end in spans:
        colon = raw.find(b":", start, min(end, start + 256))
        name = raw[start:colon].strip().lower().decode("latin-1") if colon != -1 else ""
        spare = name in ESSENTIAL_FIELDS and name not in seen
        if len(kept) >= MAX_HEADER_FIELDS and not spare:
            dropped += 1
            continue
        f = raw[start:end]
        if _too_big(f, name):
            cut.append(name or "?")
            f = _cut(f, name)
        if total + len(f) > MAX_HEADER_BYTES and not spare:
            dropped += 1
            continue
        seen.add(name)
        total += len(f)
        kept.append(f)
    notes = []
    if cut:
        names = ", ".join(dict.fromkeys(cut))
        notes.append(f"header fields cut to {MAX_FIELD_BYTES} bytes, {MAX_ENCODED_WORDS} "
                     f"encoded-words, {MAX_PARAMS} parameters: {names[:200]}")
    if dropped:
        notes.append(f"header fields dropped: {dropped} over {MAX_HEADER_FIELDS} fields "
                     f"or {MAX_HEADER_BYTES} bytes")
    return kept, notes


def _content_type(fields: list[bytes], default: str) -> tuple[str, bool, bytes | None]:
    """(content type, a container of parts?, its boundary) of a block, as the stdlib
    reads them: the first Content-Type counts, and a multipart without a boundary is
    a leaf. The boundary is None when no line could match it."""
    for f in fields:
        if _name(f) == "content-type":
            m = Message()
            m["Content-Type"] = f.split(b":", 1)[1].decode("ascii", "surrogateescape").strip()
            m.set_default_type(default)
            try:
                ctype = m.get_content_type()
                boundary = m.get_boundary() if ctype.startswith("multipart/") else None
            except Exception:  # the parsers would fail on it too; theirs to report
                return default, False, None
            if boundary is None:
                return ctype, False, None
            try:  # the parser reads lines as ASCII with surrogate escapes
                return ctype, True, boundary.encode("ascii", "surrogateescape")
            except UnicodeEncodeError:  # RFC 2231 decoding gave U+FFFD: never matches
                return ctype, True, None
    return default, False, None


def _is_base64(fields: list[bytes]) -> bool:
    """The first Content-Transfer-Encoding says base64 (as the stdlib reads it)."""
    for f in fields:
        if _name(f) == "content-transfer-encoding":
            return f.split(b":", 1)[1].strip().lower() == b"base64"
    return False


def _level(levels: list[tuple[int, bytes]], token: bytes) -> int:
    """Which open multipart a delimiter line's token (the line after "--", trailing
    blanks dropped) belongs to: the innermost whose boundary fits; -2 - level for a
    closing delimiter; -1 for none."""
    for i, b in reversed(levels):
        if token == b:
            return i
        if token == b + b"--":
            return -2 - i
    return -1


@dataclass
class _Level:
    boundary: bytes | None  # None: an enclosed message, or a multipart without one
    default: str = "text/plain"  # the type of a part without Content-Type (digest: messages)


class _Scan:
    """The walk over the body: header blocks of parts and enclosed messages, and the
    boundary lines between them. Stops at the first limit met."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.stack: list[_Level] = []
        self.parts = self.depth = self.fields = self.longest = 0
        self.lines = self.nested = 0
        self.over = ""
        self.large: list[Body] = []
        self.leaf: tuple[str, bool] | None = None  # the last block's type if a leaf
        self.bare_cr = b"\r" in raw and _BARE_CR.search(raw) is not None
        self.misses = 0  # lines starting with "--" that were no delimiter
        self.breaks = rb"[\r\n]" if self.bare_cr else rb"\n"

    def count(self, start: int, end: int) -> None:
        n = _lines(self.raw, start, end, self.bare_cr)
        self.lines += n
        self.nested += n * len(self.stack)
        if self.lines > MAX_LINES:
            self.over = f"lines: {self.lines} > {MAX_LINES}"
        elif self.nested > MAX_NESTED_LINES:
            self.over = f"lines x depth: {self.nested} > {MAX_NESTED_LINES}"

    def enter(self, fields: list[bytes], default: str) -> bool:
        """A block's content type pushes its container; True when a header block of an
        enclosed message follows at once."""
        ctype, container, boundary = _content_type(fields, default)
        message = ctype.startswith("message/") and ctype != "message/delivery-status"
        self.leaf = None if container or message else (ctype, _is_base64(fields))
        if container:
            self.stack.append(_Level(boundary, "message/rfc822" if ctype == "multipart/digest"
                                     else "text/plain"))
        elif message:
            self.stack.append(_Level(None))
        else:
            return False
        self.depth = max(self.depth, len(self.stack))
        if self.depth > MAX_DEPTH:
            self.over = f"nesting: {self.depth} > {MAX_DEPTH}"
        return message

    def part_header(self, pos: int) -> tuple[list[bytes], int]:
        spans, body = _block(self.raw, pos)
        fields = [self.raw[s:e] for s, e in spans]
        self.count(pos, body)
        self.fields += len(fields)
        for f in fields:
            self.longest = max(self.longest, len(f))
            name = _name(f)
            if len(f) > MAX_PART_FIELD_BYTES or _encoded_words(f) > MAX_ENCODED_WORDS \
                    or _params(f, name) > MAX_PARAMS:
                self.over = (f"a part's {name or '?'} field: {len(f)} bytes, "
                             f"{_encoded_words(f)} encoded-words, {_params(f, name)} "
                             f"parameters > {MAX_PART_FIELD_BYTES}, {MAX_ENCODED_WORDS}, "
                             f"{MAX_PARAMS}")
        if self.fields > MAX_PART_FIELDS:
            self.over = f"header fields in parts: {self.fields} > {MAX_PART_FIELDS}"
        return fields, body

    def note_leaf(self, start: int, end: int) -> None:
        """A leaf's body ends at the line break before the boundary line at `end`."""
        leaf, self.leaf = self.leaf, None
        if end > start and self.raw[end - 1:end] == b"\r" and self.raw[end:end + 1] == b"\n":
            end -= 1
        if leaf is not None and end - start >= LARGE_BODY:
            self.large.append(Body(start, end, *leaf))

    def next_boundary(self, pos: int) -> tuple[re.Match[bytes] | None, int]:
        """The next line that is a delimiter of an open multipart, and its level
        (-2 - level for a closing delimiter).

        Lines starting with "--" are found with one precompiled regex and told apart
        here: a letter's boundaries are its own, and compiling a regex of them costs
        more (~0.15 ms a letter) than all its other boundary work. A letter with many
        such lines that are no delimiter, or a boundary with a line break in it, gets
        that regex after all (`_exact`), which skips non-delimiters at C speed."""
        levels = [(i, lv.boundary) for i, lv in enumerate(self.stack) if lv.boundary is not None]
        if not levels:
            return None, -1
        at = max(pos - 1, 0)
        if self.misses > MAX_DASH_MISSES or any(b"\r" in b or b"\n" in b for _, b in levels):
            return self._exact(levels, at)
        line = _DASH_LINE_CR if self.bare_cr else _DASH_LINE
        while (m := line.search(self.raw, at)) is not None:
            level = _level(levels, m.group(1).rstrip(b" \t"))
            if level != -1:
                return m, level
            self.misses += 1
            if self.misses > MAX_DASH_MISSES:
                return self._exact(levels, m.end())
            at = m.end()  # the line break there may start the next candidate
        return None, -1

    def _exact(self, levels: list[tuple[int, bytes]], at: int
               ) -> tuple[re.Match[bytes] | None, int]:
        alternatives = b"|".join(re.escape(b) for b in dict.fromkeys(b for _, b in levels))
        # A literal "\n" in front lets the regex engine skip to candidates at C speed
        # (a lookbehind is 100 times slower); bare CR line ends need the class.
        pattern = re.compile(self.breaks + rb"--((?:" + alternatives
                             + rb")(?:--)?)[ \t]*(?=\r|\n|\Z)")
        m = pattern.search(self.raw, at)
        return (None, -1) if m is None else (m, _level(levels, m.group(1)))

    def run(self, body: int, fields: list[bytes]) -> None:
        pos, nested = body, self.enter(fields, "text/plain")
        while not self.over:
            if nested:  # an enclosed message's header follows its part's header
                fields, pos = self.part_header(pos)
                nested = self.enter(fields, "text/plain")
                continue
            m, level = self.next_boundary(pos)
            if m is None:
                self.count(pos, len(self.raw))
                return
            end = _line_end(self.raw, m.end())
            self.count(pos, end)
            self.note_leaf(pos, m.start())
            pos = end
            if level <= -2:  # a closing delimiter: its container ends here
                del self.stack[-2 - level:]
                continue
            del self.stack[level + 1:]  # containers inside it end unclosed
            self.parts += 1
            if self.parts > MAX_PARTS:
                self.over = f"parts: {self.parts} > {MAX_PARTS}"
                return
            fields, pos = self.part_header(pos)
            nested = self.enter(fields, self.stack[level].default)


def inspect(raw: bytes) -> Decision:
    """What of this letter may be parsed: all of it, a trimmed copy, or its header."""
    spans, body = _block(raw, 0)
    header_end = spans[-1][1] if spans else 0
    kept, notes = _trim_header(raw, spans)
    scan = _Scan(raw)
    scan.count(0, body)
    scan.run(body, kept)
    stats = Stats(size=len(raw), header_fields=len(spans), header_bytes=header_end,
                  longest_field=max((e - s for s, e in spans), default=0),
                  parts=scan.parts, depth=scan.depth, part_fields=scan.fields,
                  longest_part_field=scan.longest, lines=scan.lines,
                  nested_lines=scan.nested)
    head = b"".join(kept)
    if scan.over:
        notes.append(f"body not parsed, headers only: {scan.over}")
        return Decision(head + b"\r\n", True, tuple(notes), stats)
    if notes:
        return Decision(head + raw[header_end:], False, tuple(notes), stats)
    return Decision(raw, False, (), stats, tuple(scan.large))
