"""§2.3: the ticket shows the earliest unanswered reaction clock; a follow-up never
moves a promise later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from daemon.sla.policy import ReactionClock, standing_clock

T0 = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)


def clock(start_h: float, due_h: float) -> ReactionClock:
    start = T0 + timedelta(hours=start_h)
    due = T0 + timedelta(hours=due_h)
    return ReactionClock(start, due, start + (due - start) * 0.75)


def test_nothing_unanswered_the_new_clock_stands() -> None:
    new = clock(1, 7)
    assert standing_clock(None, new) is new


def test_a_follow_up_keeps_the_earlier_deadline_and_its_warning() -> None:
    first, followup = clock(0, 6), clock(4, 25)
    assert standing_clock(first, followup) is first


def test_a_sooner_clock_wins_a_level_raised_meanwhile() -> None:
    first, urgent = clock(0, 40), clock(2, 5)
    assert standing_clock(first, urgent) is urgent


def test_a_tie_keeps_the_clock_already_shown() -> None:
    first, same = clock(0, 6), clock(1, 6)
    assert standing_clock(first, same) is first


hours = st.floats(min_value=0, max_value=500, allow_nan=False)


@given(st.lists(st.tuples(hours, hours), min_size=1, max_size=12))
def test_a_storm_of_follow_ups_shows_the_earliest_deadline(spans: list[tuple[float, float]]
                                                         ) -> None:
    shown = None
    for start, length in spans:
        before = shown
        shown = standing_clock(shown, clock(start, start + length))
        assert before is None or shown.due <= before.due  # never moved later
    assert shown is not None
    assert shown.due == min(T0 + timedelta(hours=s + n) for s, n in spans)
