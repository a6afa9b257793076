"""The inbound API: signatures and replays, idempotent matters, one evaluation per 办件, the
evaluation request through the outbox, and the unrated policy — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from gateway.api.clients import add_client, revoke_key, rotate_key
from gateway.api.matters import read_link_token, sweep_unrated
from gateway.app import create_app
from gateway.core.db.models import Case, Message, OutboxMessage
from gateway.core.db.models_matters import Matter
from gateway.core.services import Services
from tests.api.helpers import ApiClientDriver, matter
from tests.helpers import enable_sms


async def _count(services: Services, model) -> int:  # type: ignore[no-untyped-def]
    async with services.store.read() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_finished_matter_is_stored_once_and_its_link_sent_once(api: ApiClientDriver,
                                                                      services: Services) -> None:
    enable_sms(services.settings)
    first = await api.post("/api/v1/matters", matter())
    assert first.status_code == 201, first.text
    link = first.json()["evaluation_link"]
    assert link.startswith("http://127.0.0.1:8000/e/") and len(link) < 80
    again = await api.post("/api/v1/matters", matter())
    assert again.status_code == 200 and again.json() == {**first.json(), "created": False}
    assert await _count(services, Matter) == 1
    async with services.store.read() as session:
        sms = list((await session.execute(select(OutboxMessage).where(
            OutboxMessage.kind == "evaluation_request"))).scalars())
        stored = (await session.execute(select(Matter))).scalar_one()
    assert len(sms) == 1 and sms[0].channel == "sms" and link in sms[0].body and sms[0].payload["url"] == link
    assert services.cipher.open(sms[0].recipient_enc) == "13700001234"
    assert stored.phone_enc is not None and b"13700001234" not in stored.phone_enc
    ref = read_link_token(services.settings.signing_key(), link.rsplit("/", 1)[1])
    assert ref is not None and ref.matter_id == stored.id


async def test_without_sms_the_link_is_returned_but_no_sms_is_queued(api: ApiClientDriver,
                                                                     services: Services) -> None:
    created = await api.post("/api/v1/matters", matter())
    assert created.status_code == 201 and created.json()["evaluation_link"]
    assert await _count(services, OutboxMessage) == 0


@pytest.mark.parametrize(("change", "status", "message"), [
    ({"service_item": {"code": "NOPE99", "name": "不存在的事项"}}, 422, "unknown service item 'NOPE99'"),
    ({"hall": "atlantis"}, 422, "unknown hall 'atlantis'"),
    ({"finished_at": "2026-11-30T10:15:00"}, 422, "finished_at"),
    ({"applicant": {"type": "robot"}}, 422, "applicant.type"),
    ({"applicant": {"type": "person", "notify": "sms"}}, 422, "no phone was given"),
    ({"surprise": 1}, 422, "surprise: Extra inputs are not permitted"),
])
async def test_bad_matters_are_refused_with_the_reason(api: ApiClientDriver, change: dict, status: int,
                                                      message: str) -> None:
    response = await api.post("/api/v1/matters", matter(**change))
    assert response.status_code == status and message in response.json()["error"]


async def test_signatures_clocks_and_replays_are_checked(api: ApiClientDriver, services: Services) -> None:
    body = json.dumps(matter()).encode()
    path = "/api/v1/matters"
    good = api.headers(path, body, nonce="n" * 20)
    tampered = await api.client.post(path, content=body.replace(b"10:15", b"10:16"), headers=good)
    assert tampered.status_code == 401 and tampered.json()["error"] == "bad signature"
    ok = await api.client.post(path, content=body, headers=good)
    assert ok.status_code == 201
    replay = await api.client.post(path, content=body, headers=good)
    assert replay.status_code == 401 and "replayed request" in replay.json()["error"]
    old_stamp = int(time.time()) - 3600
    stale = await api.client.post(path, content=body, headers=api.headers(path, body, timestamp=old_stamp))
    assert stale.status_code == 401 and "clock skew" in stale.json()["error"]
    missing = await api.client.post(path, content=body, headers={"content-type": "application/json"})
    assert missing.status_code == 401 and "missing signature headers" in missing.json()["error"]
    wrong_path = await api.client.post("/api/v1/evaluations", content=body, headers=api.headers(path, body))
    assert wrong_path.status_code == 401
    huge = b'{"matter_no": "' + b"x" * 70_000 + b'"}'
    assert (await api.client.post(path, content=huge, headers=api.headers(path, huge))).status_code == 413
    not_json = b"{not json"
    assert (await api.client.post(path, content=not_json, headers=api.headers(path, not_json))).status_code == 400


async def test_rotated_keys_work_side_by_side_until_the_old_one_is_revoked(api: ApiClientDriver,
                                                                          services: Services) -> None:
    new = await rotate_key(services.store, services.cipher, api.code)
    assert new.key_id == "k2"
    assert (await api.post("/api/v1/matters", matter("A1"))).status_code == 201
    newer = ApiClientDriver(api.client, api.code, new.key_id, new.secret)
    assert (await newer.post("/api/v1/matters", matter("A2"))).status_code == 201
    await revoke_key(services.store, api.code, "k1")
    refused = await api.post("/api/v1/matters", matter("A3"))
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    assert (await newer.post("/api/v1/matters", matter("A3"))).status_code == 201


async def test_one_evaluation_per_matter(api: ApiClientDriver, services: Services) -> None:
    evaluation = {"matter_no": "BJ2026113000001", "rating": "dissatisfied", "reasons": ["repeat_trips"],
                  "text": "跑了两趟才办成", "evaluated_at": "2026-11-30T11:00:00+08:00"}
    unknown = await api.post("/api/v1/evaluations", evaluation)
    assert unknown.status_code == 404 and "post it to /api/v1/matters first" in unknown.json()["error"]
    await api.post("/api/v1/matters", matter())
    first = await api.post("/api/v1/evaluations", evaluation)
    assert first.status_code == 201 and first.json()["repeat"] is False
    retry = await api.post("/api/v1/evaluations", evaluation)
    assert retry.status_code == 200 and retry.json() == {**first.json(), "repeat": True}
    second = await api.post("/api/v1/evaluations", {**evaluation, "rating": "satisfied"})
    assert second.status_code == 409 and "一事一评" in second.json()["error"]
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
        message = (await session.execute(select(Message))).scalar_one()
    assert (case.rating, case.reasons, case.staff_attribution) == ("dissatisfied", ["repeat_trips"], "none")
    assert message.source_ref == "matter:queue-jintun:BJ2026113000001" and message.extra["matter_no"] == (
        "BJ2026113000001")


@pytest.mark.parametrize("policy", ["off", "basic"])
async def test_unrated_matters_are_counted_and_optionally_rated_basic(services: Services, policy: str) -> None:
    services.settings = services.settings.model_copy(update={"unrated_policy": policy, "unrated_after_days": 7})
    issued = await add_client(services.store, services.cipher, "platform", "网办平台")
    app = create_app(services=services, run_workers=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        driver = ApiClientDriver(client, issued.client, issued.key_id, issued.secret)
        old = (datetime.now(UTC) - timedelta(days=8)).isoformat()
        recent = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        await driver.post("/api/v1/matters", matter("OLD", finished_at=old))
        await driver.post("/api/v1/matters", matter("NEW", finished_at=recent))
    assert await sweep_unrated(services) == 1
    assert await sweep_unrated(services) == 0, "each matter is marked once"
    async with services.store.read() as session:
        unrated = list((await session.execute(
            select(Matter.matter_no).where(Matter.unrated_at.is_not(None)))).scalars())
        cases = list((await session.execute(select(Case.rating))).scalars())
    assert unrated == ["OLD"]
    assert cases == (["basic"] if policy == "basic" else [])


async def test_an_evaluated_matter_left_unmarked_by_a_crash_is_not_counted_unrated(services: Services) -> None:
    from sqlalchemy import update as sql_update

    issued = await add_client(services.store, services.cipher, "late", "叫号")
    app = create_app(services=services, run_workers=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        driver = ApiClientDriver(client, issued.client, issued.key_id, issued.secret)
        old = (datetime.now(UTC) - timedelta(days=8)).isoformat()
        await driver.post("/api/v1/matters", matter("CRASH", finished_at=old))
        await driver.post("/api/v1/evaluations", {"matter_no": "CRASH", "rating": "satisfied",
                                                  "evaluated_at": old})
    async with services.store.write() as session:  # as if the process died before marking the matter
        await session.execute(sql_update(Matter).values(evaluated_case_id=None, evaluation_digest=None))
    assert await sweep_unrated(services) == 1
    async with services.store.read() as session:
        stored = (await session.execute(select(Matter))).scalar_one()
    assert stored.unrated_at is None and stored.evaluated_case_id is not None


@pytest.mark.parametrize(("kind", "label"),
                         [("person", "自然人"), ("legal_person", "法人"), ("organization", "其他组织")])
async def test_the_three_kinds_of_applicant_of_the_rules(api: ApiClientDriver, services: Services, kind: str,
                                                         label: str) -> None:
    """The rules' 服务对象 are 自然人、法人或其他组织 (issue 16 point 7)."""
    from gateway.core.labels import label as label_of

    body = matter(applicant={"type": kind, "name": "某某", "phone": "13700001234", "notify": "sms"})
    assert (await api.post("/api/v1/matters", body)).status_code == 201
    async with services.store.read() as session:
        stored = (await session.execute(select(Matter))).scalar_one()
    assert stored.applicant_type == kind and label_of("applicant", kind) == label
