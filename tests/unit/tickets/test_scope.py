"""The scope's decision on a small rule set (daemon.tickets.scope): points, the
subject counted twice, the cap on repeats, the thresholds and the margin."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.config.rule_files import Topic
from daemon.tickets.scope import Classifier

ERROR = Topic("error", "Ошибки", "4.4", True, strong=("ошибка",), words=("документ",))
UPDATE = Topic("update", "Обновления", "4.3", True, strong=("обновление",), words=())
SIGN = Topic("signature", "Подписи", "1.4", False, strong=("электронная подпись", "эцп"),
             words=("сертификат",), reason="не обслуживаем", turn_to="в УЦ")
RULES = Classifier((ERROR, UPDATE, SIGN), min_score=3, margin=2, out_of_scope_score=6)


def test_one_strong_word_is_enough_in_scope() -> None:
    got = RULES.classify("", "Появляется ошибка.")
    assert (got.topic, got.score, got.in_scope) == ("error", 3, True)


def test_the_subject_counts_twice_and_repeats_count_up_to_three_times() -> None:
    assert RULES.classify("Ошибка", "").score == 6
    assert RULES.classify("", "ошибка " * 10).score == 9


def test_out_of_scope_needs_its_own_score() -> None:
    assert RULES.classify("", "Вопрос про ЭЦП.").topic == ""  # 3 < 6
    got = RULES.classify("", "Как продлить ЭЦП? Электронная подпись истекла.")
    assert (got.topic, got.out_of_scope) == ("signature", True)


def test_out_of_scope_must_beat_the_best_topic_in_scope_by_the_margin() -> None:
    text = "Ошибка при подписании: электронная подпись и ЭЦП."  # error 3, signature 6
    assert RULES.classify("", text).topic == "signature"  # 6 >= 3 + 2
    text = "Ошибка, ошибка при подписании: электронная подпись и ЭЦП."  # error 6
    assert RULES.classify("", text).topic == "error"


def test_ties_go_to_the_topic_written_first() -> None:
    assert RULES.classify("", "ошибка и обновление").topic == "error"


def test_nothing_that_scores_gives_no_topic() -> None:
    got = RULES.classify("Вопрос", "Подскажите телефон офиса.")
    assert (got.topic, got.in_scope, got.scores) == ("", True, ())
    assert got.describe() == "ничего"


def test_phrases_need_their_words_in_a_row() -> None:
    assert ("signature", 3) in RULES.classify("", "электронная подпись").scores
    assert RULES.classify("", "подпись электронная").scores == ()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["ошибка", "обновление", "ЭЦП", "сертификат", "документ",
                                 "электронная подпись", "и", "не", "Ошибкой", "эцп"]),
                max_size=12))
def test_case_and_letter_yo_do_not_matter(words: list[str]) -> None:
    text = " ".join(words)
    assert RULES.classify("", text) == RULES.classify("", text.upper().replace("Е", "Ё"))


def test_one_word_however_often_does_not_put_a_letter_out_of_scope() -> None:
    got = RULES.classify("ЭЦП", "ЭЦП ЭЦП ЭЦП")  # 15 points, but one word
    assert (got.topic, got.out_of_scope) == ("", False)
    assert RULES.classify("ЭЦП", "и сертификат").topic == "signature"  # two words


def test_out_of_scope_must_score_twice_the_best_topic_in_scope() -> None:
    # signature 9 (ЭЦП in the subject, сертификат), error 6: 9 >= 6 + 2 but < 12
    text = "Ошибка, ошибка: сертификат"
    assert RULES.classify("ЭЦП", text).topic == "error"
