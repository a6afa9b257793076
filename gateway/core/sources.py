"""Evaluation sources (评价来源) as the county rules name them, derived once at ingest.

The rules tell the ways an evaluation arrives apart (一次一评 at the window, 一事一评 online, the
找茬窗口, the 意见箱, the hotline, e-mail, the 监督平台); a channel alone cannot (a web post is a
window QR evaluation, an online 办件 evaluation, a 找茬窗口 complaint or a 监督平台 report).  The
gateway records the source on the case (``cases.source``) from the channel and what the adapter put
in the intake's ``extra``, and reports, the public page and the upstream push read it from there.

A channel added later needs no code here: its source is its own channel code until a rule below
says otherwise, and its Chinese name goes into ``gateway.core.labels.SOURCE_LABELS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ONCE = "once"                # 一次一评: window QR code or hall terminal, after the service
MATTER = "matter"            # 一事一评: the evaluation of one 办件 reported through the inbound API
COMPLAINT = "complaint"      # 找茬窗口: the general web form
BOX = "box"                  # 意见箱: paper slips, or the QR code on the box
HOTLINE = "hotline"          # 热线
EMAIL = "email"              # 电子邮箱
SUPERVISION = "supervision"  # 监督平台: the general form reached through /f?src=supervision

SOURCES: tuple[str, ...] = (ONCE, MATTER, COMPLAINT, BOX, HOTLINE, EMAIL, SUPERVISION)
_BY_CHANNEL = {"paper": BOX, "phone": HOTLINE, "hotline12345": HOTLINE, "email": EMAIL}
_BY_ENTRY = {"box": BOX, "supervision": SUPERVISION}


def source_of(channel: str, extra: Mapping[str, Any] | None = None) -> str:
    """The evaluation source of an intake from its channel and its adapter's ``extra``."""
    extra = extra or {}
    if channel == "web":
        if extra.get("matter_no"):
            return MATTER
        if extra.get("form") == "window":
            return ONCE
        return _BY_ENTRY.get(str(extra.get("entry") or ""), COMPLAINT)
    return _BY_CHANNEL.get(channel, channel)
