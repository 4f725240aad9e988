"""The report's charts as PNG (matplotlib, Agg backend: no display, no GUI toolkit).

matplotlib is imported when a chart is drawn, never at the daemon's start: a desk
without it still runs (and `check-config` says so when `[reports] charts` is on).
Each chart is drawn from the `Report` alone, so it shows the numbers the letter's
tables and `--json` show.
"""

from __future__ import annotations

import io
from typing import Any

from daemon.reports.report import Report

SIZE = (8, 4)  # inches, at DPI: 640×320 pixels
DPI = 80


def available() -> str:
    """"" when charts can be drawn, else why not (for check-config)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install
        return f"{type(exc).__name__}: {exc}"
    return ""


def draw(report: Report) -> dict[str, bytes]:
    """name -> PNG. Nothing for an empty period."""
    if report.empty:
        return {}
    return {"on_time_weekly": _on_time_weekly(report),
            "ratings_monthly": _ratings_monthly(report),
            "open_per_agent": _open_per_agent(report)}


def _figure() -> tuple[Any, Any]:
    # The object API, not pyplot: no global state, safe in the mailer's thread.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=SIZE, dpi=DPI)
    ax = fig.add_subplot(1, 1, 1)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return fig, ax


def _png(fig: Any) -> bytes:
    out = io.BytesIO()
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _on_time_weekly(report: Report) -> bytes:
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure()
    weeks = [w for w, _ in report.weekly_on_time]
    shares = [(o.share or 0.0) * 100 for _, o in report.weekly_on_time]
    ax.bar(weeks or ["—"], shares or [0], color="#2e7d32")
    for i, (_, o) in enumerate(report.weekly_on_time):
        ax.annotate(f"{o.on_time}/{o.counted}", (i, (o.share or 0) * 100), ha="center",
                    va="bottom", fontsize=8)
    ax.set_ylim(0, 110)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.set_ylabel("% реакций в срок")
    ax.set_title("Реакции в срок по неделям")
    return _png(fig)


def _ratings_monthly(report: Report) -> bytes:
    fig, ax = _figure()
    months = [m for m, _ in report.ratings_by_month] or ["—"]
    bottom = [0] * len(months)
    colors = {1: "#c62828", 2: "#ef6c00", 3: "#f9a825", 4: "#9ccc65", 5: "#2e7d32"}
    for value in range(1, 6):
        counts = [d.get(value, 0) for _, d in report.ratings_by_month] or [0]
        ax.bar(months, counts, bottom=bottom, color=colors[value], label=f"«{value}»")
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    ax.set_ylabel("оценок")
    ax.set_title("Оценки по месяцам")
    ax.legend(loc="upper left", fontsize=8)
    return _png(fig)


def _open_per_agent(report: Report) -> bytes:
    fig, ax = _figure()
    agents = [a for a in report.agents if a.open_now] or list(report.agents)
    names = [a.agent.split("@")[0] for a in agents] or ["—"]
    ax.barh(names, [a.open_now for a in agents] or [0], color="#1565c0")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("открытых обращений")
    ax.set_title("Открытые обращения по сотрудникам")
    return _png(fig)
