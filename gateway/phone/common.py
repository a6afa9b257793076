"""Small helpers shared by the hotline's modules: call-record storage of personal data, countdowns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OPEN_ELSEWHERE = ("closed", "not_valid", "malicious")


@dataclass(frozen=True, slots=True)
class Countdown:
    """``剩余 45 分钟`` / ``已超时 2 小时`` and a level for the colour (never colour alone)."""

    text: str
    level: str  # overdue | urgent | soon | ok
    seconds: int


def _span(seconds: int) -> str:
    minutes = max(seconds // 60, 0)
    if minutes < 60:
        return f"{max(minutes, 1)} 分钟"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} 小时" + (f" {rest} 分钟" if rest and hours < 3 else "")
    days, hours = divmod(hours, 24)
    return f"{days} 天" + (f" {hours} 小时" if hours else "")


def countdown(due: datetime, now: datetime) -> Countdown:
    seconds = int((due - now).total_seconds())
    if seconds < 0:
        return Countdown(f"已超时 {_span(-seconds)}", "overdue", seconds)
    level = "urgent" if seconds <= 30 * 60 else "soon" if seconds <= 2 * 3600 else "ok"
    return Countdown(f"剩余 {_span(seconds)}", level, seconds)
