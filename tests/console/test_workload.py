"""The start page (工作台) counts what waits in each area, by the rule of the page the count links
to: the number beside a link is the number of rows that page lists, for this person's towns only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from gateway.app import create_app
from gateway.core.db.models import Case
from gateway.core.services import Services
from tests.helpers import local, make_intake
from tests.staff import make_staff, signed_in

NOW = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Asia/Shanghai
CODE = re.compile(r"[A-Z]{1,8}\d{8}-\d{4,6}")


async def _case(services: Services, ref: str, hall: str = "jintun", **fields: object) -> str:
    result = await services.ingestor.ingest(make_intake(
        source_ref=ref, hall=hall, received_at=local(2026, 12, 7, 9, 0), text="材料问题 #time_limited"))
    async with services.store.write() as session:
        case = (await session.execute(select(Case).where(Case.code == result.case_code))).scalar_one()
        for name, value in fields.items():
            setattr(case, name, value)
    return result.case_code


def _counts(page: str) -> dict[str, dict[str, int]]:
    """{area label: {count label: number}} from the start page's list of areas."""
    areas = re.search(r'<ul class="areas">(.*?)</ul>', page, re.S)
    assert areas, page
    found = {}
    for item in re.findall(r"<li>(.*?)</li>", areas.group(1), re.S):
        area = re.search(r'<a href="[^"]+">([^<]+)</a>', item).group(1)
        found[area] = {label: int(n) for label, n in re.findall(r'class="work[^"]*" href="[^"]+">([^<]+) <strong>(\d+)',
                                                                 item)}
    return found


def _codes(page: str, table_id: str | None = None) -> set[str]:
    if table_id:
        page = re.search(rf'id="{table_id}">.*?</table>', page, re.S).group(0)
    return set(CODE.findall(page))


@time_machine.travel(NOW, tick=False)
async def test_each_role_sees_the_counts_of_its_own_pages(services: Services) -> None:
    past = NOW - timedelta(hours=3)
    await _case(services, "verifying", status="verifying")
    await _case(services, "valid", status="valid", verdict="valid")
    await _case(services, "rectifying", status="rectifying", verdict="valid")
    await _case(services, "late", status="rectifying", verdict="valid", first_response_due=past)
    await _case(services, "late-elsewhere", hall="mandong", status="verifying", first_response_due=past)
    await _case(services, "review", status="needs_review", needs_review=True)
    await _case(services, "appeal", status="rectifying", verdict="valid", appeal_status="pending")
    await _case(services, "unvisited", status="replied", verdict="valid", first_responded_at=past, result_at=past)
    await make_staff(services, "handler", ["handler"], ["jintun"])
    await make_staff(services, "boss", ["supervisor"])
    await make_staff(services, "sorter", ["triage"])
    await make_staff(services, "clerk", ["operator"])
    app = create_app(services=services, run_workers=False)

    async with signed_in(app, "handler") as client:
        home = _counts((await client.get("/console")).text)
        listed = {status: _codes((await client.get(f"/cases?status={status}")).text)
                  for status in ("verifying", "valid", "rectifying")}
        overdue = _codes((await client.get("/cases?overdue=1")).text)
    assert home["案件"] == {"待核实": 0, "核实中": len(listed["verifying"]), "核实属实": len(listed["valid"]),
                          "整改中": len(listed["rectifying"]), "待回访": 1, "逾期": len(overdue)}
    assert home["案件"] == {"待核实": 0, "核实中": 1, "核实属实": 1, "整改中": 3, "待回访": 1, "逾期": 1}, "金屯镇 only"
    assert "督办" not in home and "分拣复核" not in home, "no counts for pages the handler cannot open"

    async with signed_in(app, "boss") as client:
        home = _counts((await client.get("/console")).text)
        supervise = (await client.get("/supervise")).text
        overdue = _codes((await client.get("/cases?overdue=1")).text)
        review = _codes((await client.get("/triage")).text)
    towns = re.search(r'id="overdue-by-town">.*?</table>', supervise, re.S).group(0)
    per_town = sum(int(n) for n in re.findall(r'<td class="num(?: late)?">(\d+)</td><td class="num">\d+</td></tr>',
                                              towns))
    assert home["案件"] == {"逾期": len(overdue)} == {"逾期": per_town} == {"逾期": 2}
    assert home["督办"] == {"待回访": len(_codes(supervise, "unvisited")),
                          "待裁定申诉": len(_codes(supervise, "appeals"))} == {"待回访": 1, "待裁定申诉": 1}
    assert home["分拣复核"] == {"待复核": len(review)} == {"待复核": 1}

    async with signed_in(app, "sorter") as client:
        home = _counts((await client.get("/console")).text)
    assert home["分拣复核"] == {"待复核": 1} and home["案件"] == {}, "the triage team acts on no case list"

    async with signed_in(app, "clerk") as client:
        home = _counts((await client.get("/console")).text)
        hotline = (await client.get("/hotline")).text
    callbacks = re.search(r'id="callbacks".*?</section>', hotline, re.S).group(0)
    assert home["热线登记"] == {"待回电、回访": len(_codes(callbacks))} == {"待回电、回访": 1}, "the visit due"


@time_machine.travel(NOW, tick=False)
async def test_a_handler_counts_new_complaints_to_verify_and_visits_due(services: Services) -> None:
    """The walk-through's 工作台 read 核实中 0 · 核实属实 0 · 整改中 0 · 逾期 0 while two classified
    complaints waited for verification and an answered real-name 差评 for its return visit (which
    the case page lets the handler record): both are counted, and each count opens exactly its list."""
    past = NOW - timedelta(hours=3)
    new = {await _case(services, "new-1", status="triaged", category="time_limited"),
           await _case(services, "new-2", status="triaged", category="immediate", rating=None)}
    await _case(services, "question", status="triaged", category="none", rating=None, reason="inquiry")
    await _case(services, "new-elsewhere", hall="mandong", status="triaged", category="time_limited")
    await _case(services, "verifying", status="verifying", category="time_limited")
    visit = await _case(services, "answered", status="replied", verdict="valid", category="time_limited",
                        first_responded_at=past, result_at=past)
    await _case(services, "answered-not-real-name", status="replied", verdict="valid", real_name=False,
                category="time_limited", first_responded_at=past, result_at=past)
    await _case(services, "answered-not-valid", status="replied", verdict="not_valid", category="time_limited",
                first_responded_at=past, result_at=past)
    await make_staff(services, "handler", ["handler"], ["jintun"])
    app = create_app(services=services, run_workers=False)

    async with signed_in(app, "handler") as client:
        page = (await client.get("/console")).text
        to_verify = await client.get("/cases?status=to_verify")
        to_visit = await client.get("/cases?status=to_visit")
        case_page = (await client.get(f"/cases/{visit}")).text
    home = _counts(page)["案件"]
    assert home["待核实"] == 2 and home["待回访"] == 1, home
    assert 'href="/cases?status=to_verify">待核实 <strong>2' in page
    assert 'href="/cases?status=to_visit">待回访 <strong>1' in page
    assert to_verify.status_code == to_visit.status_code == 200
    assert _codes(to_verify.text, "case-list") == new, "classified complaints of 金屯镇; no inquiry"
    assert _codes(to_visit.text, "case-list") == {visit}
    assert '<option value="to_verify" selected>待核实</option>' in to_verify.text, "the filter shows itself"
    assert "登记回访" in case_page, "the handler records the visit on the case page"
    assert list(home) == ["待核实", "核实中", "核实属实", "整改中", "待回访", "逾期"], "in the order of the work"
