"""``/metrics`` in Prometheus' text format, for the addresses in ``HCP_METRICS_ALLOW`` only.

Two kinds of figures: request latency and server errors counted in this process (a middleware),
and figures read from the shared database at each scrape (cases per channel, triage decisions,
the review queue, the outbox, the IMAP intake, overdue cases, background jobs), so every process
behind a load balancer answers the same.  Labels are codes (channel, track, status, route
template), never a path with an id in it and never personal data.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, or_, select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.auth.access import public
from gateway.core.db.models import Case, OutboxMessage, TriageCorrection, WorkerState
from gateway.core.overdue import UNFINISHED, first_response_missed, result_missed
from gateway.core.services import Services
from gateway.email.options import STATE_KEY as IMAP_STATE_KEY

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ProcessMetrics:
    """This process's request figures, in a registry of its own (one per app, so tests can build
    many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram("hcp_http_request_duration_seconds", "Time to answer a request, by route template",
                                 ["method", "route", "status"], registry=self.registry, buckets=LATENCY_BUCKETS)
        self.server_errors = Counter("hcp_http_server_errors", "Requests answered with a 5xx status (failed writes "
                                     "included)", ["route"], registry=self.registry)


class MetricsMiddleware:
    """Times every HTTP request; labels it with the matched route's template, not its path."""

    def __init__(self, app: ASGIApp, metrics: ProcessMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.latency.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)
            if status >= 500:
                self.metrics.server_errors.labels(route).inc()


def allowed(client: str | None, allow: Iterable[str]) -> bool:
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in allow)


def _ts(value: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


async def database_metrics(services: Services, now: datetime) -> list[Metric]:
    """The figures every process reads alike from the database."""
    out: list[Metric] = []
    async with services.store.read() as session:
        received = CounterMetricFamily("hcp_cases_received", "Cases received, by channel", labels=["channel"])
        for channel, count in (await session.execute(select(Case.channel, func.count()).group_by(Case.channel))).all():
            received.add_metric([channel], count)
        out.append(received)

        decisions = CounterMetricFamily("hcp_triage_decisions", "Cases by the track triage (or a correction) put "
                                        "them on", labels=["track"])
        for category, count in (await session.execute(
                select(Case.category, func.count()).group_by(Case.category))).all():
            decisions.add_metric([category or "untriaged"], count)
        out.append(decisions)
        total = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
        waiting = (await session.execute(select(func.count()).select_from(Case).where(
            Case.needs_review.is_(True)))).scalar_one()
        corrected = (await session.execute(select(func.count(func.distinct(TriageCorrection.case_id))))).scalar_one()
        out.append(GaugeMetricFamily("hcp_triage_review_waiting", "Cases waiting for a person to check the triage",
                                     value=waiting))
        out.append(CounterMetricFamily("hcp_triage_corrected_cases", "Cases whose triage a person changed",
                                       value=corrected))
        out.append(GaugeMetricFamily("hcp_triage_review_share", "Share of all cases waiting for review or corrected",
                                     value=(waiting + corrected) / total if total else 0.0))

        queue = GaugeMetricFamily("hcp_outbox_messages", "Outgoing messages by channel and status (pending = queue "
                                  "depth, failed = given up)", labels=["channel", "status"])
        for channel, status, count in (await session.execute(select(
                OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
                OutboxMessage.channel, OutboxMessage.status))).all():
            queue.add_metric([channel, status], count)
        out.append(queue)
        retrying = GaugeMetricFamily("hcp_outbox_retrying", "Pending messages that failed at least once, by channel",
                                     labels=["channel"])
        for channel, count in (await session.execute(select(OutboxMessage.channel, func.count()).where(
                OutboxMessage.status == "pending", OutboxMessage.attempts > 0).group_by(OutboxMessage.channel))).all():
            retrying.add_metric([channel], count)
        out.append(retrying)

        overdue = GaugeMetricFamily("hcp_cases_overdue", "Open cases past a deadline, by track and deadline",
                                    labels=["track", "deadline"])
        # The same definition as the staff pages (gateway.core.overdue).
        for deadline, condition in (("first_response", first_response_missed(now)), ("result", result_missed(now))):
            for category, count in (await session.execute(select(Case.category, func.count()).where(
                    *UNFINISHED, condition).group_by(Case.category))).all():
                overdue.add_metric([category or "untriaged", deadline], count)
        out.append(overdue)

        states = {row.key: row for row in (await session.execute(select(WorkerState).where(or_(
            WorkerState.key.like("job:%"), WorkerState.key == IMAP_STATE_KEY)))).scalars()}
    imap = states.get(IMAP_STATE_KEY)
    if imap is not None:
        value = imap.value or {}
        last = _ts(value.get("last_poll"))
        if last is not None:
            out.append(GaugeMetricFamily("hcp_imap_last_poll_timestamp_seconds", "When the IMAP intake last "
                                         "completed a poll", value=last))
            out.append(GaugeMetricFamily("hcp_imap_lag_seconds", "Seconds since the last completed IMAP poll",
                                         value=max(0.0, now.timestamp() - last)))
        out.append(GaugeMetricFamily("hcp_imap_backlog_messages", "Messages seen but not yet taken in",
                                     value=float(value.get("backlog") or 0)))
        out.append(GaugeMetricFamily("hcp_imap_consecutive_failures", "IMAP failures since the last success",
                                     value=float(value.get("consecutive_failures") or 0)))
    jobs_ok = GaugeMetricFamily("hcp_job_ok", "1 if the background job's last run succeeded", labels=["job"])
    jobs_at = GaugeMetricFamily("hcp_job_last_run_timestamp_seconds", "When the job last ran", labels=["job"])
    for key, row in sorted(states.items()):
        if key.startswith("job:"):
            jobs_ok.add_metric([key[4:]], 1.0 if (row.value or {}).get("ok") else 0.0)
            jobs_at.add_metric([key[4:]], row.updated_at.replace(tzinfo=row.updated_at.tzinfo or UTC).timestamp())
    out += [jobs_ok, jobs_at]
    return out


class _Snapshot:
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


@public(why="address allow-list (HCP_METRICS_ALLOW), checked here: scrapers carry no session")
async def metrics_endpoint(request: Request) -> Response:
    settings = request.app.state.settings
    client = request.client.host if request.client else None
    if not allowed(client, settings.metrics_allow):
        return PlainTextResponse("forbidden\n", status_code=403)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(await database_metrics(request.app.state.services, datetime.now(UTC))))
    body = generate_latest(request.app.state.metrics.registry) + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
