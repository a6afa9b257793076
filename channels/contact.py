"""Citizen contact values: normalisation of phone numbers and e-mail addresses, and masking.

Every channel meets the same phone number in different spellings (``+86 138 1234 5678``,
``0537-6851890``, ``(0537)6851890``).  Normalising once, here, lets the hotline find a caller's
earlier cases whatever channel they used, and masking here keeps lists from leaking personal data.
"""

from __future__ import annotations

import re

_PHONE_JUNK = re.compile(r"[\s\-().（）－—_]+")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_FIXED_WITH_AREA = re.compile(r"^(0\d{2,3})(\d{7,8})$")
_LOCAL = re.compile(r"^[2-9]\d{6,7}$")
_SERVICE = re.compile(r"^(1\d{4}|400\d{7}|800\d{7})$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
_FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９＋", "0123456789+")


def normalize_phone(raw: str) -> str:
    """Return the canonical form of a Chinese phone number or raise ``ValueError`` saying why.

    Mobiles become 11 digits (``13812345678``); fixed lines with an area code become
    ``0537-6851890``; a bare local number (7–8 digits) and short service numbers stay digits.
    """
    text = raw.translate(_FULLWIDTH_DIGITS).strip()
    text = _PHONE_JUNK.sub("", text)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if not text.isdigit():
        raise ValueError(f"phone number {mask_phone(raw)!r} contains characters other than digits")
    if _MOBILE.match(text):
        return text
    if text.startswith("0") and (match := _FIXED_WITH_AREA.match(text)):
        return f"{match.group(1)}-{match.group(2)}"
    if not text.startswith("0") and len(text) >= 9 and (match := _FIXED_WITH_AREA.match("0" + text)):
        # "+86 537 6851890": the trunk prefix 0 is dropped in international form.
        return f"{match.group(1)}-{match.group(2)}"
    if _LOCAL.match(text) or _SERVICE.match(text):
        return text
    raise ValueError("phone number is neither a mobile (11 digits starting with 1), "
                     "a fixed line with area code (0537-6851890) nor a local number")


def normalize_email(raw: str) -> str:
    """Lower-case, strip spaces, and check the shape; raise ``ValueError`` if wrong.

    The local part is lower-cased too: the mail services citizens use (QQ, 163, 126, Sina, Outlook)
    treat it case-insensitively, and one spelling per address keeps the search hash stable.
    """
    text = raw.strip()
    if not _EMAIL.match(text):
        raise ValueError("e-mail address is not of the form name@domain")
    return text.lower()


def mask_phone(value: str | None) -> str:
    """``13812345678`` → ``138****5678``; fixed lines keep the area code and the last four."""
    if not value:
        return ""
    digits = value.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if "-" in digits:
        area, _, number = digits.partition("-")
        return f"{area}-{'*' * max(len(number) - 4, 0)}{number[-4:]}"
    keep_head = 3 if len(digits) >= 11 else 0
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]


def mask_name(value: str | None) -> str:
    """``王小明`` → ``王**``; Latin names keep the first letter only."""
    if not value:
        return ""
    text = value.strip()
    return text[0] + "*" * max(len(text) - 1, 1)


def mask_email(value: str | None) -> str:
    """``wang.xm@163.com`` → ``w***@163.com``."""
    if not value:
        return ""
    local, sep, domain = value.partition("@")
    if not sep:
        return mask_name(value)
    return f"{local[:1]}***@{domain}"


def mask_openid(value: str | None) -> str:
    """A WeChat OpenID (28 characters) → ``oQx1****rE7``: enough to tell two senders apart on a page."""
    if not value:
        return ""
    text = value.strip()
    return text[:4] + "****" + text[-3:] if len(text) > 8 else "*" * len(text)
