"""Messages as WeChat's server sends them to an Official Account's URL, written from WeChat's
documented formats (接收普通消息, 接收事件推送, 消息加解密): CDATA everywhere, ``CreateTime`` in Unix
seconds, a 64-bit ``MsgId``; safe mode wraps the message in ``<Encrypt>`` and signs it with
``msg_signature``; the query string carries ``signature``, ``timestamp``, ``nonce`` and ``openid``."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from urllib.parse import urlencode

from wechatpy.crypto import WeChatCrypto

ACCOUNT = "gh_8a3f5b2c1d9e"
OPENID = "oQx1a5Kk3vTbN2mWq8Yz_Pd4LrE7"
OTHER_OPENID = "oQx1a5Kk3vTbN2mWq8Yz_Zz9ZzZ9"
TOKEN = "hcpWechatToken2026"
AES_KEY = base64.b64encode(hashlib.sha256(b"hcp test key").digest()).decode().rstrip("=")
APP_ID = "wx0123456789abcdef"
APP_SECRET = "0123456789abcdef0123456789abcdef"


def text(content: str, msg_id: int, at: datetime, openid: str = OPENID) -> bytes:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>\n<FromUserName><![CDATA[{openid}]]></FromUserName>\n"
            f"<CreateTime>{int(at.timestamp())}</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n"
            f"<Content><![CDATA[{content}]]></Content>\n<MsgId>{msg_id}</MsgId>\n</xml>").encode()


def image(msg_id: int, at: datetime, media_id: str = "Hk3r9sVbQ0mXG7w_pic1") -> bytes:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
            f"<CreateTime>{int(at.timestamp())}</CreateTime><MsgType><![CDATA[image]]></MsgType>"
            f"<PicUrl><![CDATA[http://mmbiz.qpic.cn/mmbiz_jpg/abc/0]]></PicUrl>"
            f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>{msg_id}</MsgId></xml>").encode()


def voice(msg_id: int, at: datetime, recognition: str | None) -> bytes:
    heard = f"<Recognition><![CDATA[{recognition}]]></Recognition>" if recognition is not None else ""
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
            f"<CreateTime>{int(at.timestamp())}</CreateTime><MsgType><![CDATA[voice]]></MsgType>"
            f"<MediaId><![CDATA[Vc8mediaId_voice]]></MediaId><Format><![CDATA[amr]]></Format>{heard}"
            f"<MsgId>{msg_id}</MsgId></xml>").encode()


def subscribe(at: datetime) -> bytes:
    return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{OPENID}]]></FromUserName>"
            f"<CreateTime>{int(at.timestamp())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[subscribe]]></Event></xml>").encode()


def sign(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def query(at: datetime, nonce: str = "1405286823", *, token: str = TOKEN, **extra: str) -> str:
    timestamp = str(int(at.timestamp()))
    params = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
              "openid": OPENID, **extra}
    return urlencode(params)


def encrypted(xml: bytes, at: datetime, nonce: str = "1320562132", *, key: str = AES_KEY,
              token: str = TOKEN) -> tuple[str, bytes]:
    """The query string and body of a safe-mode request, made with wechatpy as WeChat makes them."""
    timestamp = str(int(at.timestamp()))
    envelope = WeChatCrypto(token, key, APP_ID).encrypt_message(xml.decode(), nonce, timestamp)
    import xmltodict

    fields = xmltodict.parse(envelope)["xml"]
    body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{fields['Encrypt']}]]>"
            f"</Encrypt></xml>").encode()
    params = {"signature": sign(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
              "openid": OPENID, "encrypt_type": "aes", "msg_signature": fields["MsgSignature"]}
    return urlencode(params), body


def decrypt_reply(reply: str, at: datetime) -> str:
    import xmltodict

    fields = xmltodict.parse(reply)["xml"]
    return WeChatCrypto(TOKEN, AES_KEY, APP_ID).decrypt_message(
        reply.encode(), fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
