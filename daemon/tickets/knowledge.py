"""Documentation first (§1.2, §5.9): the knowledge-base entries a letter may be
answered by, and what closes a ticket by one of them.

Pure: entries and text in, entries out. An entry matches by its keywords, each
counted once whether in the subject or the text, by dictionary form
(`daemon.tickets.scope.TermIndex`); the entries with the most keywords found, at
least `min_score` of them, come first, the order of the files breaking ties. A
client's «спасибо, помогло» (or a line `#solved`) on a ticket the documentation was
offered on says the documentation answered it.
"""

from __future__ import annotations

import re

from daemon.config.rule_files import Entry
from daemon.tickets.scope import TermIndex


class Knowledge:
    def __init__(self, entries: tuple[Entry, ...], min_score: int) -> None:
        self.entries, self.min_score = entries, min_score
        self._by_id = {e.id: e for e in entries}
        self._index = TermIndex([(i, k, 1) for i, e in enumerate(entries) for k in e.keywords])

    def get(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id.strip().lower())

    def matching(self, subject: str, text: str, limit: int) -> tuple[Entry, ...]:
        if not self.entries:
            return ()
        found = {t for t in self._index.hits(f"{subject}\n{text}")}
        score: dict[int, int] = {}
        for t in found:
            score[t.owner] = score.get(t.owner, 0) + 1
        best = sorted((i for i, n in score.items() if n >= self.min_score),
                      key=lambda i: (-score[i], i))
        return tuple(self.entries[i] for i in best[:limit])


_SOLVED_COMMAND = re.compile(r"^[^\S\n]*+#solved\b", re.I | re.M)
_HELPED = re.compile(
    r"(спасибо|благодарю|благодарим)[\s,!.–—-]*(всё|все|это|ссылка|инструкция|статья)?"
    r"[\s,!.–—-]*(помогло|помогла|помогли|сработало|получилось)"
    r"|(помогло|помогла|сработало|получилось)[\s,!.–—-]*(спасибо|благодарю)", re.I)
_NOT = re.compile(r"\bне\s+(помогло|помогла|помогли|сработало|получилось)", re.I)


def says_solved(text: str) -> bool:
    """The client's new text says the documentation answered it: a `#solved` line, or
    «спасибо, помогло» (and not «не помогло») in its first lines."""
    if _SOLVED_COMMAND.search(text):
        return True
    head = "\n".join(line for line in text.strip().splitlines()[:5])[:500]
    return bool(_HELPED.search(head)) and not _NOT.search(head)
