"""A transcribed slip becomes an ``Intake``: the paper channel's only output to the gateway.

The source reference is the slip serial (``00012345``), so the same slip scanned twice, or
confirmed twice, is one case.  A slip whose code failed its signature check, or whose code could
not be read at all, gets a reference derived from the scan itself (``scan:{sha256 prefix}:{page}:
{slot}``) instead: a forged code must never occupy the serial of a genuine slip, and the same scan
still lands exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from channels.intake import Intake, RawOriginal
from channels.paper.codes import format_serial


def scan_reference(scan_sha256: str, page_index: int, slot: int) -> str:
    """The source reference of a slip known only by where it was scanned."""
    return f"scan:{scan_sha256[:16]}:{page_index + 1}:{slot}"


def source_reference(serial: int | None, *, trusted: bool, scan_sha256: str, page_index: int, slot: int) -> str:
    """The serial for a slip whose code we trust (valid signature or a serial we issued), else the scan's place."""
    if serial is not None and trusted:
        return format_serial(serial)
    return scan_reference(scan_sha256, page_index, slot)


def slip_intake(*, source_ref: str, received_at: datetime, text: str, rating: str | None,
                reasons: Sequence[str] = (), hall: str | None, window: str | None,
                contact: Mapping[str, Any] | None = None, tracking_code: str | None = None,
                image: bytes | None = None, image_type: str = "image/jpeg", subject: str = "意见卡",
                extra: Mapping[str, str | int | float | bool | None] | None = None) -> Intake:
    """Build and validate the intake (``IntakeError`` names each bad field)."""
    fields: dict[str, Any] = {
        "channel": "paper",
        "source_ref": source_ref,
        "received_at": received_at,
        "subject": subject,
        "text": text.strip(),
        "rating": rating or None,
        "reasons": tuple(reasons),
        "hall": hall,
        "window": window,
        "contact": dict(contact or {}),
        "tracking_code": (tracking_code or "").strip().upper() or None,
        "extra": dict(extra or {}),
    }
    if image is not None:
        fields["raw"] = RawOriginal(media_type=image_type, content=image)
    return Intake.build(**fields)
