"""WeChat outbound against the local fake API: the access token shared through the database and
refreshed before it expires, customer-service messages inside the 48 hours, template messages
outside them (and on 45015), a new token on 40001, staff replies on the citizen's channel, and the
channel staying off until it is configured."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import time_machine
from pydantic import SecretStr
from sqlalchemy import select

from channels.intake import Intake
from gateway.app import create_app
from gateway.auth.roles import Principal
from gateway.console.actions import Actor, reply, transition
from gateway.core.db.models import Message, OutboxMessage
from gateway.core.db.models_staff import User
from gateway.core.db.models_wechat import WechatToken
from gateway.core.outbox import OutboxDelivery, OutgoingMessage
from gateway.core.services import Services
from gateway.wechat import jobs as wechat_jobs
from gateway.wechat.api import WechatApi
from gateway.wechat.options import WechatOptions
from gateway.wechat.sender import WechatSender
from tests.helpers import local
from tests.staff import make_staff, signed_in
from tests.wechat.conftest import FakeWechat
from tests.wechat.samples import OPENID

NOW = local(2026, 11, 27, 9, 12, 33)


@pytest.fixture(autouse=True)
def frozen() -> object:
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


async def _case(services: Services, at=NOW, text: str = "窗口没人 #time_limited") -> str:  # type: ignore[no-untyped-def]
    result = await services.ingestor.ingest(Intake.build(
        channel="wechat", source_ref=f"{int(at.timestamp())}001", received_at=at, text=text,
        contact={"wechat": OPENID, "preferred_channel": "wechat"}))
    return result.case_code


def _notice(code: str, outbox_id: int = 1, case_id: int | None = 1) -> OutgoingMessage:
    return OutgoingMessage(channel="wechat", kind="reply", recipient=OPENID, body=f"关于 {code}：窗口已调整上班时间。",
                           case_id=case_id, outbox_id=outbox_id, payload={"tracking_code": code})


async def test_token_is_fetched_once_shared_and_refreshed_before_expiry(
        services: Services, options: WechatOptions, fake_wechat: FakeWechat,
        frozen: time_machine.Coordinates) -> None:
    first, second = WechatApi(services, options), WechatApi(services, options)
    assert await first.access_token() == "ACCESS_TOKEN_1"
    assert await second.access_token() == "ACCESS_TOKEN_1"  # another process: read from the database
    other = Services.create(services.settings)  # a second process on the same database
    try:
        assert await WechatApi(other, options).access_token() == "ACCESS_TOKEN_1"
    finally:
        await other.close()
    assert fake_wechat.tokens_issued == 1
    async with services.store.read() as session:
        row = await session.get(WechatToken, options.app_id)
    assert row is not None and b"ACCESS_TOKEN" not in row.token_enc
    assert row.expires_at == pytest.approx(NOW + timedelta(seconds=7200), abs=timedelta(seconds=5))
    frozen.move_to(NOW + timedelta(seconds=7200 - 400))
    assert await second.access_token() == "ACCESS_TOKEN_1"
    frozen.move_to(NOW + timedelta(seconds=7200 - 200))  # inside the 300 s margin
    assert await first.access_token() == "ACCESS_TOKEN_2" and fake_wechat.tokens_issued == 2


async def test_bad_app_secret_is_a_clear_error(services: Services, options: WechatOptions) -> None:
    api = WechatApi(services, options.model_copy(update={"app_secret": SecretStr("wrong")}))
    with pytest.raises(Exception, match="40125"):
        await api.access_token()


async def test_customer_service_message_within_48_hours(services: Services, options: WechatOptions,
                                                       fake_wechat: FakeWechat) -> None:
    code = await _case(services)
    result = await WechatSender(services, options).send(_notice(code))
    assert result.ok and result.provider_ref == "custom"
    assert fake_wechat.sent("custom") == [{"touser": OPENID, "msgtype": "text",
                                           "text": {"content": f"关于 {code}：窗口已调整上班时间。"}}]
    async with services.store.read() as session:
        out = (await session.execute(select(Message).where(Message.direction == "out"))).scalar_one()
    assert out.channel == "wechat" and out.extra["via"] == "custom"


async def test_40001_fetches_a_new_token_and_sends_once_more(services: Services, options: WechatOptions,
                                                              fake_wechat: FakeWechat) -> None:
    code = await _case(services)
    await WechatApi(services, options).access_token()
    fake_wechat.fail["/cgi-bin/message/custom/send"] = [40001]  # e.g. the token was reset in the back office
    result = await WechatSender(services, options).send(_notice(code))
    assert result.ok and fake_wechat.tokens_issued == 2
    tokens = [c["token"] for c in fake_wechat.calls if c["path"].endswith("custom/send")]
    assert tokens == ["ACCESS_TOKEN_1", "ACCESS_TOKEN_2"]


async def test_45015_and_an_old_conversation_go_by_template(services: Services, options: WechatOptions,
                                                             fake_wechat: FakeWechat) -> None:
    code = await _case(services)
    fake_wechat.fail["/cgi-bin/message/custom/send"] = [45015]
    result = await WechatSender(services, options).send(_notice(code))
    assert result.ok and result.provider_ref == "template:200228332"
    [body] = fake_wechat.sent("template")
    assert body["touser"] == OPENID and body["template_id"] == "TPL-status-notice"
    assert body["data"]["keyword1"]["value"] == code and body["data"]["keyword2"]["value"] == "已分类"
    old = await _case(services, at=NOW - timedelta(hours=49), text="旧事 #time_limited")
    fake_wechat.calls.clear()
    # the newer message of the same OpenID above keeps the window open: custom again
    assert (await WechatSender(services, options).send(_notice(old, outbox_id=2, case_id=2))).ok
    assert [c["path"] for c in fake_wechat.calls][-1] == "/cgi-bin/message/custom/send"


async def test_outside_the_window_without_template_fails_for_good(services: Services, options: WechatOptions,
                                                                   fake_wechat: FakeWechat,
                                                                   frozen: time_machine.Coordinates) -> None:
    code = await _case(services)
    frozen.move_to(NOW + timedelta(hours=49))
    no_template = options.model_copy(update={"template_id": None})
    result = await WechatSender(services, no_template).send(_notice(code))
    assert not result.ok and result.permanent and "48 小时" in (result.error or "")
    with_template = await WechatSender(services, options).send(_notice(code, outbox_id=3))
    assert with_template.ok and fake_wechat.sent("custom") == []


async def test_staff_reply_goes_back_by_wechat(services: Services, options: WechatOptions,
                                               fake_wechat: FakeWechat) -> None:
    code = await _case(services)
    await make_staff(services, "sup", ["supervisor"])
    async with services.store.read() as session:
        user_id = (await session.execute(select(User.id).where(User.username == "sup"))).scalar_one()
    actor = Actor(Principal(user_id, "sup", "督查", frozenset({"supervisor"}), frozenset()))
    for action in ("start_verification", "verify_valid", "rectify"):
        await transition(services, code, action, actor, note="属实" if action == "verify_valid" else None)
    await reply(services, code, actor, "窗口已调整为 8:30 准时开窗。", channel="wechat")
    async with services.store.read() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert row.channel == "wechat" and services.cipher.open(row.recipient_enc) == OPENID
    delivery = OutboxDelivery(services.store, services.cipher, {"wechat": WechatSender(services, options)})
    assert (await delivery.run_once())["sent"] == 1
    [sent] = fake_wechat.sent("custom")
    assert "窗口已调整为 8:30 准时开窗。" in sent["text"]["content"] and code in sent["text"]["content"]


async def test_channel_is_off_until_configured_and_says_so(services: Services, monkeypatch: pytest.MonkeyPatch,
                                                           options: WechatOptions) -> None:
    for name in ("TOKEN", "APP_ID", "APP_SECRET", "AES_KEY"):
        monkeypatch.delenv(f"HCP_WECHAT_{name}", raising=False)
    assert wechat_jobs.senders(services) == {}
    await make_staff(services, "sup", ["supervisor"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "sup") as client:
        page = await client.get("/wechat/status")
        assert page.status_code == 200 and 'id="wechat-off"' in page.text
        assert "HCP_WECHAT_TOKEN" in page.text and "不会进入本系统" in page.text
        app.state.wechat_options = options
        page = await client.get("/wechat/status")
        assert 'id="wechat-on"' in page.text and "安全模式" in page.text
    monkeypatch.setenv("HCP_WECHAT_APP_ID", options.app_id or "")
    monkeypatch.setenv("HCP_WECHAT_APP_SECRET", "x" * 32)
    assert set(wechat_jobs.senders(services)) == {"wechat", "wechat_media"}
    assert httpx  # the API client library under test


async def test_an_unanswered_return_visit_is_told_by_wechat(services: Services, options: WechatOptions,
                                                            fake_wechat: FakeWechat) -> None:
    from gateway.phone.return_visits import record_visit

    code = await _case(services, text="窗口态度差 #time_limited")
    await make_staff(services, "sup", ["supervisor"])
    async with services.store.read() as session:
        user_id = (await session.execute(select(User.id).where(User.username == "sup"))).scalar_one()
    principal = Principal(user_id, "sup", "督查", frozenset({"supervisor"}), frozenset())
    actor = Actor(principal)
    for action in ("start_verification", "verify_valid", "rectify"):
        await transition(services, code, action, actor, note="属实" if action == "verify_valid" else None)
    await reply(services, code, actor, "已整改。", channel="wechat")
    await record_visit(services, code, reached=False, who=principal)
    await record_visit(services, code, reached=True, who=principal, satisfied=True)
    async with services.store.read() as session:
        rows = list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
    assert [(r.channel, r.kind) for r in rows] == [("wechat", "reply"), ("wechat", "return_visit")]
    assert "电话未能接通" in rows[1].body and code in rows[1].body
    assert services.cipher.open(rows[1].recipient_enc) == OPENID


async def test_a_bad_setting_keeps_the_channel_off_and_says_why(services: Services,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCP_WECHAT_TOKEN", "tok")
    monkeypatch.setenv("HCP_WECHAT_APP_ID", "wx0123456789abcdef")
    monkeypatch.setenv("HCP_WECHAT_APP_SECRET", "x" * 32)
    monkeypatch.setenv("HCP_WECHAT_AES_KEY", "too-short")
    assert wechat_jobs.senders(services) == {}
    await make_staff(services, "sup", ["supervisor"])
    app = create_app(services=services, run_workers=False)
    async with signed_in(app, "sup") as client:
        assert (await client.get("/wechat?signature=a&timestamp=1&nonce=1&echostr=1")).status_code == 403
        page = await client.get("/wechat/status")
        assert "配置有误" in page.text and "HCP_WECHAT_AES_KEY: the EncodingAESKey has 43 characters" in page.text
