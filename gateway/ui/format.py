"""How staff pages show times and deadlines: Asia/Shanghai, 24-hour, and countdowns in words
("剩余 45 分钟", "已超时 2 小时") with a level for colour — text and colour together, never colour alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from channels.ratings import Rating
from gateway.core.labels import RATING_REASON_LABELS, TRIAGE_REASON_LABELS
from gateway.core.overdue import first_response_done

SHANGHAI = ZoneInfo("Asia/Shanghai")


def rating_label(code: str | None) -> str:
    """非常满意 … 非常不满意 for a stored rating code ("" when unrated)."""
    if not code:
        return ""
    try:
        return Rating(code).label
    except ValueError:
        return code


def rating_reason_label(code: str) -> str:
    """One of the ten second-level reasons a citizen ticks with a 差评 (``case.reasons``).

    Some of its codes are also triage reason codes (``efficiency`` is 办理时间长 here, 办事效率 as
    the triage's reason): the two catalogues are different things, so each has its own function and
    a page never shows a triage reason under the citizen's word."""
    return RATING_REASON_LABELS.get(code, code)


def triage_reason_label(code: str) -> str:
    """The triage's reason of a case's category (``case.reason``), as the timeline names it."""
    return TRIAGE_REASON_LABELS.get(code, code)


def local_time(value: datetime | None, *, with_seconds: bool = False) -> str:
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M")


def local_date(value: datetime | str | None) -> str:
    """The Beijing date of an instant (an ISO string too, as the report rows carry them)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if value else None
    return value.astimezone(SHANGHAI).strftime("%Y年%m月%d日") if value else ""


def _span(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{max(minutes, 1)} 分钟"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} 小时" + (f" {minutes} 分" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} 天" + (f" {hours} 小时" if hours else "")


@dataclass(frozen=True)
class Countdown:
    text: str
    level: str  # "ok" | "warn" | "late" | "paused" | "done" | "none"
    due: datetime | None = None

    @property
    def title(self) -> str:
        return f"期限 {local_time(self.due)}" if self.due else ""


def countdown(due: datetime | None, *, now: datetime | None = None, paused_at: datetime | None = None,
              done_at: datetime | None = None, warning: timedelta = timedelta(hours=1)) -> Countdown:
    """The state of one deadline for display."""
    if due is None:
        return Countdown("无期限", "none")
    if done_at is not None:
        late = done_at > due
        return Countdown(f"已完成{'（超时 ' + _span(done_at - due) + '）' if late else ''}",
                         "late" if late else "done", due)
    if paused_at is not None:
        return Countdown(f"已暂停计时（剩余 {_span(due - paused_at)}）" if due > paused_at else "已暂停计时",
                         "paused", due)
    now = now or datetime.now(UTC)
    if now >= due:
        return Countdown(f"已超时 {_span(now - due)}", "late", due)
    return Countdown(f"剩余 {_span(due - now)}", "warn" if due - now <= warning else "ok", due)


def case_countdown(case: object, *, now: datetime | None = None, warning: timedelta = timedelta(hours=1)) -> Countdown:
    """The deadline that matters now (``gateway.core.overdue.running_due``): the first response
    until it is met — by a first response or by the result — then the result."""
    paused_at = getattr(case, "paused_at", None)
    if getattr(case, "status", None) == "closed":
        return Countdown("已办结", "done")
    if first_response_done(case) is None and getattr(case, "first_response_due", None) is not None:
        return countdown(case.first_response_due, now=now, paused_at=paused_at, warning=warning)  # type: ignore[attr-defined]
    return countdown(getattr(case, "result_due", None), now=now, paused_at=paused_at,
                     done_at=getattr(case, "result_at", None), warning=warning)
