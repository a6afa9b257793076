"""Caller numbers as the hotline meets them: exchange CDRs, Twilio's E.164, an operator's typing.

``channels.contact.normalize_phone`` gives the canonical spelling used everywhere (and hashed for
search).  The exchange adds its own habits on top: a trunk ``0`` before a mobile number dialled
from another area (``013812345678``), a bare 7–8 digit local number without the area code, an
``anonymous`` or empty caller id.  This module folds those into the canonical form so that the
caller's earlier cases are found whichever way the number arrived.
"""

from __future__ import annotations

import re

from channels.contact import normalize_phone

DEFAULT_AREA_CODE = "0537"  # Jining (嘉祥县)
_HIDDEN = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable", "blocked",
                     "+266696687", "266696687", "<unknown>", "null"})
_TRUNK_MOBILE = re.compile(r"^01[3-9]\d{9}$")
_LOCAL = re.compile(r"^[2-9]\d{6,7}$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_AREA = re.compile(r"^0\d{2,3}$")


class CallerNumberError(ValueError):
    """A caller id that is present but is not a telephone number we could call back."""


def is_hidden(raw: str | None) -> bool:
    """Whether the exchange withheld the caller id (anonymous, restricted, Twilio's 266696687)."""
    return raw is None or raw.strip().strip('"').lower() in _HIDDEN


def normalize_caller(raw: str | None, *, area_code: str = DEFAULT_AREA_CODE) -> str | None:
    """The canonical number of a caller, ``None`` when the caller id is withheld.

    Raises ``CallerNumberError`` for an id that is not a callable number (an internal extension
    such as ``8001``, letters).  Local 7–8 digit numbers get ``area_code`` (the exchange's own area).
    """
    if is_hidden(raw):
        return None
    assert raw is not None
    text = re.sub(r"[\s\-().（）－—_]+", "", raw.strip().strip('"'))
    if _TRUNK_MOBILE.match(text):
        text = text[1:]
    if _LOCAL.match(text):
        if not _AREA.match(area_code):
            raise CallerNumberError(f"area code {area_code!r} is not of the form 0537")
        text = area_code + text
    try:
        return normalize_phone(text)
    except ValueError as exc:
        raise CallerNumberError(str(exc)) from None


def is_mobile(phone: str | None) -> bool:
    """A canonical number that can receive SMS (Chinese mobiles only)."""
    return bool(phone) and bool(_MOBILE.match(phone or ""))


def to_e164(phone: str) -> str:
    """``13812345678`` → ``+8613812345678``; ``0537-6851890`` → ``+865376851890`` (Twilio's form)."""
    canonical = normalize_phone(phone)
    if _MOBILE.match(canonical):
        return "+86" + canonical
    if "-" in canonical:
        area, _, number = canonical.partition("-")
        return "+86" + area[1:] + number
    raise ValueError("only mobile numbers and fixed lines with an area code have an international form")
