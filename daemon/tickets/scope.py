"""What a letter is about: a topic of §4, or a question the regulation puts out of
scope (§1.3, §1.4, §4.5 «НЕ решаются»), by the rules of `daemon/config/scope.toml`.

Pure: rules and text in, a `Classification` out. Each topic has strong words (3
points) and words (1 point), matched by dictionary form (`daemon.mail.lemmas`); a
phrase matches its words in a row, and two words written apart («Крипто Про») also
match the word they make together. A term counts up to three times: once for each
time it is in the text, twice for the subject. The topic with the most points wins
when it has `min_score`; a topic out of scope needs `out_of_scope_score` from two
different words at least, and has to beat the best topic in scope by `margin` and
score twice its points, because sending a paying client to the consultation level
(§3.8) on a guess costs more than a staff member's `#topic` afterwards. Ties go to
the topic written first in the rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from daemon.config.rule_files import Topic
from daemon.mail.lemmas import lemmas, near, term, typo_index

STRONG, WEAK = 3, 1
MAX_COUNT = 3  # how many times one term may count
# Out of scope takes two different words of the topic: one brand in a subject
# («Не открывается выгрузка в Excel») is context, not the question.
OUT_OF_SCOPE_TERMS = 2
# ...and twice the points of the best topic in scope: a letter about an error in our
# export that names Excel and Chrome is about the error.
OUT_OF_SCOPE_RATIO = 2


@dataclass(frozen=True)
class Classification:
    topic: str  # a topic's code, or "" when none scored enough
    score: int
    in_scope: bool  # True also for no topic: nothing says it is out of scope
    scores: tuple[tuple[str, int], ...]  # every topic that scored, best first

    @property
    def out_of_scope(self) -> bool:
        return bool(self.topic) and not self.in_scope

    def describe(self) -> str:
        """For staff and the log: «signature 9, error 3»."""
        return ", ".join(f"{code} {score}" for code, score in self.scores) or "ничего"


@dataclass(frozen=True)
class Term:
    owner: int  # whose term: a topic's or an entry's index
    lemmas: tuple[str, ...]
    weight: int


class TermIndex:
    """Words and phrases, lemmatised once, found in texts (the topics' and the
    knowledge base's): `hits` counts each term's occurrences in a text."""

    def __init__(self, terms: list[tuple[int, str, int]]) -> None:
        self._starts: dict[str, list[Term]] = {}
        for owner, text, weight in terms:
            lem = term(text)
            if lem:
                self._starts.setdefault(lem[0], []).append(Term(owner, lem, weight))
        singles = [k for k, ts in self._starts.items() if any(len(t.lemmas) == 1 for t in ts)]
        self._typos = typo_index(singles)

    def hits(self, text: str) -> Counter[Term]:
        seq = lemmas(text)
        found: Counter[Term] = Counter()
        for i, here in enumerate(seq):
            matched = False
            for lem in here:
                for t in self._starts.get(lem, ()):
                    if i + len(t.lemmas) <= len(seq) and all(
                            t.lemmas[k] in seq[i + k] for k in range(1, len(t.lemmas))):
                        found[t] += 1
                        matched = True
            if i + 1 < len(seq):  # «крипто про» → «криптопро»
                for lem in {a + b for a in here for b in seq[i + 1]} - set(here):
                    for t in self._starts.get(lem, ()):
                        if len(t.lemmas) == 1:
                            found[t] += 1
                            matched = True
            if not matched:  # one typo: «подписсью», «обнавление»
                for guess in {g for w in here for g in near(w, self._typos)}:
                    for t in self._starts.get(guess, ()):
                        if len(t.lemmas) == 1:
                            found[t] += 1
        return found


class Classifier:
    """The rules compiled once (their words lemmatised); `classify` per letter."""

    def __init__(self, topics: tuple[Topic, ...], min_score: int, margin: int,
                 out_of_scope_score: int = 0) -> None:
        self.topics, self.min_score, self.margin = topics, min_score, margin
        self.out_of_scope_score = max(min_score, out_of_scope_score)
        self.by_code = {t.code: t for t in topics}
        self._index = TermIndex([(i, w, weight) for i, topic in enumerate(topics)
                                 for words, weight in ((topic.strong, STRONG),
                                                       (topic.words, WEAK))
                                 for w in words])

    def classify(self, subject: str, text: str) -> Classification:
        counts = self._index.hits(text)
        for t, n in self._index.hits(subject).items():
            counts[t] += 2 * n
        points = [0] * len(self.topics)
        terms = [0] * len(self.topics)
        for t, n in counts.items():
            points[t.owner] += t.weight * min(n, MAX_COUNT)
            terms[t.owner] += 1
        ranked = sorted((i for i in range(len(self.topics)) if points[i]),
                        key=lambda i: (-points[i], i))
        scores = tuple((self.topics[i].code, points[i]) for i in ranked)
        best_in = next((i for i in ranked if self.topics[i].in_scope), None)
        best_out = next((i for i in ranked if not self.topics[i].in_scope), None)
        in_points = points[best_in] if best_in is not None else 0
        if best_out is not None and points[best_out] >= self.out_of_scope_score and \
                points[best_out] >= in_points + self.margin and \
                points[best_out] >= OUT_OF_SCOPE_RATIO * in_points and \
                terms[best_out] >= OUT_OF_SCOPE_TERMS:
            return Classification(self.topics[best_out].code, points[best_out], False, scores)
        if best_in is not None and in_points >= self.min_score:
            return Classification(self.topics[best_in].code, in_points, True, scores)
        return Classification("", 0, True, scores)
