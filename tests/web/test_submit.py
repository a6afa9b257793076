"""The 找茬窗口 over HTTP on SQLite and PostgreSQL: pages, submission exactly once, every bad input."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from starlette.applications import Starlette

from channels.web.tokens import derive_key, issue_token
from gateway.app import create_app
from gateway.core.db.models import Case, Contact, Message, ServiceItem, Window
from gateway.core.limits import SharedLimit
from gateway.core.services import Services
from gateway.web.state import WebState
from tests.helpers import enable_sms
from tests.web.citizen import citizen, link, notice, receipt_code

BAD = {"rating": "dissatisfied", "reason": ["attitude", "efficiency"], "text": "窗口没人 #immediate"}


@pytest.fixture
def app(services: Services) -> Starlette:
    return create_app(services=services, run_workers=False)


async def count(services: Services, model: type = Case) -> int:
    async with services.store.read() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_the_window_page_is_small_self_contained_and_strictly_headed(app: Starlette, services: Services) -> None:
    async with citizen(app) as person:
        page = await person.open(link(services))
        assert page.status_code == 200
        assert "金屯镇" in page.text and "综合受理窗口" in page.text and person.token
        assert "hcp_fc" in person.cookies
        assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=lax" in page.headers["set-cookie"]
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
        assert "<script>" not in page.text and " style=" not in page.text
        assert not re.search(r'(src|href)="(https?:)?//(?!testserver)', page.text), "no external resources"
        weight = len(page.content)
        assets = re.findall(r'(?:src|href)="(?:http://testserver)?(/static/[^"]+)"', page.text)
        assert {"/static/hcp.css", "/static/form.css", "/static/form.js"} <= set(assets)
        for asset in assets:
            weight += len((await person.get(asset)).content)
        assert weight <= 100 * 1024, weight
        for label in ("非常满意", "满意", "基本满意", "不满意", "非常不满意", "服务态度不好", "部门推诿",
                      "仅在选择“不满意”或“非常不满意”时填写", "隐私说明", "我同意"):
            assert label in page.text


async def test_forged_unsigned_and_unknown_links_get_a_chinese_404(app: Starlette, services: Services) -> None:
    good = link(services)
    async with citizen(app) as person:
        for path in (good[:-1] + ("a" if good[-1] != "a" else "b"), "/w/jintun/w01", link(services, "jintun", "w99"),
                     link(services, "atlantis", "w01"), good.replace("/jintun/", "/macun/")):
            page = await person.get(path)
            assert page.status_code == 404, path
            assert "评价链接无效" in page.text and 'href="/f"' in page.text
        posted = await person.post(good[:-2] + "zz", data={"text": "x"})
        assert posted.status_code == 404
    assert await count(services) == 0


async def test_a_submission_becomes_one_web_case_with_a_receipt(app: Starlette, services: Services) -> None:
    enable_sms(services.settings)  # the SMS promise on the receipt is kept only when SMS can be sent
    async with citizen(app) as person:
        await person.open(link(services))
        token = person.token
        sent = await person.submit(link(services), **BAD, name="王小明", phone="138 1234 5678", reply="sms",
                                   consent="1")
        assert sent.status_code == 303
        location = sent.headers["location"]
        assert location.startswith("/f/ok/") and "1381234" not in location and "王" not in location
        receipt = await person.get(location)
    assert receipt.status_code == 200
    code = receipt_code(receipt)
    assert "立整立改" in receipt.text and "短信发送到 138****5678" in receipt.text
    assert "手机号后四位" in receipt.text or "电话号码后四位" in receipt.text
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
        message = (await session.execute(select(Message))).scalar_one()
        contact = (await session.execute(select(Contact))).scalar_one()
    assert case.code == code and case.channel == "web" and case.rating == "dissatisfied"
    assert case.reasons == ["attitude", "efficiency"] and case.reply_channel == "sms" and case.real_name
    assert message.source_ref == token and message.extra == {"form": "window", "entry": "web", "item": "unspecified"}
    assert case.source == "once" and case.service_item_id is None, "一次一评, the citizen named no item: 未指明事项"
    assert b"13812345678" not in (contact.phone_enc or b"") and services.cipher.open(contact.phone_enc) == "13812345678"


async def test_a_double_tap_and_a_replayed_post_make_one_case(app: Starlette, services: Services) -> None:
    path = link(services)
    async with citizen(app) as person:
        await person.open(path)
        token = person.token
        taps = await asyncio.gather(*(person.submit(path, token=token, **BAD) for _ in range(4)))
        assert {tap.status_code for tap in taps} == {303}
        assert len({tap.headers["location"] for tap in taps}) == 1
        replayed = await person.submit(path, token=token, rating="satisfied", text="改主意了")
        assert replayed.headers["location"] == taps[0].headers["location"]
        again = await person.get(replayed.headers["location"])
        assert again.status_code == 200
    assert await count(services) == 1 and await count(services, Message) == 1


async def test_a_receipt_shows_only_in_the_browser_that_submitted(app: Starlette, services: Services) -> None:
    async with citizen(app) as person, citizen(app, "10.0.0.8") as stranger:
        await person.open(link(services))
        location = (await person.submit(link(services), **BAD)).headers["location"]
        assert (await person.get(location)).status_code == 200
        await stranger.open("/f")
        shown = await stranger.get(location)
        assert shown.status_code == 404 and "回执只在提交评价的手机上显示" in shown.text
        assert (await person.get(location[:-3] + "aaa")).status_code == 404


async def test_token_faults_keep_the_typed_text_and_store_nothing(app: Starlette, services: Services) -> None:
    path = link(services)
    text = "大厅<b>没有</b>饮水机"
    async with citizen(app) as person:
        await person.open(path)
        good = person.token
        cases = {
            "missing": (None, 400, "页面缺少校验码"),
            "malformed": ("not-a-token", 403, "校验码不正确"),
            "forged": (good[:-2] + ("aa" if not good.endswith("aa") else "bb"), 403, "页面校验未通过"),
        }
        for name, (token, status, words) in cases.items():
            data = {"t": token} if token else {}
            page = await person.post(path, data={**data, "rating": "dissatisfied", "text": text})
            assert page.status_code == status, name
            assert words in notice(page), name
            assert "大厅&lt;b&gt;没有&lt;/b&gt;饮水机</textarea>" in page.text, name
            assert 'value="dissatisfied" checked' in page.text, name
        other_window = link(services, "jintun", "w02")
        assert (await person.submit(other_window, token=good, text=text)).status_code == 403
    async with citizen(app) as other_browser:
        await other_browser.open(path)
        stolen = await other_browser.submit(path, token=good, text=text)
        assert stolen.status_code == 403 and "页面校验未通过" in notice(stolen)
    async with citizen(app) as no_cookie:
        page = await no_cookie.post(path, data={"t": good, "text": text})
        assert page.status_code == 403 and "Cookie" in notice(page) and "hcp_fc" in page.headers["set-cookie"]
    assert await count(services) == 0


async def test_an_expired_page_asks_again_unless_it_was_already_stored(app: Starlette, services: Services) -> None:
    path = link(services)
    key = derive_key(services.settings.signing_key())
    async with citizen(app) as person:
        await person.open(path)
        client = person.cookies["hcp_fc"]
        old = issue_token(key, scope="w:jintun:w01", client=client, now=datetime.now(UTC) - timedelta(hours=25))
        page = await person.submit(path, token=old, text="排队太久了")
        assert page.status_code == 400 and "页面打开时间太久" in notice(page) and "排队太久了</textarea>" in page.text
        fresh = person.token
        assert fresh != old and (await person.submit(path, text="排队太久了")).status_code == 303
        assert await count(services) == 1
        stored = issue_token(key, scope="w:jintun:w01", client=client, now=datetime.now(UTC) - timedelta(hours=1))
        first = await person.submit(path, token=stored, text="第二件事")
        assert first.status_code == 303
        app.state.web.token_max_age = timedelta(minutes=30)  # the page is now "old", but its copy is stored
        late = await person.submit(path, token=stored, text="第二件事")
        assert late.status_code == 303 and late.headers["location"] == first.headers["location"]
    assert await count(services) == 2


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"text": "字" * 2001}, "text", "意见最多 2000 字"),
    ({"text": "x", "name": "名" * 31, "consent": "1"}, "name", "姓名最多 30 个字"),
    ({"text": "x", "phone": "1" * 31, "consent": "1"}, "phone", "11 位手机号码"),
    ({"rating": "dissatisfied", "reason": "bribe"}, "reason", "列出的选项"),
    ({"rating": "5 stars"}, "rating", "五个选项"),
    ({"text": "x", "phone": "13812345678"}, "consent", "需要勾选同意"),
    ({}, "rating", "请选择满意程度"),
])
async def test_oversize_and_invalid_fields_are_named_and_kept(app: Starlette, services: Services, fields: dict,
                                                              field: str, words: str) -> None:
    async with citizen(app) as person:
        await person.open(link(services))
        page = await person.submit(link(services), **fields)
    assert page.status_code == 400
    match = re.search(rf'id="e-{field}">([^<]+)<', page.text)
    assert match and words in match.group(1), page.text[:3000]
    assert "还有" in page.text and f'href="#q-{field}"' in page.text
    if "text" in fields:
        assert fields["text"] in page.text
    assert await count(services) == 0


async def test_bodies_that_are_too_big_not_a_form_or_too_many_fields_are_refused(app: Starlette,
                                                                                 services: Services) -> None:
    path = link(services)
    async with citizen(app) as person:
        await person.open(path)
        big = await person.post(path, data={"t": person.token, "text": "字" * 20_000})
        assert big.status_code == 413 and "内容太长" in big.text
        as_json = await person.post(path, json={"t": person.token, "text": "x"})
        assert as_json.status_code == 415 and "表单格式不正确" in as_json.text
        fields = await person.post(path, data={"t": person.token, "text": "x", **{f"x{i}": "1" for i in range(80)}})
        assert fields.status_code == 400 and "表单内容异常" in fields.text
    assert await count(services) == 0


async def test_script_in_the_text_is_stored_verbatim_and_never_executed(app: Starlette, services: Services) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    async with citizen(app) as person:
        await person.open(link(services))
        page = await person.submit(link(services), text=evil, phone="12", consent="1")
        assert page.status_code == 400
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
        assert (await person.submit(link(services), text=evil)).status_code == 303
    async with services.store.read() as session:
        assert (await session.execute(select(Case.text))).scalar_one() == evil


async def test_reasons_ticked_with_a_good_rating_are_ignored(app: Starlette, services: Services) -> None:
    async with citizen(app) as person:
        await person.open(link(services))
        assert (await person.submit(link(services), rating="very_satisfied", reason=["attitude"])).status_code == 303
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
    assert case.rating == "very_satisfied" and case.reasons == []


async def test_the_general_form_takes_the_town_and_where_its_link_was_published(app: Starlette,
                                                                               services: Services) -> None:
    async with citizen(app) as person:
        page = await person.open("/f?src=supervision&hall=macun")
        assert page.status_code == 200 and '<option value="macun" selected>' in page.text
        assert 'name="src" value="supervision"' in page.text
        missing = await person.submit("/f", text="建议延长午间服务", src="supervision")
        assert missing.status_code == 400 and "请选择您办事的乡镇" in missing.text
        assert (await person.submit("/f", text="建议延长午间服务", hall="atlantis")).status_code == 400
        window_token = (await person.open(link(services))) and person.token
        assert (await person.submit("/f", token=window_token, text="x", hall="macun")).status_code == 403
        await person.open("/f?src=supervision")
        sent = await person.submit("/f", text="建议延长午间服务", hall="macun", src="supervision")
        assert sent.status_code == 303
        assert "马村镇" in (await person.get(sent.headers["location"])).text
    async with services.store.read() as session:
        message = (await session.execute(select(Message))).scalar_one()
    assert message.extra == {"form": "general", "entry": "supervision"}


async def test_rate_limits_per_address_and_per_window_keep_the_text(app: Starlette, services: Services) -> None:
    state = WebState.create(services.settings, services.store)
    state.per_client = SharedLimit(services.store, 2, 600, prefix="web-client")
    state.per_window = SharedLimit(services.store, 3, 600, prefix="web-window")
    app.state.web = state
    path = link(services)
    async with citizen(app, "10.0.0.21") as first:
        for _ in range(2):
            await first.open(path)
            assert (await first.submit(path, text="第一件")).status_code == 303
        last_token = first.token
        await first.open(path)
        limited = await first.submit(path, text="第三件")
        assert limited.status_code == 429 and "提交太频繁" in notice(limited) and "第三件</textarea>" in limited.text
        assert "<title>提交太频繁" in limited.text, "the notice is first in the title"
        assert 'tabindex="-1" autofocus id="notice"' in limited.text, "and takes focus, even without JavaScript"
        assert int(limited.headers["retry-after"]) > 0
        repeat = await first.submit(path, token=last_token, text="第一件")
        assert repeat.status_code == 303, "an honest retry of a stored submission still gets its receipt"
    async with citizen(app, "10.0.0.22") as second:
        await second.open(path)
        assert (await second.submit(path, text="第四件")).status_code == 303
        await second.open(path)
        crowded = await second.submit(path, text="第五件")
        assert crowded.status_code == 429 and "这个窗口刚刚收到的评价太多" in notice(crowded)
    async with citizen(app, "10.0.0.23") as third:
        other = link(services, "jintun", "w02")
        await third.open(other)
        assert (await third.submit(other, text="别的窗口")).status_code == 303
    assert await count(services) == 4


async def test_a_window_deactivated_after_the_page_loaded(app: Starlette, services: Services) -> None:
    path = link(services, "jintun", "w03")
    async with citizen(app) as person:
        await person.open(path)
        async with services.store.write() as session:
            await session.execute(update(Window).where(Window.code == "w03").values(active=False))
        app.state.web.registry.invalidate()
        page = await person.submit(path, text="x")
    assert page.status_code == 404 and "已经撤销或暂停使用" in page.text


async def test_no_personal_data_in_logs_or_urls(app: Starlette, services: Services,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with citizen(app) as person:
        await person.open(link(services))
        sent = await person.submit(link(services), **BAD, name="赵铁柱", phone="13912345678", consent="1")
        page = await person.get(sent.headers["location"])
    assert "赵铁柱" not in caplog.text and "13912345678" not in caplog.text and "1391234" not in caplog.text
    assert "web submission w:jintun:w01: case JX" in caplog.text
    assert "13912345678" not in sent.headers["location"] and "赵" not in page.text
    assert "139****5678" in page.text


async def test_large_text_is_a_button_and_a_cookie(app: Starlette, services: Services) -> None:
    """Without JavaScript the 大字 button submits ?big=1 (GET); its label is fixed, aria-pressed says the state."""
    async with citizen(app) as person:
        normal = await person.get("/f")
        assert 'class="citizen"' in normal.text
        assert 'name="big" value="1" class="fz-tool fz-size-toggle" aria-pressed="false">大字<' in normal.text
        big = await person.get("/f?big=1")
        assert 'class="citizen big"' in big.text and "hcp_big=1" in big.headers["set-cookie"]
        assert 'name="big" value="0" class="fz-tool fz-size-toggle" aria-pressed="true">大字<' in big.text
        assert 'class="citizen big"' in (await person.get("/status")).text
        assert 'class="citizen"' in (await person.get("/f?big=0")).text


async def test_the_window_form_offers_the_windows_service_items(app: Starlette, services: Services) -> None:
    """一次一评 knows what it rates: the citizen picks the 事项 from the window's list, or 未指明事项."""
    path = link(services, "jintun", "w02")
    async with citizen(app) as person:
        page = await person.open(path)
        assert 'name="item"' in page.text and "城乡居民基本养老保险参保登记" in page.text
        assert "最低生活保障申请" not in page.text, "only the items of this window"
        assert "其他事项或说不清（未指明事项）" in page.text
        wrong = await person.submit(path, **BAD, item="MZ001")
        assert wrong.status_code == 400 and "请从列表中选择您办的事" in wrong.text
        assert "窗口没人" in wrong.text, "what the citizen typed is kept"
        picked = await person.submit(path, **BAD, item="SB002")
        assert picked.status_code == 303
    async with citizen(app, "10.0.0.8") as other:
        await other.open(link(services, "jintun", "zc"))
        assert 'name="item"' not in (await other.get(link(services, "jintun", "zc"))).text, \
            "a window without a list asks nothing"
    async with services.store.read() as session:
        case = (await session.execute(select(Case))).scalar_one()
        item = (await session.execute(select(ServiceItem).where(ServiceItem.id == case.service_item_id))).scalar_one()
    assert item.code == "SB002" and case.source == "once"
