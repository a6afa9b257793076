"""Every code the paper feature prints: slip ids with their HMAC signature, and the window posters' links.

A slip's QR code carries ``S5:{hall}:{window}:{serial}:{signature}`` — the slip size (``S5`` for A5,
``S6`` for A6, so the mark reader knows where the boxes are), hall and window codes, the serial (a
positive integer unique across print runs; the gateway allocates and records the ranges) and a
truncated HMAC-SHA256 of them all, so a copied code is caught as a duplicate serial and a
forged or altered one fails its signature.  Fifty bits of signature is plenty for paper: a forger
cannot test guesses offline, and every wrong guess is a flagged slip in the mailroom.

Codes are always full QR (``segno.make_qr``): ``segno.make`` silently picks Micro QR for short
data, and zbar cannot read Micro QR.  The version is the smallest that holds the payload at error
level M (version 3, 29 modules, for the registry's codes) and the printed size is fixed at
``QR_SIZE_MM`` whatever the version, so one figure describes every slip we print.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

import segno

from channels.web.links import window_url

SIZES = {"a5": "S5", "a6": "S6"}
SIGNATURE_CHARS = 10  # 50 bits of base32
QR_SIZE_MM = 20.0  # printed width of the slip's QR symbol, quiet zone excluded
QR_ERROR = "m"
MIN_VERSION = 3
SERIAL_DIGITS = 8
MAX_SERIAL = 10**12 - 1
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_SERIAL_TEXT = re.compile(r"^\s*(?:no\.?|编号[:：]?)?\s*0*(\d{1,12})\s*$", re.IGNORECASE)
_PAYLOAD = re.compile(
    rf"^S(?P<size>[56]):(?P<hall>[a-z0-9][a-z0-9_-]{{0,31}}):(?P<window>(?:[a-z0-9][a-z0-9_-]{{0,31}})?)"
    rf":(?P<serial>[1-9][0-9]{{0,11}}):(?P<sig>[a-z2-7]{{{SIGNATURE_CHARS}}})$")


class SlipCodeError(ValueError):
    """A hall, window or serial that cannot be printed on a slip."""


@dataclass(frozen=True, slots=True)
class SlipCode:
    """What a slip's QR code says: where the slip was handed out and its serial."""

    size: str
    hall: str
    window: str | None
    serial: int
    signature: str

    @property
    def serial_text(self) -> str:
        return format_serial(self.serial)

    @property
    def payload(self) -> str:
        return f"{SIZES[self.size]}:{self.hall}:{self.window or ''}:{self.serial}:{self.signature}"


def format_serial(serial: int) -> str:
    """The printed and stored form of a serial: at least eight digits, zero-padded (``00012345``)."""
    return f"{serial:0{SERIAL_DIGITS}d}"


def parse_serial(text: str) -> int:
    """Read a serial typed by staff (``12345``, ``00012345``, ``No.00012345``); raise ``SlipCodeError``."""
    match = _SERIAL_TEXT.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise SlipCodeError(f"{text!r} is not a slip serial (digits as printed under the QR code)")
    return int(match.group(1))


def _check(size: str, hall: str, window: str | None, serial: int) -> None:
    if size not in SIZES:
        raise SlipCodeError(f"slip size {size!r} must be one of {', '.join(SIZES)}")
    if not _CODE.match(hall):
        raise SlipCodeError(f"hall code {hall!r} must be 1–32 lower-case letters, digits, '-' or '_'")
    if window is not None and not _CODE.match(window):
        raise SlipCodeError(f"window code {window!r} must be 1–32 lower-case letters, digits, '-' or '_'")
    if not 1 <= serial <= MAX_SERIAL:
        raise SlipCodeError(f"serial {serial} is outside 1…{MAX_SERIAL}")


def slip_signature(key: bytes, size: str, hall: str, window: str | None, serial: int) -> str:
    _check(size, hall, window, serial)
    message = f"paper-slip:v1:{size}:{hall}:{window or ''}:{serial}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest[:8]).decode().lower()[:SIGNATURE_CHARS]


def sign_slip(key: bytes, size: str, hall: str, window: str | None, serial: int) -> SlipCode:
    """The code to print on slip ``serial`` of ``hall`` / ``window``."""
    return SlipCode(size, hall, window or None, serial, slip_signature(key, size, hall, window or None, serial))


def parse_payload(payload: str) -> SlipCode | None:
    """The slip code in a decoded QR payload, or ``None`` when the payload is not one of our slips."""
    match = _PAYLOAD.match(payload.strip())
    if match is None:
        return None
    return SlipCode(f"a{match['size']}", match["hall"], match["window"] or None, int(match["serial"]), match["sig"])


def verify(key: bytes, code: SlipCode) -> bool:
    """Constant-time signature check; a copied code passes (the serial catches it), a forged one fails."""
    try:
        expected = slip_signature(key, code.size, code.hall, code.window, code.serial)
    except SlipCodeError:
        return False
    return hmac.compare_digest(expected, code.signature)


def make_qr(data: str, *, error: str = QR_ERROR, min_version: int | None = MIN_VERSION) -> segno.QRCode:
    """A full QR code (never Micro QR) of at least ``min_version``, so zbar can read it."""
    qr = segno.make_qr(data, error=error, boost_error=False)
    if min_version is not None and qr.version < min_version:
        qr = segno.make_qr(data, error=error, boost_error=False, version=min_version)
    if qr.is_micro:  # pragma: no cover - make_qr never makes Micro QR; guard the promise anyway
        raise SlipCodeError("refusing to print a Micro QR code")
    return qr


def slip_qr(code: SlipCode) -> segno.QRCode:
    return make_qr(code.payload)


def poster_url(public_url: str, key: bytes, hall: str, window: str) -> str:
    """The signed 找茬窗口 link a window poster prints (channels/web/links.py owns its format)."""
    return window_url(public_url, key, hall, window)


def poster_qr(url: str) -> segno.QRCode:
    return make_qr(url, error="m", min_version=None)
