"""``/wechat``: the echo check, signatures, the replay window, safe mode, and each kind of message
becoming a case exactly once, with the passive reply carrying the tracking code and the deadline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from datetime import timedelta

import httpx
import pytest
import time_machine
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.core.db.models import Attachment, Case, Contact, Message, OutboxMessage
from gateway.core.outbox import OutboxDelivery
from gateway.core.services import Services
from gateway.wechat import jobs as wechat_jobs
from gateway.wechat import spool
from gateway.wechat.options import WechatOptions
from gateway.wechat.sender import MediaSender
from tests.helpers import local
from tests.wechat.conftest import JPEG, FakeWechat
from tests.wechat.samples import (
    AES_KEY,
    OPENID,
    OTHER_OPENID,
    decrypt_reply,
    encrypted,
    image,
    query,
    sign,
    subscribe,
    text,
    voice,
)

NOW = local(2026, 11, 27, 9, 12, 33)  # a Friday morning


@pytest.fixture(autouse=True)
def frozen() -> object:
    with time_machine.travel(NOW, tick=True) as traveller:
        yield traveller


async def _post(client: httpx.AsyncClient, body: bytes, at=NOW, **extra: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return await client.post(f"/wechat?{query(at, **extra)}", content=body, headers={"content-type": "text/xml"})


async def _cases(services: Services) -> list[Case]:
    async with services.store.read() as session:
        return list((await session.execute(select(Case).order_by(Case.id))).scalars())


async def test_echo_check(wechat: httpx.AsyncClient) -> None:
    good = await wechat.get(f"/wechat?{query(NOW, echostr='5837397749160218')}")
    assert good.status_code == 200 and good.text == "5837397749160218"
    forged = await wechat.get(f"/wechat?{query(NOW, token='not-our-token', echostr='5837397749160218')}")
    assert forged.status_code == 403 and "签名校验失败" in forged.text and "5837397749160218" not in forged.text
    stale = await wechat.get(f"/wechat?{query(NOW - timedelta(minutes=6), echostr='1')}")
    assert stale.status_code == 403
    assert (await wechat.get("/wechat?echostr=1")).status_code == 403


async def test_unconfigured_channel_refuses(services: Services, wechat: httpx.AsyncClient) -> None:
    wechat.app.state.wechat_options = WechatOptions(_env_file=None)  # type: ignore[attr-defined,call-arg]
    response = await wechat.get(f"/wechat?{query(NOW, echostr='1')}")
    assert response.status_code == 403 and "未配置微信公众号" in response.text


async def test_text_becomes_one_case_and_the_reply_carries_code_and_deadline(
        services: Services, wechat: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = text("金屯镇大厅社保窗口九点了还没人，排了半小时队 #immediate", 24563450293561234, NOW)
    first = await _post(wechat, body)
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/xml")
    assert f"<ToUserName><![CDATA[{OPENID}]]></ToUserName>" in first.text
    assert "受理编号：JX20261127-0001" in first.text
    assert "立整立改" in first.text and "11月27日（星期五）上午10:12 前答复您" in first.text
    # WeChat retries (no answer within 5 s): the same MsgId is the same case, and the same answer.
    retry = await _post(wechat, body, nonce="99887766")
    assert "JX20261127-0001" in retry.text
    cases = await _cases(services)
    assert len(cases) == 1 and cases[0].channel == "wechat" and cases[0].reply_channel == "wechat"
    async with services.store.read() as session:
        contact = (await session.execute(select(Contact))).scalar_one()
        message = (await session.execute(select(Message))).scalar_one()
    assert services.cipher.open(contact.wechat_enc) == OPENID and OPENID.encode() not in contact.wechat_enc
    assert contact.wechat_hash == services.cipher.search_hash(OPENID)
    assert message.source_ref == "24563450293561234" and message.extra["msg_type"] == "text"
    # only the test's own HTTP client (httpx) logs the URL; nothing of the gateway does
    assert [r.name for r in caplog.records if OPENID in r.getMessage() and r.name != "httpx"] == []


def test_access_log_lines_lose_the_openid() -> None:
    from gateway.wechat.routes import OpenIdScrubber

    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "POST", f"/wechat?signature=abc&openid={OPENID}&nonce=1", "1.1", 200),
                               None)
    OpenIdScrubber().filter(record)
    assert OPENID not in record.getMessage() and "openid=***&nonce=1" in record.getMessage()


async def test_follow_ups_by_code_and_by_thread_window_but_not_from_a_stranger(
        services: Services, wechat: httpx.AsyncClient, frozen: time_machine.Coordinates) -> None:
    await _post(wechat, text("窗口工作人员态度差 #time_limited", 1001, NOW))
    later = NOW + timedelta(minutes=3)
    frozen.move_to(later)
    joined = await _post(wechat, text("补充：是下午两点左右", 1002, later), at=later)
    assert "已并入受理编号 JX20261127-0001" in joined.text
    stranger = await _post(wechat, text("我也要投诉 JX20261127-0001", 1003, later, openid=OTHER_OPENID), at=later)
    assert "JX20261127-0002" in stranger.text  # quoting somebody else's code opens a case of one's own
    much_later = NOW + timedelta(days=5)
    frozen.move_to(much_later)
    quoted = await _post(wechat, text("请问 jx20261127 － 0001 办得怎么样了", 1004, much_later), at=much_later)
    assert "已并入受理编号 JX20261127-0001" in quoted.text
    after_window = much_later + timedelta(hours=49)
    frozen.move_to(after_window)
    fresh = await _post(wechat, text("另一件事：大厅没有饮水机 #time_limited", 1005, after_window), at=after_window)
    assert "JX20261204-0001" in fresh.text  # beyond the 48-hour thread window: a new case
    async with services.store.read() as session:
        per_case = [(m.case_id, m.source_ref) for m in (await session.execute(select(Message).order_by(Message.id)))
                    .scalars()]
    assert per_case == [(1, "1001"), (1, "1002"), (2, "1003"), (1, "1004"), (3, "1005")]


async def test_voice_uses_recognition_or_asks_a_person(services: Services, wechat: httpx.AsyncClient) -> None:
    heard = await _post(wechat, voice(2001, NOW, "大厅空调坏了很冷"))
    assert "受理编号" in heard.text
    await _post(wechat, voice(2002, NOW + timedelta(seconds=1), None), at=NOW)
    cases = await _cases(services)
    assert [c.text for c in cases] == ["大厅空调坏了很冷", "（语音留言，未能识别文字，请在公众号后台收听）"]
    assert [c.needs_review for c in cases] == [False, True]  # somebody must listen to the second


async def test_image_is_downloaded_into_the_attachments(services: Services, wechat: httpx.AsyncClient,
                                                        options: WechatOptions, fake_wechat: FakeWechat) -> None:
    response = await _post(wechat, image(3001, NOW))
    assert "受理编号" in response.text and "尽快确认问题类别" in response.text
    assert [c.needs_review for c in await _cases(services)] == [True]
    await _post(wechat, image(3001, NOW), nonce="2")  # WeChat's retry: one case, one download
    async with services.store.read() as session:
        jobs = list((await session.execute(select(OutboxMessage))).scalars())
    assert [(j.channel, j.payload["media_id"]) for j in jobs] == [("wechat_media", "Hk3r9sVbQ0mXG7w_pic1")]
    delivery = OutboxDelivery(services.store, services.cipher, {"wechat_media": MediaSender(services, options)})
    assert (await delivery.run_once())["sent"] == 1
    async with services.store.read() as session:
        attachment = (await session.execute(select(Attachment))).scalar_one()
    assert attachment.media_type == "image/jpeg" and attachment.size == len(JPEG) and attachment.rejected is None
    assert [c["path"] for c in fake_wechat.calls] == ["/cgi-bin/token", "/cgi-bin/media/get"]


async def test_expired_media_fails_for_good(services: Services, wechat: httpx.AsyncClient, options: WechatOptions,
                                            fake_wechat: FakeWechat) -> None:
    await _post(wechat, image(3002, NOW))
    fake_wechat.fail["/cgi-bin/media/get"] = [40007]
    delivery = OutboxDelivery(services.store, services.cipher, {"wechat_media": MediaSender(services, options)})
    assert (await delivery.run_once())["failed"] == 1
    async with services.store.read() as session:
        job = (await session.execute(select(OutboxMessage))).scalar_one()
    assert "40007" in job.last_error


async def test_safe_mode_round_trip_and_its_errors(services: Services, wechat: httpx.AsyncClient) -> None:
    params, body = encrypted(text("取号机坏了 #immediate", 4001, NOW), NOW)
    response = await wechat.post(f"/wechat?{params}", content=body)
    assert response.status_code == 200 and "<Encrypt>" in response.text and "受理编号" not in response.text
    assert "受理编号：JX20261127-0001" in decrypt_reply(response.text, NOW)
    # a body signed for another body (msg_signature does not match)
    _, other = encrypted(text("别的内容", 4002, NOW), NOW)
    assert (await wechat.post(f"/wechat?{params}", content=other)).status_code == 403
    # encrypted with another EncodingAESKey: the signature holds but the body does not open
    wrong_key = "A" * 42 + "E"
    params2, body2 = encrypted(text("x", 4003, NOW), NOW, key=wrong_key)
    bad = await wechat.post(f"/wechat?{params2}", content=body2)
    assert bad.status_code == 400 and "无法解密" in bad.text
    assert len(await _cases(services)) == 1
    assert AES_KEY  # the key under test


async def test_bad_signature_replay_and_junk_are_refused(services: Services, wechat: httpx.AsyncClient) -> None:
    body = text("投诉 #immediate", 5001, NOW)
    forged = await wechat.post(f"/wechat?{query(NOW, token='guess')}", content=body)
    assert forged.status_code == 403
    replay = await _post(wechat, body, at=NOW - timedelta(minutes=10))
    assert replay.status_code == 403
    tampered = query(NOW).replace(f"signature={sign('x')[:4]}", "") + "&nonce=other"
    assert (await wechat.post(f"/wechat?{tampered}", content=body)).status_code == 403
    junk = await _post(wechat, b"<xml><ToUserName>")
    assert junk.status_code == 400 and "无法读取" in junk.text
    entity = await _post(wechat, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "AAAA">]><xml><Content>&a;</Content>'
                                 b"</xml>")
    assert entity.status_code == 400  # entities are never expanded
    huge = await _post(wechat, b"<xml>" + b"a" * 70_000 + b"</xml>")
    assert huge.status_code == 413
    assert await _cases(services) == []


async def test_subscribe_gets_a_welcome_and_no_case(services: Services, wechat: httpx.AsyncClient) -> None:
    response = await _post(wechat, subscribe(NOW))
    assert "欢迎关注" in response.text and await _cases(services) == []


class _Slow:
    """A triage that takes longer than WeChat waits."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    async def classify_async(self, text: str, **kwargs: object) -> object:
        await asyncio.sleep(0.3)
        return self.inner.classify(text, **kwargs)  # type: ignore[attr-defined]


async def test_a_slow_answer_goes_by_customer_service_message(services: Services, wechat: httpx.AsyncClient,
                                                              options: WechatOptions) -> None:
    services.ingestor.classifier = _Slow(services.ingestor.classifier)
    wechat.app.state.wechat_options = options.model_copy(update={"reply_seconds": 0.05})  # type: ignore[attr-defined]
    response = await _post(wechat, text("窗口没人 #immediate", 6001, NOW))
    assert response.status_code == 200 and response.text == "success"
    for _ in range(100):
        await asyncio.sleep(0.02)
        async with services.store.read() as session:
            row = (await session.execute(select(OutboxMessage))).scalar_one_or_none()
        if row is not None:
            break
    assert row is not None and row.channel == "wechat" and row.kind == "acknowledgement"
    assert "受理编号：JX20261127-0001" in row.body and services.cipher.open(row.recipient_enc) == OPENID
    for _ in range(50):  # stored and acknowledged: the copy kept on disk goes
        if not list(spool.spool_dir(services.settings).glob("*")):
            break
        await asyncio.sleep(0.02)
    assert list(spool.spool_dir(services.settings).glob("*")) == []


async def test_a_slow_message_is_on_disk_before_success_and_stored_once_after_a_crash(
        services: Services, wechat: httpx.AsyncClient, options: WechatOptions) -> None:
    """Answered "success" (WeChat will not send it again), then the process dies before storing:
    the sealed copy on disk is stored by the wechat-spool job, once, and acknowledged."""
    never = asyncio.Event()

    class _Stuck:
        async def classify_async(self, text: str, **kwargs: object) -> object:
            await never.wait()  # the process "dies" here: the message is never stored by the request

    services.ingestor.classifier = _Stuck()
    wechat.app.state.wechat_options = options.model_copy(update={"reply_seconds": 0.05})  # type: ignore[attr-defined]
    body = text("大厅空调坏了，热得待不住 #immediate", 6101, NOW)
    response = await _post(wechat, body, NOW)
    assert response.status_code == 200 and response.text == "success"
    [kept] = list(spool.spool_dir(services.settings).glob("*.msg"))
    assert OPENID.encode() not in kept.read_bytes() and "空调".encode() not in kept.read_bytes()
    assert await _cases(services) == []
    for task in list(wechat.app.state.wechat_tasks):  # type: ignore[attr-defined]
        task.cancel()

    from tests.helpers import FixedClassifier

    services.ingestor.classifier = FixedClassifier()
    [job] = wechat_jobs.jobs(services, options)
    assert job.name == "wechat-spool"
    os.utime(kept, (time.time(), time.time()))  # (the test's clock is frozen; the file's is not)
    assert (await job.run())["stored"] == 0  # younger than a minute: the request may still store it
    old = time.time() - 120
    os.utime(kept, (old, old))
    assert (await job.run()) == {"stored": 1, "waiting": 0}
    assert (await job.run()) == {"stored": 0, "waiting": 0}
    [case] = await _cases(services)
    async with services.store.read() as session:
        acks = list((await session.execute(select(OutboxMessage).where(OutboxMessage.kind == "acknowledgement")))
                    .scalars())
    assert len(acks) == 1 and case.code in acks[0].body
    assert list(spool.spool_dir(services.settings).glob("*")) == []
    # WeChat never re-sends it; if the same message came again anyway, it would still be one case
    again = await _post(wechat, body, NOW)
    assert again.status_code == 200 and len(await _cases(services)) == 1


async def test_case_page_shows_the_openid_masked(services: Services, wechat: httpx.AsyncClient) -> None:
    from tests.staff import make_staff, signed_in

    await _post(wechat, text("窗口没人 #immediate", 7001, NOW))
    await make_staff(services, "sup", ["supervisor"])
    async with signed_in(wechat.app, "sup") as client:  # type: ignore[attr-defined]
        page = await client.get("/cases/JX20261127-0001")
        assert page.status_code == 200 and "公众号用户 oQx1****rE7" in page.text and OPENID not in page.text
        assert "<dt>答复方式</dt><dd>微信公众号消息</dd>" in page.text  # answered the way they came
        status = await client.get("/wechat/status")
        assert "收到的消息</th><td>1 条" in status.text


@given(st.binary(max_size=2000))
def test_the_parser_refuses_junk_with_its_own_error(data: bytes) -> None:
    from channels.wechat.messages import MessageError, parse

    with contextlib.suppress(MessageError):
        parse(data)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=300),
       st.integers(min_value=1, max_value=2**63 - 1))
def test_any_text_round_trips_through_the_message_and_the_reply(content: str, msg_id: int) -> None:
    from channels.wechat.messages import parse, text_reply

    xml = (f"<xml><ToUserName>gh_8a3f5b2c1d9e</ToUserName><FromUserName>{OPENID}</FromUserName>"
           f"<CreateTime>1764209553</CreateTime><MsgType>text</MsgType>"
           f"<Content><![CDATA[{content.replace(']]>', '')}]]></Content><MsgId>{msg_id}</MsgId></xml>").encode()
    message = parse(xml)
    assert message.msg_id == str(msg_id) and message.open_id == OPENID
    assert message.content == content.replace("]]>", "").strip()
    reply = parse(text_reply(message, content, now=NOW).replace("</xml>", "<MsgId>1</MsgId></xml>"))
    assert reply.content == content.strip() and reply.open_id == "gh_8a3f5b2c1d9e" and reply.account == OPENID


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_signature_is_order_free_and_bound_to_every_part(token: str, nonce: str) -> None:
    import time

    from channels.wechat.signing import SignatureError, check, signature

    stamp = str(int(time.time()))
    good = signature(token, stamp, nonce)
    assert good == signature(nonce, token, stamp)
    assert check(token, good, stamp, nonce[:64], now=int(stamp)) == int(stamp) or len(nonce) > 64
    with pytest.raises(SignatureError):
        check(token + "x", good, stamp, nonce, now=int(stamp))


async def test_a_slow_message_that_cannot_be_kept_on_disk_is_not_answered_success(
        services: Services, wechat: httpx.AsyncClient, options: WechatOptions,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Disk full: WeChat must send the message again, so it gets 503, not "success"."""
    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    services.ingestor.classifier = _Slow(services.ingestor.classifier)
    monkeypatch.setattr(spool, "write", full)
    wechat.app.state.wechat_options = options.model_copy(update={"reply_seconds": 0.05})  # type: ignore[attr-defined]
    response = await _post(wechat, text("窗口没人 #immediate", 6201, NOW))
    assert response.status_code == 503 and response.text != "success"
    assert list(spool.spool_dir(services.settings).glob("*.msg")) == []
