"""``/metrics``: the figures an administrator alerts on, read back through Prometheus' own parser,
for allowed addresses only; labels carry codes, never personal data or ids."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.core.db.models import WorkerState
from gateway.core.services import Services
from tests.helpers import make_intake


def _client(app, address: str) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)),
                             base_url="http://hcp.test")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_metrics_report_cases_triage_outbox_imap_and_overdue_cases(services: Services) -> None:
    for number, text in enumerate(("态度差 #immediate", "排队久 #time_limited", "看不懂 #time_limited #review")):
        await services.ingestor.ingest(make_intake(source_ref=f"m{number}", text=text))
    await services.ingestor.ingest(make_intake(channel="phone", source_ref="call-1", text="表扬", rating="非常满意",
                                               reasons=[]))
    async with services.store.write() as session:
        session.add(WorkerState(key="email:imap", value={"last_poll": "2027-01-04T01:59:00+00:00", "backlog": 3,
                                                         "consecutive_failures": 0},
                                updated_at=datetime(2027, 1, 4, 1, 59, tzinfo=UTC)))
    app = create_app(services.settings, services=services)
    with time_machine.travel(datetime(2027, 1, 4, 2, 0, tzinfo=UTC), tick=False):
        async with _client(app, "127.0.0.1") as client:
            assert (await client.get("/healthz")).status_code == 200
            response = await client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("hcp_cases_received_total", (("channel", "web"),))] == 3
    assert samples[("hcp_cases_received_total", (("channel", "phone"),))] == 1
    assert samples[("hcp_triage_decisions_total", (("track", "time_limited"),))] == 2
    assert samples[("hcp_triage_review_waiting", ())] == 1
    assert samples[("hcp_triage_review_share", ())] == 0.25
    # received 2026-11-27, nobody answered: by 2027-01-04 every complaint is past both deadlines
    assert samples[("hcp_cases_overdue", (("deadline", "first_response"), ("track", "time_limited")))] == 2
    assert samples[("hcp_cases_overdue", (("deadline", "result"), ("track", "immediate")))] == 1
    assert samples[("hcp_imap_lag_seconds", ())] == 60
    assert samples[("hcp_imap_backlog_messages", ())] == 3
    assert samples[("hcp_http_request_duration_seconds_count",
                    (("method", "GET"), ("route", "/healthz"), ("status", "200")))] == 1
    assert "王小明" not in response.text and "138" not in response.text


async def test_metrics_only_for_allowed_addresses(services: Services) -> None:
    app = create_app(services.settings, services=services)
    async with _client(app, "203.0.113.9") as client:
        assert (await client.get("/metrics")).status_code == 403
    allowing = services.settings.model_copy(update={"metrics_allow": ["10.0.0.0/8"]})
    app = create_app(allowing, services=services)
    async with _client(app, "10.1.2.3") as client:
        assert (await client.get("/metrics")).status_code == 200
    async with _client(app, "127.0.0.1") as client:
        assert (await client.get("/metrics")).status_code == 403


async def test_requests_are_labelled_by_route_template_not_by_path(services: Services) -> None:
    app = create_app(services.settings, services=services)
    async with _client(app, "127.0.0.1") as client:
        await client.get("/no/such/page/JX20261127-0001")
        await client.get("/status/JX20261127-0001")
        text = (await client.get("/metrics")).text
    assert "JX20261127-0001" not in text
    assert 'route="unmatched"' in text
