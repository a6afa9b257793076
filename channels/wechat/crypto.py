"""Safe mode (安全模式): the message body AES-256-CBC encrypted with the account's EncodingAESKey.

The envelope is ``<xml><ToUserName/><Encrypt>…</Encrypt></xml>`` signed by ``msg_signature``; the
plaintext is 16 random bytes, a 4-byte length, the message XML and the app id.  wechatpy implements
the cipher (on the ``cryptography`` package); this module adds the checks and errors we need.
"""

from __future__ import annotations

import base64
import binascii

import xmltodict
from wechatpy.crypto import PrpCrypto
from wechatpy.exceptions import InvalidAppIdException

from channels.wechat.signing import SignatureError, check, signature


class CryptoError(ValueError):
    """A safe-mode body that cannot be opened: bad key, bad padding, wrong app id, no ``Encrypt``."""


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key behind the 43-character EncodingAESKey; ``ValueError`` for anything else."""
    text = encoding_aes_key.strip()
    if len(text) != 43:
        raise ValueError("the EncodingAESKey has 43 characters")
    try:
        key = base64.b64decode(text + "=", validate=True)
    except binascii.Error:
        raise ValueError("the EncodingAESKey is not base64") from None
    if len(key) != 32:
        raise ValueError("the EncodingAESKey does not decode to 32 bytes")
    return key


def open_envelope(body: bytes, *, token: str, key: bytes, app_id: str, msg_signature: str | None,
                  timestamp: str | None, nonce: str | None, now: float, window: int) -> str:
    """The plaintext XML inside a safe-mode envelope, after checking ``msg_signature`` and the window."""
    try:
        envelope = xmltodict.parse(body.decode("utf-8"))["xml"]
        encrypted = envelope["Encrypt"]
    except Exception:
        raise CryptoError("not a safe-mode envelope (no <Encrypt>)") from None
    if not isinstance(encrypted, str) or not encrypted:
        raise CryptoError("empty <Encrypt>")
    check(token, msg_signature, timestamp, nonce, now=now, window=window, body=encrypted)
    try:
        plain = PrpCrypto(key).decrypt(encrypted, app_id)
    except InvalidAppIdException:
        raise CryptoError("the message is for another app id") from None
    except Exception as exc:  # bad base64, bad padding, short plaintext
        raise CryptoError(f"cannot decrypt ({type(exc).__name__})") from None
    return plain if isinstance(plain, str) else plain.decode("utf-8")


def seal_reply(xml: str, *, token: str, key: bytes, app_id: str, nonce: str, timestamp: str) -> str:
    """A passive reply in the safe-mode envelope WeChat expects back."""
    encrypted = PrpCrypto(key).encrypt(xml, app_id)
    encrypted = encrypted if isinstance(encrypted, str) else encrypted.decode("ascii")
    sign = signature(token, timestamp, nonce, encrypted)
    return (f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt><MsgSignature><![CDATA[{sign}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>")


__all__ = ["CryptoError", "SignatureError", "aes_key", "open_envelope", "seal_reply"]
