"""The call-back list over HTTP on both databases: reveal (audited), attempts, return visits."""

from __future__ import annotations

from sqlalchemy import select

from channels.phone.cdr import parse_mapped_csv
from gateway.app import create_app
from gateway.core import cases as case_ops
from gateway.core.db.models_phone import CallbackTask
from gateway.core.db.models_staff import AuditEntry
from gateway.core.services import Services
from gateway.phone.importer import store_parsed
from tests.helpers import make_intake
from tests.staff import make_staff, signed_in

JSON = {"accept": "application/json"}


async def test_work_through_the_call_back_list(services: Services) -> None:
    await store_parsed(services, parse_mapped_csv("id,caller,start,status\nM-1,13900001111,2026-11-27 09:00,missed\n"))
    case = await services.ingestor.ingest(make_intake(source_ref="cb-1", text="手续繁琐 #time_limited"))
    for action, note in (("start_verification", None), ("verify_valid", "属实"), ("rectify", None),
                         ("reply", "已整改")):
        await case_ops.transition(services.store, case.case_code, action, actor="handler", note=note)
    await make_staff(services, "op", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "op") as client:
        listed = (await client.get("/hotline/callbacks", headers=JSON)).json()["callbacks"]
        assert [(c["kind"], c["phone"]) for c in listed] == [("missed", "139****1111"),
                                                              ("return_visit", "138****5678")]
        assert "13900001111" not in str(listed)
        fragment = await client.get("/hotline/callbacks", headers={"X-HCP-Fragment": "1"})
        assert "未接来电" in fragment.text and "139****1111" in fragment.text and "<html" not in fragment.text
        # Opened in the browser's address bar: the same list inside the staff layout, not a bare fragment.
        page = await client.get("/hotline/callbacks")
        assert page.status_code == 200 and "<html" in page.text and "hcp.css" in page.text
        assert "139****1111" in page.text and 'href="/hotline"' in page.text and "<title>待回电、回访" in page.text
        task = listed[0]["task_id"]
        headers = {**JSON, "X-CSRF-Token": client.csrf}
        shown = await client.post("/hotline/reveal", json={"ref": f"task:{task}"}, headers=headers)
        assert shown.json() == {"phone": "13900001111"}
        assert (await client.post("/hotline/reveal", json={"ref": "task:999"}, headers=headers)).status_code == 404
        unreached = await client.post_form(f"/hotline/callbacks/{task}/attempt", {"reached": "0", "note": "关机"},
                                           headers=JSON)
        assert unreached.json()["status"] == "open"
        still = (await client.get("/hotline/callbacks", headers=JSON)).json()["callbacks"]
        assert {c["ref"]: c["attempts"] for c in still}[f"task:{task}"] == 1
        assert still[0]["ref"] == f"case:{case.case_code}", "a retry waits; the visit that is due comes first"
        reached = await client.post_form(f"/hotline/callbacks/{task}/attempt", {"reached": "1"})
        assert reached.status_code == 303 and reached.headers["location"].startswith("/hotline?done=")
        twice = await client.post_form(f"/hotline/callbacks/{task}/attempt", {"reached": "1"}, headers=JSON)
        assert twice.status_code == 409 and twice.json()["error"] == "该回拨任务已经处理过了"
        visit = await client.post_form("/hotline/visits", {"case_code": case.case_code.lower(), "reached": "1",
                                                           "satisfied": "1", "note": "群众满意",
                                                           "policy_awareness": "4"}, headers=JSON)
        assert visit.json() == {"ok": True, "message": f"{case.case_code} 回访已记录，案件转为已回访",
                                "case_code": case.case_code, "status": "return_visited", "transitioned": True}
        bad = await client.post_form("/hotline/visits", {"case_code": case.case_code, "reached": "1",
                                                         "convenience": "9"}, headers=JSON)
        assert bad.status_code == 422 and bad.json()["error"] == "办事便利度只能是 1 到 5 分"
        missing = await client.post_form("/hotline/visits", {"case_code": "JX20990101-0009", "reached": "0"},
                                         headers=JSON)
        assert missing.status_code == 404
        assert (await client.get("/hotline/callbacks", headers=JSON)).json()["callbacks"] == []
    async with services.store.read() as session:
        task_row = await session.get(CallbackTask, task)
        actions = [a.action for a in (await session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()]
    assert task_row.status == "done" and task_row.attempts == 2 and task_row.closed_by == "op"
    assert actions.count("reveal_personal_data") == 1 and actions.count("phone:callback_attempt") == 2
    assert "phone:return_visit" in actions


async def test_a_logged_call_closes_the_numbers_call_backs(services: Services) -> None:
    await store_parsed(services, parse_mapped_csv("id,caller,start,status\nM-2,13900001111,2026-11-27 09:00,missed\n"))
    await make_staff(services, "op", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "op") as client:
        history = await client.post("/hotline/history", json={"phone": "139 0000 1111"},
                                    headers={**JSON, "X-CSRF-Token": client.csrf})
        assert history.json()["open_tasks"] == 1
        saved = await client.post_form("/hotline/calls", {"call_id": "hl-callback-00001", "phone": "13900001111",
                                                          "summary": "回拨：咨询医保报销材料"}, headers=JSON)
        assert saved.json()["result"]["tasks_closed"] == 1
    async with services.store.read() as session:
        task = (await session.execute(select(CallbackTask))).scalar_one()
    assert task.status == "done" and task.note.startswith("来电已登记 JX")
