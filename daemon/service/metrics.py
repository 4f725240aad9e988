"""The Prometheus endpoint (`[metrics] enabled`, host, port): the desk's figures.

Served by `supportd run` from the listener's process. The figures are gathered
there, at each scrape, from what every process writes anyway — the database and
the spool — so they are right in total whatever the number of pipeline workers
(no per-process counters to add up, no multiprocess files to clean):

- letters received by source and outcome, and the latency from receipt to the
  committed outcome: counted from the `inbound` rows, read once each (the
  collector remembers the last row it read, so a scrape reads only new rows);
- spool depth; outbox depth and the age of the oldest letter due; attempts to
  send that failed and letters given up;
- tickets open per level, reactions due within the next hour, reactions past
  their deadline with no reply, and reaction deadlines missed in all.

Several daemons on one database report the same desk-wide figures: scrape one,
or aggregate with max(), not sum().
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector
from sqlalchemy import func, literal_column, or_, select

from daemon.app import App
from daemon.service.health import outbox_state, spool_state
from daemon.storage.models import Inbound, Outgoing, Reaction, Ticket

log = structlog.get_logger("supportd.metrics")

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
PAGE = 5000  # inbound rows read at a time


class DeskCollector(Collector):
    def __init__(self, app: App) -> None:
        self.app = app
        self.lock = threading.Lock()  # scrapes may overlap; the running totals are shared
        self.last_id = 0
        self.received: Counter[tuple[str, str]] = Counter()
        self.latency = [0] * (len(BUCKETS) + 1)  # per bucket, the last one +Inf
        self.latency_sum = 0.0

    def _read_inbound(self) -> None:
        with self.app.sessions() as session:
            while True:
                rows = session.execute(
                    select(Inbound.id, Inbound.source, Inbound.outcome, Inbound.received_at,
                           Inbound.processed_at)
                    .where(Inbound.id > self.last_id).order_by(Inbound.id).limit(PAGE)).all()
                for row_id, source, outcome, received, processed in rows:
                    self.received[(source, outcome)] += 1
                    took = max(0.0, (processed - received).total_seconds())
                    self.latency_sum += took
                    i = next((i for i, b in enumerate(BUCKETS) if took <= b), len(BUCKETS))
                    self.latency[i] += 1
                    self.last_id = row_id
                if len(rows) < PAGE:
                    return

    def collect(self) -> Iterator[Any]:
        try:
            with self.lock:
                self._read_inbound()
                yield from self._letters()
            yield from self._queues()
            yield from self._tickets()
            up = 1.0
        except Exception as exc:
            log.warning("metrics.failed", error=f"{type(exc).__name__}: {exc}"[:300])
            up = 0.0
        yield GaugeMetricFamily("supportd_database_up",
                                "1 when the figures could be read from the database", up)

    def _letters(self) -> Iterator[Any]:
        c = CounterMetricFamily("supportd_letters_received", "letters received, by source "
                                "(smtp, lmtp, imap, ingest) and outcome",
                                labels=["source", "outcome"])
        for (source, outcome), n in sorted(self.received.items()):
            c.add_metric([source, outcome], n)
        yield c
        cumulative, buckets = 0, []
        for bound, n in zip((*map(str, BUCKETS), "+Inf"), self.latency, strict=True):
            cumulative += n
            buckets.append((bound, cumulative))
        yield HistogramMetricFamily(
            "supportd_pipeline_latency_seconds",
            "from a letter's receipt to its committed outcome (ticket, thread, ...)",
            buckets=buckets, sum_value=self.latency_sum)

    def _queues(self) -> Iterator[Any]:
        now = self.app.now()
        spool = spool_state(self.app)
        yield GaugeMetricFamily("supportd_spool_depth",
                                "letters received and not yet through the pipeline", spool.depth)
        outbox = outbox_state(self.app, now)
        yield GaugeMetricFamily("supportd_outbox_depth", "letters queued to be sent",
                                outbox.queued)
        yield GaugeMetricFamily("supportd_outbox_oldest_queued_seconds",
                                "how long the longest-waiting letter due to be sent has waited",
                                outbox.oldest_due_seconds)
        with self.app.sessions() as session:
            # The attempt that sent a letter is counted in `attempts` too (a bounced one
            # was sent first); every other attempt failed.
            attempts, sent, failed = session.execute(select(
                func.coalesce(func.sum(Outgoing.attempts), 0),
                func.count().filter(Outgoing.status.in_(("sent", "bounced"))),
                func.count().filter(Outgoing.status == "failed"))).one()
        yield CounterMetricFamily("supportd_send_failures",
                                  "attempts to send a letter that did not send it",
                                  max(0, int(attempts) - int(sent)))
        yield GaugeMetricFamily("supportd_outgoing_failed",
                                "letters given up after the last attempt", int(failed))

    def _tickets(self) -> Iterator[Any]:
        now = self.app.now()
        waiting = [Ticket.awaiting_reaction.is_(True), Ticket.status.in_(("new", "open"))]
        with self.app.sessions() as session:
            per_level = session.execute(
                select(Ticket.sla_level, func.count())
                .where(Ticket.status != literal_column("'closed'"))
                .group_by(Ticket.sla_level)).all()
            due_soon = session.scalar(select(func.count()).select_from(Ticket).where(
                *waiting, Ticket.reaction_due > now,
                Ticket.reaction_due <= now + timedelta(hours=1)))
            overdue = session.scalar(select(func.count()).select_from(Ticket).where(
                *waiting, Ticket.reaction_due <= now))
            missed = session.scalar(select(func.count()).select_from(Reaction).where(or_(
                Reaction.met_at > Reaction.due_at,
                Reaction.met_at.is_(None) & (Reaction.due_at <= now))))
        g = GaugeMetricFamily("supportd_tickets_open", "tickets not closed, by SLA level",
                              labels=["level"])
        for level in sorted(self.app.sla.levels):
            g.add_metric([level], dict(per_level).get(level, 0))
        yield g
        yield GaugeMetricFamily("supportd_reactions_due_next_hour",
                                "tickets whose reaction deadline falls within the next hour",
                                int(due_soon or 0))
        yield GaugeMetricFamily("supportd_reactions_overdue",
                                "tickets past their reaction deadline with no reply",
                                int(overdue or 0))
        yield CounterMetricFamily("supportd_breaches",
                                  "reaction deadlines missed (replied late or not at all)",
                                  int(missed or 0))


class MetricsServer:
    """The endpoint; `start` binds it (127.0.0.1 by default), `stop` closes it."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DeskCollector(app))
        self.server: Any = None

    def start(self) -> tuple[str, int]:
        cfg = self.app.config.metrics
        self.server, _ = start_http_server(cfg.port, cfg.host, registry=self.registry)
        host, port = self.server.server_address[:2]
        log.info("metrics.listening", host=host, port=port)
        return str(host), int(port)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
