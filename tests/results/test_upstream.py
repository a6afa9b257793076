"""The upstream push: signed JSON through the outbox to a local HTTP server that checks signatures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from gateway.core.db.models import OutboxMessage
from gateway.core.outbox import OutboxDelivery
from gateway.core.services import Services
from gateway.core.workflow import apply_transition
from gateway.results import demo, upstream
from tests.results import dataset

KEY = b"shared-upstream-secret"


class Receiver:
    """A stand-in for the provincial system: checks each signature, upserts by assessNumber."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0  # answer 503 to this many requests first
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                ok = upstream.verify(KEY, self.headers["x-hcp-timestamp"], body, self.headers["x-hcp-signature"])
                server.requests.append({"ok": ok, "idempotency": self.headers["idempotency-key"], "body": body})
                if not ok:
                    return self._answer(401, {"error": "bad signature"})
                if server.fail_next:
                    server.fail_next -= 1
                    return self._answer(503, {"error": "busy"})
                record = json.loads(body)
                held = server.records.get(record["assessNumber"])
                if held is None or held["dataVersion"] < record["dataVersion"]:
                    server.records[record["assessNumber"]] = record
                self._answer(200, {"ok": True})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/haochaping/evaluations"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.httpd.serve_forever, daemon=True)
    thread.start()
    yield r
    r.httpd.shutdown()
    r.httpd.server_close()


async def enqueue_all(services: Services) -> int:
    later = datetime.now(UTC) + upstream.SETTLE + timedelta(seconds=1)  # past the settling time
    return await services.store.run_write(lambda session: upstream.enqueue_changes(session, services, now=later))


async def deliver(services: Services, sender: upstream.UpstreamSender, rounds: int = 6) -> list[dict[str, int]]:
    delivery = OutboxDelivery(services.store, services.cipher, {"upstream": sender}, max_attempts=3,
                              backoff_seconds=1)
    now = datetime.now(UTC) + upstream.SETTLE + timedelta(minutes=1)
    results = []
    for i in range(rounds):
        results.append(await delivery.run_once(now + timedelta(seconds=10 * i)))
    return results


async def outbox_rows(services: Services) -> list[OutboxMessage]:
    async with services.store.read() as session:
        return list((await session.execute(
            select(OutboxMessage).where(OutboxMessage.channel == "upstream").order_by(OutboxMessage.id))).scalars())


async def test_each_case_is_pushed_signed_with_national_fields(services: Services, receiver: Receiver) -> None:
    codes = await dataset.load(services)
    await demo.seed_demo(services.store, services.cipher, await services.calendar.get(), cases=5, seed=9,
                         until=date(2026, 11, 20), days=10, tz="Asia/Shanghai", tracking_prefix="JX")
    assert await enqueue_all(services) == 10, "the ten real cases; demo cases are never pushed"
    assert await enqueue_all(services) == 0, "the cursor moved on"
    receiver.fail_next = 1
    sender = upstream.UpstreamSender(receiver.url, KEY)
    await deliver(services, sender)
    assert all(r["ok"] for r in receiver.requests)
    assert len(receiver.records) == 10
    rows = await outbox_rows(services)
    assert {r.status for r in rows} == {"sent"}
    assert any(r.attempts == 2 for r in rows), "the 503 was retried"
    record = receiver.records[f"hcp-{codes['c4']}"]
    assert record["alternate"] == "2" and record["pf"] == "3" and record["isRealName"] == "1"
    assert record["appraisald"] == "attitude" and record["appraisaldName"] == "服务态度不好"
    assert record["handleStatus"] == "4" and record["returnVisitSatisfied"] == "1"
    assert record["assessTime"] == "2026-11-02 10:00:00" and record["taskCode"] is None
    assert record["areaCode"] is None or record["areaCode"].isdigit()
    assert dataset.PUBLIC_REPLY in record["replyContent"] and dataset.PHONES[0] not in record["replyContent"]
    everything = b"".join(r["body"] for r in receiver.requests).decode()
    for value in (*dataset.NAMES, *dataset.PHONES, *dataset.EMAILS):
        assert value not in everything, f"personal data {value!r} went upstream"
    phone_case = receiver.records[f"hcp-{codes['c5']}"]
    assert phone_case["pf"] == "6" and phone_case["handleStatus"] == "2" and phone_case["alternate"] == "1"


async def test_a_change_is_pushed_again_and_upstream_keeps_the_newest(services: Services,
                                                                      receiver: Receiver) -> None:
    codes = await dataset.load(services)
    await enqueue_all(services)
    sender = upstream.UpstreamSender(receiver.url, KEY)
    await deliver(services, sender)
    case_id = await dataset.case_id(services, codes["c5"])
    async with services.store.write() as session:
        await apply_transition(session, case_id, "return_visit", actor="test", note="回访",
                               data={"satisfied": True}, now=datetime.now(UTC))
    assert await enqueue_all(services) == 1
    await deliver(services, sender)
    record = receiver.records[f"hcp-{codes['c5']}"]
    assert record["handleStatus"] == "3" and record["returnVisitSatisfied"] == "1"
    keys = [r["idempotency"] for r in receiver.requests if r["idempotency"].startswith(f"hcp-{codes['c5']}:")]
    assert len(keys) == 2 and len(set(keys)) == 2


async def test_a_rejected_signature_fails_visibly_and_is_not_retried(services: Services, receiver: Receiver) -> None:
    await dataset.load(services)
    await enqueue_all(services)
    wrong = upstream.UpstreamSender(receiver.url, b"not-the-key")
    results = await deliver(services, wrong, rounds=2)
    assert results[0]["failed"] == 10
    rows = await outbox_rows(services)
    assert {r.status for r in rows} == {"failed"} and all(r.attempts == 1 for r in rows)
    assert "HTTP 401" in (rows[0].last_error or "")
    assert receiver.records == {}


async def test_an_unreachable_upstream_is_retried_then_fails(services: Services) -> None:
    await dataset.load(services)
    await enqueue_all(services)
    sender = upstream.UpstreamSender("http://127.0.0.1:9/nothing", KEY, timeout=2)
    await deliver(services, sender, rounds=4)
    rows = await outbox_rows(services)
    assert {r.status for r in rows} == {"failed"} and all(r.attempts == 3 for r in rows)
    assert "upstream unreachable" in (rows[0].last_error or "")


def test_signatures_expire_and_bind_the_body() -> None:
    body = b'{"assessNumber":"hcp-JX20261102-0001"}'
    signature = upstream.sign(KEY, "1700000000", body)
    assert upstream.verify(KEY, "1700000000", body, signature, now=1700000100)
    assert not upstream.verify(KEY, "1700000000", body + b" ", signature, now=1700000100)
    assert not upstream.verify(KEY, "1700000000", body, signature, now=1700009999)
    assert not upstream.verify(KEY, "yesterday", body, signature)


def test_the_sender_is_wired_only_when_configured(services: Services) -> None:
    from gateway.results import jobs as results_jobs

    assert results_jobs.senders(services) == {}
    assert [j.name for j in results_jobs.jobs(services)] == ["results-rollup"]
    from pydantic import SecretStr

    configured = services.settings.model_copy(update={"upstream_url": "http://127.0.0.1:1/x",
                                                      "upstream_key": SecretStr("k")})
    services.settings = configured
    assert "upstream" in results_jobs.senders(services)
    assert [j.name for j in results_jobs.jobs(services)] == ["results-rollup", "upstream"]
