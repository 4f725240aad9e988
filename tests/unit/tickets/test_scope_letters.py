"""Fifty-odd real-looking letters (tests/fixtures/eml/scope/) against the topics they
should get: in scope (§4.1–4.6), out of scope (§1.3, §1.4, §4.5), borderline, with
typos and with Latin letters in Cyrillic words, from Outlook, Thunderbird, Yandex,
Mail.ru, Gmail and an iPhone. The agreement is printed and held above 90 %."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from daemon.config.rule_files import load_topics
from daemon.config.schema import Config
from daemon.mail.letter import parse
from daemon.mail.reply_text import new_text_of_reply
from daemon.tickets.scope import Classifier

FOLDER = Path(__file__).resolve().parents[2] / "fixtures" / "eml" / "scope"


@cache
def classifier() -> Classifier:
    cfg = Config()
    return Classifier(load_topics("scope.rules", cfg.scope_rules_path), cfg.scope.min_score,
                      cfg.scope.margin, cfg.scope.out_of_scope_score)


def test_the_letters_get_their_topics_nine_times_in_ten(capsys) -> None:  # type: ignore[no-untyped-def]
    expected = tomllib.loads((FOLDER / "expected.toml").read_text(encoding="utf-8"))
    assert len(expected) >= 50
    wrong = []
    for name, topic in expected.items():
        letter = parse((FOLDER / name).read_bytes())
        got = classifier().classify(letter.subject, new_text_of_reply(letter.text))
        if got.topic != topic:
            wrong.append(f"{name}: want {topic}, got {got.topic or '-'} ({got.describe()})")
    agreement = 1 - len(wrong) / len(expected)
    with capsys.disabled():
        print(f"\nscope: {len(expected) - len(wrong)} of {len(expected)} letters agree "
              f"({agreement:.0%})", *wrong, sep="\n  ")
    assert agreement > 0.9, wrong


def test_every_topic_and_every_out_of_scope_kind_is_in_the_letters() -> None:
    expected = set(tomllib.loads((FOLDER / "expected.toml").read_text(encoding="utf-8"))
                   .values())
    assert expected == {t.code for t in classifier().topics}
