"""Roster pages over HTTP: town scope for handlers, CSV upload with row errors, own evaluations."""

from __future__ import annotations

from gateway.app import create_app
from gateway.auth.users import list_users
from gateway.core.rosters import add_shift, link_user
from gateway.core.services import Services
from tests.helpers import local, make_intake
from tests.staff import make_staff, signed_in

CSV = ("hall,window,employee_no,name,starts_at,ends_at\n"
       "jintun,w01,J001,张敏,2026-11-30T08:30+08:00,2026-11-30T12:00+08:00\n"
       "jintun,w01,J002,刘强,bad,2026-11-30T17:30+08:00\n")


async def test_a_handler_edits_the_rosters_of_their_own_town_only(services: Services) -> None:
    await make_staff(services, "h", ["handler"], ["jintun"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "h") as client:
        page = await client.get("/rosters?hall=jintun&day=2026-11-30")
        assert page.status_code == 200 and "当天没有排班" in page.text
        assert (await client.get("/rosters?hall=liangbaosi")).status_code == 403
        other = await client.post_form("/rosters/add", {"hall": "liangbaosi", "day": "2026-11-30", "window": "w01",
                                                        "employee_no": "L1", "name": "赵", "start": "08:30",
                                                        "end": "12:00"})
        assert other.status_code == 403
        bad = await client.post_form("/rosters/add", {"hall": "jintun", "day": "2026-11-30", "window": "w01",
                                                      "employee_no": "J1", "name": "张", "start": "12:00",
                                                      "end": "08:30"})
        assert bad.status_code == 400 and "下班时间必须晚于上班时间" in bad.text
        added = await client.post_form("/rosters/add", {"hall": "jintun", "day": "2026-11-30", "window": "w01",
                                                        "employee_no": "J1", "name": "张敏", "start": "08:30",
                                                        "end": "12:00"})
        assert added.status_code == 303
        assert "张敏" in (await client.get("/rosters?hall=jintun&day=2026-11-30")).text
        upload = await client.post("/rosters/import", data={"csrf_token": client.csrf},
                                   files={"file": ("shifts.csv", CSV.encode("gbk"), "text/csv")})
        assert upload.status_code == 400 and "第 3 行" in upload.text and "新增 1 条" in upload.text


async def test_staff_read_their_own_evaluations_without_citizen_data(services: Services) -> None:
    await make_staff(services, "zhangmin", ["operator"])
    await add_shift(services.store, hall="jintun", window="w01", employee_no="J001", name="张敏",
                    starts_at=local(2026, 11, 27, 8, 30), ends_at=local(2026, 11, 27, 12, 0), actor="t")
    user_id = next(u.id for u in await list_users(services.store) if u.username == "zhangmin")
    await link_user(services.store, hall="jintun", employee_no="J001", user_id=user_id)
    await services.ingestor.ingest(make_intake(source_ref="mine", received_at=local(2026, 11, 27, 10, 0)))
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "zhangmin") as client:
        page = await client.get("/me/evaluations")
    assert page.status_code == 200 and "不满意" in page.text and "按排班" in page.text
    assert "王" not in page.text and "5678" not in page.text
