"""The hand-written fast paths of letter building write what the stdlib wrote."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.outbound.mailbuild import one_line

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@settings(max_examples=1000)
@given(st.text(), st.integers(min_value=0, max_value=1000))
def test_one_line_as_the_control_pattern(text: str, limit: int) -> None:
    assert one_line(text, limit) == _CONTROL.sub(" ", text).strip()[:limit]


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_one_line_of_ascii(text: str) -> None:
    assert one_line(text) == _CONTROL.sub(" ", text).strip()[:900]


def test_a_level_still_reads_as_the_dict_it_was_in_customised_templates() -> None:
    import jinja2

    from daemon.outbound.notifier import LevelView

    level = LevelView("licensee-standard", "Стандарт", "§3.2", "8 рабочих часов")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    text = env.from_string('{{ level.title }}|{{ level["clause"] }}|{{ level.get("code") }}|'
                           '{{ level.get("nope", "-") }}|{{ level|dictsort|length }}|'
                           '{% for k, v in level.items() %}{{ k }}={{ v }};{% endfor %}')
    assert text.render(level=level) == (
        "Стандарт|§3.2|licensee-standard|-|4|code=licensee-standard;title=Стандарт;"
        "clause=§3.2;reaction_words=8 рабочих часов;")
