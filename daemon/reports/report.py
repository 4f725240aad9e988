"""The SLA and quality report (§6): its data shapes and the figures, computed purely.

A leaf: no SQLAlchemy, no I/O. `queries.gather` reads the database into `Facts`
(plain values); `compute` turns them into a `Report`; the CLI's `--json`, the CSV,
the HTML file, the letter to the head of support and its charts all show that one
`Report`, so the numbers agree wherever they are read.

Definitions (docs/admin.md repeats them for the reader of the report):

- a period is whole days in the desk's time zone, `start` inclusive, `end` exclusive;
- tickets received: tickets whose first letter arrived in the period, by their
  current level and organisation;
- reactions (§2.3): every reaction clock started in the period, the first of a
  ticket and each later one; one is on time when the staff reply came by its
  deadline, late when after it, overdue when no reply came and the deadline has
  passed; clocks still running are not counted yet. The share on time is
  on time / (on time + late + overdue);
- reaction time: working time from the clock's start to the reply, in hours;
  the median is the middle value (the mean of the two middle ones), the 90th
  percentile the nearest rank (the ceil(0.9·n)-th smallest);
- breaches: the late and overdue reactions, with their TIDs;
- ratings: the rating letters that arrived in the period (§6), with the words
  written beside the digit;
- reopened: tickets a client letter reopened in the period;
- topics (issue 13): tickets received by their topic (§4, or out of scope) as it
  stands, and the ones whose topic staff corrected (`#topic`) from the
  classifier's;
- load: per agent, tickets open now, tickets received in the period assigned to
  them, their replies in the period, their breaches.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

NO_ORG = "(организация не определена)"


@dataclass(frozen=True)
class TicketFact:
    tid: str
    level: str
    org: str  # its name, or NO_ORG
    received_at: datetime
    assignee: str
    topic: str = ""  # as it stands (staff's `#topic` or the classifier's)
    topic_auto: str = ""  # what the classifier said


@dataclass(frozen=True)
class ReactionFact:
    tid: str
    level: str
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    first: bool  # the ticket's first reaction clock; later ones follow client letters
    assignee: str


@dataclass(frozen=True)
class RatingFact:
    tid: str
    at: datetime
    value: int
    comment: str


@dataclass(frozen=True)
class Facts:
    """What the database says about a period (and about now, for the load)."""

    start: datetime
    end: datetime
    now: datetime
    tickets: tuple[TicketFact, ...] = ()
    reactions: tuple[ReactionFact, ...] = ()
    ratings: tuple[RatingFact, ...] = ()
    reopened: tuple[str, ...] = ()  # TIDs
    open_by_agent: Mapping[str, int] = field(default_factory=dict)  # now
    replies_by_agent: Mapping[str, int] = field(default_factory=dict)  # in the period


@dataclass(frozen=True)
class OnTime:
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    running: int = 0  # not yet due: not counted in the share

    @property
    def counted(self) -> int:
        return self.on_time + self.late + self.overdue

    @property
    def share(self) -> float | None:
        return round(self.on_time / self.counted, 4) if self.counted else None


@dataclass(frozen=True)
class LevelFigures:
    level: str
    received: int
    first: OnTime
    later: OnTime
    median_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class Breach:
    tid: str
    level: str
    due_at: datetime
    met_at: datetime | None  # None: still no reply
    assignee: str
    first: bool


@dataclass(frozen=True)
class Ratings:
    count: int
    mean: float | None
    distribution: Mapping[int, int]  # 1..5 -> how many
    comments: tuple[tuple[str, int, str], ...]  # (TID, rating, words)


@dataclass(frozen=True)
class AgentLoad:
    agent: str
    open_now: int
    received: int
    replies: int
    breaches: int


@dataclass(frozen=True)
class Report:
    first_day: date
    last_day: date
    generated_at: datetime
    received: int
    received_by_level: Mapping[str, int]
    received_by_org: Mapping[str, int]
    levels: tuple[LevelFigures, ...]
    all_reactions: OnTime
    median_hours: float | None
    p90_hours: float | None
    breaches: tuple[Breach, ...]
    ratings: Ratings
    reopened: tuple[str, ...]
    agents: tuple[AgentLoad, ...]
    weekly_on_time: tuple[tuple[str, OnTime], ...]  # ISO week "2026-W48"
    ratings_by_month: tuple[tuple[str, Mapping[int, int]], ...]  # "2026-11"
    received_by_topic: Mapping[str, int] = field(default_factory=dict)  # "" = no topic
    topic_corrections: tuple[tuple[str, str, str], ...] = ()  # (TID, classifier, staff)

    @property
    def empty(self) -> bool:
        """Nothing happened in the period (the load of today alone is no report)."""
        return not (self.received or self.all_reactions.counted or self.all_reactions.running
                    or self.ratings.count or self.reopened)


def median(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the ceil(p·n)-th smallest value."""
    if not values:
        return None
    s = sorted(values)
    return s[max(1, math.ceil(p * len(s))) - 1]


def _hours(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def state_of(r: ReactionFact, now: datetime) -> str:
    """on_time | late | overdue | running."""
    if r.met_at is not None:
        return "on_time" if r.met_at <= r.due_at else "late"
    return "overdue" if r.due_at <= now else "running"


def tally(reactions: Iterable[ReactionFact], now: datetime) -> OnTime:
    c = Counter(state_of(r, now) for r in reactions)
    return OnTime(c["on_time"], c["late"], c["overdue"], c["running"])


def compute(facts: Facts, working: Callable[[datetime, datetime], timedelta],
            tz: Any) -> Report:
    """The report of `facts`; `working(a, b)`: working time between two moments,
    `tz`: the desk's zone (days, weeks and months are the desk's)."""
    now = facts.now
    took = {id(r): working(r.started_at, r.met_at).total_seconds() / 3600
            for r in facts.reactions if r.met_at is not None}
    by_level: dict[str, list[ReactionFact]] = defaultdict(list)
    for r in facts.reactions:
        by_level[r.level].append(r)
    received_by_level = Counter(t.level for t in facts.tickets)
    levels = []
    for level in sorted(set(by_level) | set(received_by_level)):
        rs = by_level.get(level, [])
        times = [took[id(r)] for r in rs if id(r) in took]
        levels.append(LevelFigures(
            level, received_by_level.get(level, 0), tally([r for r in rs if r.first], now),
            tally([r for r in rs if not r.first], now), _hours(median(times)),
            _hours(percentile(times, 0.9))))
    breaches = tuple(sorted(
        (Breach(r.tid, r.level, r.due_at, r.met_at, r.assignee, r.first)
         for r in facts.reactions if state_of(r, now) in ("late", "overdue")),
        key=lambda b: (b.due_at, b.tid)))
    all_times = list(took.values())
    return Report(
        first_day=facts.start.astimezone(tz).date(),
        last_day=(facts.end.astimezone(tz) - timedelta(days=1)).date(),
        generated_at=now, received=len(facts.tickets),
        received_by_level=dict(sorted(received_by_level.items())),
        received_by_org=dict(sorted(Counter(t.org for t in facts.tickets).items(),
                                    key=lambda kv: (-kv[1], kv[0]))),
        levels=tuple(levels), all_reactions=tally(facts.reactions, now),
        median_hours=_hours(median(all_times)), p90_hours=_hours(percentile(all_times, 0.9)),
        breaches=breaches, ratings=_ratings(facts.ratings),
        reopened=tuple(sorted(set(facts.reopened))),
        agents=_agents(facts, breaches), weekly_on_time=_weekly(facts, tz),
        ratings_by_month=_monthly_ratings(facts.ratings, tz),
        received_by_topic=dict(sorted(Counter(t.topic for t in facts.tickets).items(),
                                      key=lambda kv: (-kv[1], kv[0]))),
        topic_corrections=tuple((t.tid, t.topic_auto, t.topic) for t in facts.tickets
                                if t.topic != t.topic_auto))


def _ratings(ratings: tuple[RatingFact, ...]) -> Ratings:
    values = [r.value for r in ratings]
    dist = Counter(values)
    return Ratings(
        count=len(values), mean=round(sum(values) / len(values), 2) if values else None,
        distribution={v: dist.get(v, 0) for v in range(1, 6)},
        comments=tuple((r.tid, r.value, r.comment) for r in sorted(ratings, key=lambda r: r.at)
                       if r.comment))


def _agents(facts: Facts, breaches: tuple[Breach, ...]) -> tuple[AgentLoad, ...]:
    received = Counter(t.assignee for t in facts.tickets if t.assignee)
    missed = Counter(b.assignee for b in breaches if b.assignee)
    names = sorted({*facts.open_by_agent, *received, *facts.replies_by_agent, *missed} - {""})
    return tuple(AgentLoad(a, facts.open_by_agent.get(a, 0), received.get(a, 0),
                           facts.replies_by_agent.get(a, 0), missed.get(a, 0)) for a in names)


def week_of(moment: datetime, tz: Any) -> str:
    year, week, _ = moment.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def _weekly(facts: Facts, tz: Any) -> tuple[tuple[str, OnTime], ...]:
    weeks: dict[str, list[ReactionFact]] = defaultdict(list)
    for r in facts.reactions:
        weeks[week_of(r.started_at, tz)].append(r)
    return tuple((w, tally(rs, facts.now)) for w, rs in sorted(weeks.items()))


def _monthly_ratings(ratings: tuple[RatingFact, ...],
                     tz: Any) -> tuple[tuple[str, Mapping[int, int]], ...]:
    months: dict[str, Counter[int]] = defaultdict(Counter)
    for r in ratings:
        months[r.at.astimezone(tz).strftime("%Y-%m")][r.value] += 1
    return tuple((m, {v: c.get(v, 0) for v in range(1, 6)}) for m, c in sorted(months.items()))


# ------------------------------------------------------------------ as data


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _on_time(o: OnTime) -> dict[str, Any]:
    return {"on_time": o.on_time, "late": o.late, "overdue": o.overdue, "running": o.running,
            "counted": o.counted, "share_on_time": o.share}


def as_json(r: Report) -> dict[str, Any]:
    """`supportd report --json`: everything the letter shows, nothing else."""
    return {
        "from": r.first_day.isoformat(), "to": r.last_day.isoformat(),
        "generated_at": r.generated_at.isoformat(), "empty": r.empty,
        "received": {"total": r.received, "by_level": dict(r.received_by_level),
                     "by_org": dict(r.received_by_org)},
        "reactions": {**_on_time(r.all_reactions), "median_working_hours": r.median_hours,
                      "p90_working_hours": r.p90_hours},
        "levels": [{"level": f.level, "received": f.received, "first": _on_time(f.first),
                    "later": _on_time(f.later), "median_working_hours": f.median_hours,
                    "p90_working_hours": f.p90_hours} for f in r.levels],
        "breaches": [{"tid": b.tid, "level": b.level, "due_at": _iso(b.due_at),
                      "met_at": _iso(b.met_at), "assignee": b.assignee or None,
                      "reaction": "first" if b.first else "later"} for b in r.breaches],
        "ratings": {"count": r.ratings.count, "mean": r.ratings.mean,
                    "distribution": {str(k): v for k, v in r.ratings.distribution.items()},
                    "comments": [{"tid": t, "rating": v, "comment": c}
                                 for t, v, c in r.ratings.comments]},
        "reopened": list(r.reopened),
        "agents": [{"agent": a.agent, "open_now": a.open_now, "received": a.received,
                    "replies": a.replies, "breaches": a.breaches} for a in r.agents],
        "weekly_on_time": [{"week": w, **_on_time(o)} for w, o in r.weekly_on_time],
        "ratings_by_month": [{"month": m, **{str(k): v for k, v in d.items()}}
                             for m, d in r.ratings_by_month],
        "topics": {"by_topic": dict(r.received_by_topic),
                   "corrected": [{"tid": t, "classifier": a or None, "staff": s}
                                 for t, a, s in r.topic_corrections]},
    }


def csv_rows(r: Report) -> list[list[str]]:
    """One table for a spreadsheet: section, key, then the values."""
    rows: list[list[str]] = [["section", "key", "value", "extra"]]
    rows.append(["period", r.first_day.isoformat(), r.last_day.isoformat(), ""])
    rows.append(["received", "total", str(r.received), ""])
    rows += [["received_by_level", k, str(v), ""] for k, v in r.received_by_level.items()]
    rows += [["received_by_org", k, str(v), ""] for k, v in r.received_by_org.items()]
    for f in r.levels:
        for kind, o in (("first", f.first), ("later", f.later)):
            rows.append([f"on_time_{kind}", f.level, str(o.on_time), str(o.counted)])
        rows.append(["median_working_hours", f.level, _num(f.median_hours), ""])
        rows.append(["p90_working_hours", f.level, _num(f.p90_hours), ""])
    rows += [["breach", b.tid, b.level, _iso(b.met_at) or "no reply"] for b in r.breaches]
    rows += [["rating", str(k), str(v), ""] for k, v in r.ratings.distribution.items()]
    rows += [["rating_comment", t, str(v), c] for t, v, c in r.ratings.comments]
    rows += [["reopened", t, "", ""] for t in r.reopened]
    rows += [["received_by_topic", k, str(v), ""] for k, v in r.received_by_topic.items()]
    rows += [["topic_corrected", t, s, a] for t, a, s in r.topic_corrections]
    rows += [["agent", a.agent, str(a.open_now), f"{a.received}/{a.replies}/{a.breaches}"]
             for a in r.agents]
    return rows


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
