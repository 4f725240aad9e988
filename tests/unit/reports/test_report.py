"""The report's figures, computed purely from facts (daemon/reports/report.py)."""

from __future__ import annotations

import ast
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from daemon.reports import report as r
from daemon.reports.report import Facts, RatingFact, ReactionFact, TicketFact

MSK = ZoneInfo("Europe/Moscow")
T0 = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 10:00 MSK
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def wall(a: datetime, b: datetime) -> timedelta:
    return max(b - a, timedelta(0))


def reaction(tid: str, hours_to_reply: float | None, *, due_h: float = 2, first: bool = True,
             level: str = "licensee-standard", start: datetime = T0,
             assignee: str = "a@x") -> ReactionFact:
    met = start + timedelta(hours=hours_to_reply) if hours_to_reply is not None else None
    return ReactionFact(tid, level, start, start + timedelta(hours=due_h), met, first, assignee)


def facts(**kw: object) -> Facts:
    return Facts(start=T0 - timedelta(hours=10), end=T0 + timedelta(days=7), now=NOW,
                 **kw)  # type: ignore[arg-type]


def test_the_leaf_has_no_sqlalchemy() -> None:
    tree = ast.parse(Path(r.__file__).read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(n.startswith(("sqlalchemy", "daemon")) for n in names), names


def test_states_of_a_reaction() -> None:
    assert r.state_of(reaction("A", 1), NOW) == "on_time"
    assert r.state_of(reaction("A", 2), NOW) == "on_time"  # exactly at the deadline
    assert r.state_of(reaction("A", 3), NOW) == "late"
    assert r.state_of(reaction("A", None), NOW) == "overdue"
    assert r.state_of(reaction("A", None, start=NOW), NOW) == "running"


def test_shares_medians_and_breaches() -> None:
    rep = r.compute(facts(reactions=(
        reaction("A", 1), reaction("B", 3), reaction("C", None),
        reaction("A", 0.5, first=False), reaction("D", None, start=NOW))), wall, MSK)
    assert (rep.all_reactions.on_time, rep.all_reactions.late, rep.all_reactions.overdue,
            rep.all_reactions.running) == (2, 1, 1, 1)
    assert rep.all_reactions.share == 0.5
    assert rep.median_hours == 1.0 and rep.p90_hours == 3.0
    [level] = rep.levels
    assert level.first.counted == 3 and level.later.share == 1.0
    assert [b.tid for b in rep.breaches] == ["B", "C"]
    assert [(a.agent, a.breaches) for a in rep.agents] == [("a@x", 2)]


def test_ratings_and_comments() -> None:
    rep = r.compute(facts(ratings=(RatingFact("A", T0, 5, "Спасибо"),
                                   RatingFact("B", T0, 2, ""))), wall, MSK)
    assert rep.ratings.count == 2 and rep.ratings.mean == 3.5
    assert rep.ratings.distribution == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    assert rep.ratings.comments == (("A", 5, "Спасибо"),)
    assert rep.ratings_by_month == (("2026-11", {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}),)


def test_an_empty_period_is_empty_and_says_none() -> None:
    rep = r.compute(facts(open_by_agent={"a@x": 3}), wall, MSK)
    assert rep.empty and rep.all_reactions.share is None and rep.median_hours is None
    assert rep.agents[0].open_now == 3  # the load of today is still shown
    assert r.as_json(rep)["empty"] is True


def test_tickets_by_level_and_org_and_the_days() -> None:
    rep = r.compute(facts(tickets=(TicketFact("A", "vip", "Ромашка", T0, "a@x"),
                                   TicketFact("B", "vip", r.NO_ORG, T0, ""),
                                   TicketFact("C", "std", "Ромашка", T0, "b@x"))), wall, MSK)
    assert rep.received == 3 and rep.received_by_level == {"std": 1, "vip": 2}
    assert list(rep.received_by_org.items())[0] == ("Ромашка", 2)
    assert rep.first_day.isoformat() == "2026-11-23" and rep.last_day.isoformat() == "2026-11-29"


def test_weeks_are_iso_weeks_in_the_desks_zone() -> None:
    sunday_late = datetime(2026, 11, 29, 21, 30, tzinfo=UTC)  # Monday 00:30 MSK
    assert r.week_of(sunday_late, MSK) == "2026-W49"
    assert r.week_of(sunday_late, UTC) == "2026-W48"


def test_json_and_csv_show_the_same_numbers() -> None:
    rep = r.compute(facts(reactions=(reaction("A", 1), reaction("B", 3))), wall, MSK)
    data = r.as_json(rep)
    assert data["reactions"]["share_on_time"] == 0.5
    assert ["breach", "B", "licensee-standard", rep.breaches[0].met_at.isoformat()] in \
        r.csv_rows(rep)  # type: ignore[union-attr]


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=60))
def test_percentile_is_a_value_with_enough_below(values: list[float]) -> None:
    p90 = r.percentile(values, 0.9)
    assert p90 in values
    assert sum(v <= p90 for v in values) >= math.ceil(0.9 * len(values))
    assert sum(v < p90 for v in values) < math.ceil(0.9 * len(values))


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=60))
def test_median_splits_the_values(values: list[int]) -> None:
    m = r.median([float(v) for v in values])
    assert m is not None
    assert sum(v < m for v in values) <= len(values) / 2
    assert sum(v > m for v in values) <= len(values) / 2
    assert min(values) <= m <= max(values)
