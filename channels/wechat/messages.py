"""WeChat's message XML → ``Intake``, and the passive reply XML back.

Formats as documented for Official Accounts (接收普通消息 / 被动回复用户消息): every message has
``ToUserName`` (the account), ``FromUserName`` (the citizen's OpenID), ``CreateTime`` (Unix
seconds), ``MsgType`` and ``MsgId``; ``text`` carries ``Content``, ``image`` ``PicUrl`` and
``MediaId``, ``voice`` ``MediaId``, ``Format`` and, with speech recognition on, ``Recognition``.
Events (``MsgType=event``: subscribe, unsubscribe, menu clicks) have no MsgId and are not cases.

WeChat retries a message it got no answer to (up to three times, with the same MsgId), so the
MsgId is the ``source_ref`` and a retry is the same case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import xmltodict

from channels.intake import Attachment, Intake, RawOriginal

MAX_BODY_BYTES = 64 * 1024
KINDS = ("text", "image", "voice")
VOICE_PLACEHOLDER = "（语音留言，未能识别文字，请在公众号后台收听）"
IMAGE_PLACEHOLDER = "（图片）"
_OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


class MessageError(ValueError):
    """XML that is not a WeChat message we can read; the route answers 400."""


@dataclass(frozen=True, slots=True)
class WechatMessage:
    """One message (or event) from a citizen, as plain values."""

    kind: str
    open_id: str
    account: str
    created_at: datetime
    msg_id: str | None = None
    content: str = ""
    media_id: str | None = None
    pic_url: str | None = None
    recognition: str | None = None
    voice_format: str | None = None
    event: str | None = None

    @property
    def is_case(self) -> bool:
        return self.kind in KINDS and self.msg_id is not None


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


def parse(xml: str | bytes) -> WechatMessage:
    """Read one message; ``MessageError`` names what is wrong (never echoing personal data)."""
    if isinstance(xml, bytes):
        if len(xml) > MAX_BODY_BYTES:
            raise MessageError("message too large")
        try:
            xml = xml.decode("utf-8")
        except UnicodeDecodeError:
            raise MessageError("message is not UTF-8") from None
    try:
        document = xmltodict.parse(xml, disable_entities=True)
    except Exception:
        raise MessageError("not well-formed XML") from None
    fields = document.get("xml") if isinstance(document, dict) else None
    if not isinstance(fields, dict):
        raise MessageError("no <xml> root")
    kind = _text(fields, "MsgType").lower()
    open_id = _text(fields, "FromUserName")
    if not kind:
        raise MessageError("MsgType missing")
    if not _OPENID.match(open_id):
        raise MessageError("FromUserName is not an OpenID")
    created = _text(fields, "CreateTime")
    if not created.isdigit():
        raise MessageError("CreateTime is not a number of seconds")
    msg_id = _text(fields, "MsgId") or None
    if msg_id is not None and not msg_id.isdigit():
        raise MessageError("MsgId is not a number")
    if kind in KINDS and msg_id is None:
        raise MessageError(f"a {kind} message without MsgId")
    return WechatMessage(
        kind=kind, open_id=open_id, account=_text(fields, "ToUserName"),
        created_at=datetime.fromtimestamp(int(created), UTC), msg_id=msg_id, content=_text(fields, "Content"),
        media_id=_text(fields, "MediaId") or None, pic_url=_text(fields, "PicUrl") or None,
        recognition=_text(fields, "Recognition") or None, voice_format=_text(fields, "Format") or None,
        event=_text(fields, "Event").lower() or None)


def tracking_code_in(text: str, prefix: str) -> str | None:
    """A tracking code quoted in a message (``JX20261128-0007``, spaces and full-width dash allowed)."""
    match = re.search(rf"({re.escape(prefix)})\s*(\d{{8}})\s*[-－—]\s*(\d{{4}})", text.upper())
    return f"{match.group(1)}{match.group(2)}-{match.group(3)}" if match else None


def to_intake(message: WechatMessage, raw: bytes, *, tracking_prefix: str, thread_code: str | None = None,
              image: Attachment | None = None) -> Intake:
    """The message as an ``Intake`` (``source_ref`` = MsgId).  A quoted tracking code, or else
    ``thread_code`` (the citizen's open case within the thread window), makes it a follow-up; the
    ingest attaches it only when the case's OpenID is the sender's."""
    if not message.is_case:
        raise MessageError(f"a {message.kind} message is not a complaint")
    extra: dict[str, str | int | float | bool | None] = {"msg_type": message.kind}
    if message.kind == "text":
        text = message.content
    elif message.kind == "voice":
        text = message.recognition or VOICE_PLACEHOLDER
        extra.update(media_id=message.media_id, voice_format=message.voice_format,
                     recognized=message.recognition is not None)
    else:
        text = IMAGE_PLACEHOLDER
        extra.update(media_id=message.media_id, pic_url=message.pic_url)
    if not text:
        raise MessageError("an empty text message")
    code = tracking_code_in(text, tracking_prefix) or thread_code
    return Intake.build(
        channel="wechat", source_ref=message.msg_id, received_at=message.created_at, text=text[:50_000],
        contact={"wechat": message.open_id, "preferred_channel": "wechat"}, tracking_code=code,
        attachments=(image,) if image is not None else (), raw=RawOriginal(media_type="application/xml", content=raw),
        extra=extra)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(message: WechatMessage, content: str, *, now: datetime) -> str:
    """A passive text reply (被动回复), to the sender from the account."""
    return (f"<xml><ToUserName>{_cdata(message.open_id)}</ToUserName><FromUserName>{_cdata(message.account)}"
            f"</FromUserName><CreateTime>{int(now.timestamp())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{_cdata(content)}</Content></xml>")


def custom_text(open_id: str, content: str) -> dict[str, Any]:
    """The body of the customer-service message API (客服消息, within 48 hours of the citizen's message)."""
    return {"touser": open_id, "msgtype": "text", "text": {"content": content}}


def template_message(open_id: str, template_id: str, *, code: str, status: str, detail: str,
                     url: str | None = None) -> dict[str, Any]:
    """The body of the template message API (模板消息) for a status notice outside the 48 hours.

    The template is the county's own (registered in the account's back office) with the keywords
    ``first`` (title), ``keyword1`` (受理编号), ``keyword2`` (办理状态), ``remark`` (what to do next).
    Template content is limited, so ``detail`` is cut to 200 characters.
    """
    body: dict[str, Any] = {"touser": open_id, "template_id": template_id, "data": {
        "first": {"value": "您反映的问题有新进展"}, "keyword1": {"value": code}, "keyword2": {"value": status},
        "remark": {"value": detail[:200]}}}
    if url:
        body["url"] = url
    return body
