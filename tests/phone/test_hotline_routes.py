"""The operator's page over HTTP, on both databases: log calls, history, follow-ups, errors, masking."""

from __future__ import annotations

import re

from sqlalchemy import select

from gateway.app import create_app
from gateway.core.db.models import Case, Contact, Message
from gateway.core.db.models_staff import AuditEntry
from gateway.core.services import Services
from tests.staff import make_staff, signed_in

JSON = {"accept": "application/json"}


def call(call_id: str, **fields: str) -> dict:
    return {"call_id": call_id, "phone": "138 1234 5678", "name": "王小明", "real_name": "1", "hall": "jintun",
            "rating": "very_dissatisfied", "reasons": ["attitude"], "summary": "窗口人员态度恶劣 #immediate", **fields}


async def test_log_a_call_shows_category_and_deadline(services: Services) -> None:
    await make_staff(services, "op", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "op") as client:
        page = await client.get("/hotline")
        assert page.status_code == 200
        assert 'name="call_id"' in page.text and 'accesskey="n"' in page.text and "hotline.js" in page.text
        call_id = re.search(r'name="call_id" value="([^"]+)"', page.text).group(1)
        response = await client.post_form("/hotline/calls", call(call_id), headers=JSON)
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert result["created"] and result["category_label"] == "立整立改" and result["status_label"] == "已分类"
        assert result["first_response_due"] and result["countdown"].startswith(("剩余", "已超时"))
        # The page writes "{message}；分类：{category_label}": the category is said once only.
        assert "立整立改" not in result["message"] and "分类" not in result["message"]
        assert response.json()["next_call_id"] != call_id
        again = await client.post_form("/hotline/calls", call(call_id), headers=JSON)
        assert again.json()["result"]["duplicate"] and again.json()["result"]["code"] == result["code"]
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
        message = (await session.execute(select(Message))).scalar_one()
        contact = (await session.execute(select(Contact))).scalar_one()
        audit = (await session.execute(select(AuditEntry).where(AuditEntry.action == "phone:log_call"))).scalars()
        assert [a.target_id for a in audit] == [case.code]
    assert case.channel == "phone" and case.real_name and case.reply_channel == "sms"
    assert message.source_ref == call_id and message.extra == {"medium": "hotline", "operator": "op"}
    assert services.cipher.open(contact.phone_enc) == "13812345678"
    assert b"13812345678" not in (contact.phone_enc or b"")


async def test_history_follow_up_and_masking(services: Services) -> None:
    await make_staff(services, "op", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "op") as client:
        first = (await client.post_form("/hotline/calls", call("hl-first-call-0001"), headers=JSON)).json()
        code = first["result"]["code"]
        found = await client.post("/hotline/history", json={"phone": "+86 138-1234-5678"},
                                  headers={**JSON, "X-CSRF-Token": client.csrf})
        assert found.status_code == 200
        body = found.json()
        assert body["phone"] == "138****5678"
        assert [(c["code"], c["open"], c["name"]) for c in body["cases"]] == [(code, True, "王**")]
        assert "13812345678" not in found.text and "王小明" not in found.text
        follow = await client.post_form("/hotline/calls", {
            "call_id": "hl-second-call-02", "phone": "13812345678", "follow_up": code.lower(),
            "summary": "补充：当天下午又去了一次，还是没人办"}, headers=JSON)
        result = follow.json()["result"]
        assert result["follow_up"] and result["code"] == code and "续报" in result["message"]
        other = await client.post("/hotline/history", json={"phone": "0537-6851890"},
                                  headers={**JSON, "X-CSRF-Token": client.csrf})
        assert other.json()["cases"] == []
        bad = await client.post("/hotline/history", json={"phone": "12ab"},
                                headers={**JSON, "X-CSRF-Token": client.csrf})
        assert bad.status_code == 422 and "号码格式不对" in bad.json()["error"]
    async with services.store.read() as session:
        assert len((await session.execute(select(Case))).all()) == 1
        assert len((await session.execute(select(Message))).all()) == 2


async def test_bad_form_is_refused_field_by_field_in_chinese(services: Services) -> None:
    await make_staff(services, "op", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "op") as client:
        response = await client.post_form("/hotline/calls", {
            "call_id": "hl-bad-call-000001", "phone": "1381234", "rating": "satisfied", "reasons": ["attitude"],
            "real_name": "1"}, headers=JSON)
        assert response.status_code == 422
        problems = response.json()["problems"]
        assert set(problems) == {"phone", "reasons", "real_name"}
        assert "手机号 11 位" in problems["phone"] and "不满意" in problems["reasons"]
        unknown = await client.post_form("/hotline/calls", call("hl-bad-call-000002", hall="nowhere"), headers=JSON)
        assert unknown.status_code == 422 and unknown.json()["problems"] == {"hall": "没有这个乡镇/大厅代码"}
        # Without JavaScript: the page is drawn again with the typed values and the problems.
        page = await client.post_form("/hotline/calls", {"call_id": "hl-bad-call-000003", "phone": "0537-68",
                                                         "summary": "噪音很大"})
        assert page.status_code == 422 and 'role="alert"' in page.text and "噪音很大" in page.text
        saved = await client.post_form("/hotline/calls", call("hl-good-call-00004"))
        assert saved.status_code == 303 and saved.headers["location"].startswith("/hotline?saved=JX")
        shown = await client.get(saved.headers["location"])
        assert "受理编号" in shown.text and "立整立改" in shown.text and "首次回复期限" in shown.text
    async with services.store.read() as session:
        assert len((await session.execute(select(Case))).all()) == 1


async def test_other_roles_cannot_use_the_hotline(services: Services) -> None:
    await make_staff(services, "hd", ["handler"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "hd") as client:
        assert (await client.get("/hotline")).status_code == 403
        refused = await client.post_form("/hotline/calls", call("hl-not-allowed-01"), headers=JSON)
        assert refused.status_code == 403
    async with services.store.read() as session:
        assert (await session.execute(select(Case))).first() is None


async def test_an_operator_may_type_the_town_as_the_caller_says_it(services: Services) -> None:
    """The suggestion list shows names; 金屯镇 typed in 乡镇/大厅 is the hall jintun, not a format error."""
    from gateway.core.db.models import Hall

    await make_staff(services, "op", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "op") as client:
        response = await client.post_form("/hotline/calls", call("hl-named-town-0001", hall="金屯镇"), headers=JSON)
        assert response.status_code == 200, response.text
        unknown = await client.post_form("/hotline/calls", call("hl-named-town-0002", hall="不存在镇"), headers=JSON)
        assert unknown.status_code == 422 and "没有找到乡镇（街道）“不存在镇”，请从提示列表中选择" in unknown.text
        # part of a name that only one hall has: Enter pressed before the suggestion was picked
        partial = await client.post_form("/hotline/calls", call("hl-named-town-0003", hall="金屯"), headers=JSON)
        assert partial.status_code == 200, partial.text
        ambiguous = await client.post_form("/hotline/calls", call("hl-named-town-0004", hall="镇"), headers=JSON)
        assert ambiguous.status_code == 422
    async with services.store.read() as session:
        hall_codes = set((await session.execute(select(Hall.code).join(Case, Case.hall_id == Hall.id))).scalars())
    assert hall_codes == {"jintun"}


async def test_the_suggestions_put_names_in_the_fields_and_the_server_takes_them(services: Services) -> None:
    """Picking 孟姑集镇 from the suggestions put its code "menggu" in the field (the option's value): the
    suggestions' values are the names an operator reads, and each one, sent as it is, is accepted."""
    from gateway.core.db.models import Hall, ServiceItem, Window

    await make_staff(services, "op", ["operator"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "op") as client:
        page = (await client.get("/hotline")).text

        def offered(list_id: str) -> list[str]:
            found = re.search(rf'<datalist id="{list_id}">(.*?)</datalist>', page, re.S)
            assert found, list_id
            return re.findall(r'<option value="([^"]+)"', found.group(1))

        halls, windows, items = offered("halls"), offered("windows"), offered("items")
        assert "孟姑集镇" in halls and "menggu" not in halls
        assert all(not value.isascii() for value in halls + windows + items), (halls, windows, items)
        item = next(name for name in items if "养老保险" in name)
        saved = await client.post_form("/hotline/calls", call(
            "hl-picked-names-01", hall="孟姑集镇", window="社保医保窗口", service_item=item), headers=JSON)
        assert saved.status_code == 200, saved.text
        for n, hall in enumerate(halls):  # every town offered is accepted as offered
            each = await client.post_form("/hotline/calls", call(f"hl-picked-hall-{n:03d}", hall=hall), headers=JSON)
            assert each.status_code == 200, (hall, each.text)
    async with services.store.read() as session:
        picked = (await session.execute(
            select(Hall.code, Window.code, ServiceItem.name).select_from(Case)
            .join(Hall, Hall.id == Case.hall_id).join(Window, Window.id == Case.window_id)
            .join(ServiceItem, ServiceItem.id == Case.service_item_id))).all()
    assert picked == [("menggu", "w02", item)]
