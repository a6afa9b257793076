"""The upstream record matches its 办件: projectNo, areaCode, pf and userProp, every pushed record
valid against the JSON Schema in the repository; 参评率 of the 办件 reported through the API."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from gateway.api.clients import add_client
from gateway.api.matters import EvaluationIn, MatterIn, record_evaluation, record_matter
from gateway.core.db.models_matters import ApiClient
from gateway.core.registry import import_registry, read_registry_file
from gateway.core.services import Services
from gateway.results import upstream
from gateway.results.figures import Filters, Names, Period, unrated_figures
from tests.results import dataset
from tests.results.test_upstream import KEY, Receiver, deliver, enqueue_all, receiver  # noqa: F401

SCHEMA = json.loads(upstream.SCHEMA_PATH.read_text("utf-8"))
REGISTRY = """\
[[halls]]
code = "jintun"
name = "金屯镇"
region_code = "370829100000"

[[halls]]
code = "jintun-cun01"
name = "金屯镇前村便民服务点"
kind = "village"
town = "jintun"
windows = [{ code = "w01", name = "代办窗口", service_items = ["SB001"] }]
"""


def matter(number: str, applicant: str, hall: str | None = "jintun-cun01") -> MatterIn:
    return MatterIn.model_validate({
        "matter_no": number, "service_item": {"code": "SB001", "name": "城乡居民基本养老保险参保登记"},
        "hall": hall, "window": "w01" if hall else None,
        "applicant": {"type": applicant, "name": "某公司" if applicant != "person" else None, "notify": "none"},
        "finished_at": "2026-11-30T10:15:00+08:00"})


def test_the_schema_is_a_valid_schema_that_rejects_wrong_codes() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert set(SCHEMA["required"]) == set(upstream.RECORD_FIELDS), "the schema and RECORD_FIELDS list one record"
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert set(upstream.PF.values()) <= set(SCHEMA["properties"]["pf"]["enum"])
    assert set(upstream.USER_PROP.values()) <= set(SCHEMA["properties"]["userProp"]["enum"])
    assert not validator.is_valid({"areaCode": "3708"}), "a six-digit code is not an areaCode"


async def test_every_pushed_record_is_valid_and_matches_its_matter(services: Services, receiver: Receiver,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "points.toml"
    path.write_text(REGISTRY, "utf-8")
    await import_registry(services.store, read_registry_file(path))
    codes = await dataset.load(services)
    issued = await add_client(services.store, services.cipher, "queue-jintun", "金屯镇叫号系统")
    async with services.store.read() as session:
        client_id = (await session.execute(select(ApiClient.id).where(ApiClient.code == issued.client))).scalar_one()
    await record_matter(services, client_id, issued.client, matter("BJ2026113000001", "legal_person"))
    await record_matter(services, client_id, issued.client, matter("BJ2026113000002", "organization", hall=None))
    await record_matter(services, client_id, issued.client, matter("BJ2026113000003", "person"))
    first, _ = await record_evaluation(services, client_id, EvaluationIn(
        matter_no="BJ2026113000001", rating="dissatisfied", reasons=["materials"], text="材料要求太多",
        evaluated_at="2026-11-30T11:00:00+08:00"))
    second, _ = await record_evaluation(services, client_id, EvaluationIn(
        matter_no="BJ2026113000002", rating="satisfied", evaluated_at="2026-11-30T12:00:00+08:00"))

    assert await enqueue_all(services) == 12
    await deliver(services, upstream.UpstreamSender(receiver.url, KEY))
    assert len(receiver.records) == 12
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for record in receiver.records.values():
        problems = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(record)]
        assert not problems, (record["assessNumber"], problems)

    company = receiver.records[f"hcp-{first.case_code}"]
    assert company["projectNo"] == "BJ2026113000001" and company["userProp"] == "2"
    assert (company["pf"], company["evaluationSource"], company["evaluationSourceName"]) == ("1", "matter", "一事一评")
    assert company["areaCode"] == "370829100000", "a village point without its own code takes its town's"
    assert company["hallName"] == "金屯镇前村便民服务点" and company["taskCode"] == "SB001"
    organization = receiver.records[f"hcp-{second.case_code}"]
    assert organization["userProp"] == "3" and organization["areaCode"] is None, "an online 办件 has no hall"
    expected = {"c4": ("3", "once"), "c2": ("5", "box"), "c5": ("6", "hotline"), "c8": ("1", "email")}
    for ref, (pf, source) in expected.items():
        record = receiver.records[f"hcp-{codes[ref]}"]
        assert (record["pf"], record["evaluationSource"]) == (pf, source), ref
        assert record["projectNo"] is None and record["userProp"] == "1", "no 办件: no projectNo, a citizen"
    assert receiver.records[f"hcp-{codes['c4']}"]["areaCode"] == "370829100000"
    assert receiver.records[f"hcp-{codes['c10']}"]["areaCode"] is None, "梁宝寺镇 has no code yet"

    async with services.store.read() as session:
        matters = await unrated_figures(session, Filters(Period(date(2026, 11, 1), date(2026, 11, 30))),
                                        await Names.load(session))
    # Three 办件 finished in November, two evaluated by the applicant: 参评率 2/3; the village point's
    # two count in 金屯镇, the online one in the county total only.
    assert (matters[None].evaluated, matters[None].finished) == (2, 3)
    assert matters[None].participation_rate == pytest.approx(2 / 3)
    assert (matters["jintun"].evaluated, matters["jintun"].finished) == (1, 2)
