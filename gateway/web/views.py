"""Plain Chinese for citizens: what happens next, by when, and how the answer will come.

Staff words (待复核分类, 恶意评价) are not citizen words; this module is the one place that says a
case's state and deadlines the way the confirmation and status pages show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from channels.contact import mask_phone
from channels.ratings import Rating
from channels.web.tokens import status_pin
from gateway.core.domain import CaseStatus, Category
from gateway.web.lookup import Receipt

WEEKDAYS = "一二三四五六日"

CITIZEN_STATUS: dict[str, str] = {
    CaseStatus.RECEIVED: "已受理，正在分派",
    CaseStatus.TRIAGED: "已受理，正在分派",
    CaseStatus.NEEDS_REVIEW: "已受理，正在分派",
    CaseStatus.VERIFYING: "正在核实情况",
    CaseStatus.VALID: "情况属实，正在安排整改",
    CaseStatus.NOT_VALID: "经核实，反映的情况不属实",
    CaseStatus.MALICIOUS: "经核实，不予受理",
    CaseStatus.RECTIFYING: "正在整改",
    CaseStatus.REPLIED: "已答复",
    CaseStatus.RETURN_VISITED: "已回访",
    CaseStatus.CLOSED: "已办结",
}


def citizen_status(status: str) -> str:
    return CITIZEN_STATUS.get(status, "处理中")


def when(moment: datetime | None, tz: ZoneInfo) -> str:
    """``2026年11月30日（周一）17:00`` in the hall's time zone."""
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


def day(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.year}年{local.month}月{local.day}日"


@dataclass(frozen=True, slots=True)
class NextSteps:
    """The confirmation page's promises, each one sentence."""

    deadline: str
    reply: str
    lookup_hint: str
    pin: str | None
    uncertain: bool


def _is_good(rating: str | None) -> bool:
    try:
        return bool(rating) and Rating(rating).is_good
    except ValueError:
        return False


def next_steps(receipt: Receipt, key: bytes, tz: ZoneInfo, *, sms: bool = True) -> NextSteps:
    """The receipt's promises; ``sms`` is whether SMS can be sent now (a case that asked for SMS
    while it could, read after it was switched off, is promised a call, not an SMS)."""
    category = Category(receipt.category) if receipt.category else None
    praised = _is_good(receipt.rating)
    reachable = bool(receipt.phone)  # nobody can call a citizen who left no number
    if praised:
        # A 好评 is thanked, whatever its text was sorted as: nothing is promised to be rectified.
        deadline = "感谢您的好评！您的评价已记录。"
    elif receipt.needs_review or receipt.status == CaseStatus.NEEDS_REVIEW:
        deadline = "工作人员将核定办理方式和时限，并尽快处理。"
    elif category is Category.IMMEDIATE and receipt.first_response_due:
        due = when(receipt.first_response_due, tz)
        deadline = (f"属于“立整立改”：工作人员将在 {due} 前给您回电（办公时间 1 小时内），并立即整改。"
                    if reachable else f"属于“立整立改”：工作人员将在 {due} 前（办公时间 1 小时内）立即整改。")
    elif category is Category.TIME_LIMITED and receipt.first_response_due:
        deadline = (f"属于“限时整改”：{when(receipt.first_response_due, tz)} 前给您初步答复，"
                    f"{when(receipt.result_due, tz)} 前告诉您整改结果（3 个工作日内）。")
    elif category is Category.COORDINATED:
        deadline = ("需要多个部门协调办理：工作人员会打电话说明原因和办理期限。" if reachable
                    else "需要多个部门协调办理：原因和办理期限会公布在“进度查询”里。")
    elif category is Category.NONE:
        deadline = "您的评价已记录，不需要整改。谢谢您的支持！"
    else:
        deadline = "工作人员将尽快处理。"
    pin = None
    if praised:
        reply = "好评不需要答复，工作人员不会另行打扰您。"
    elif receipt.reply_channel == "sms" and receipt.phone and sms:
        reply = f"处理结果将以短信发送到 {mask_phone(receipt.phone)}。"
    elif receipt.reply_channel in ("phone", "sms") and receipt.phone:
        reply = f"工作人员将打电话到 {mask_phone(receipt.phone)} 与您联系。"
    elif receipt.phone:
        reply = f"如需联系您，工作人员将拨打 {mask_phone(receipt.phone)}。"
    else:
        reply = "您没有留联系方式，答复会公布在“进度查询”里。"
    if receipt.phone:
        lookup_hint = "查询进度时，请输入受理编号和您的电话号码后四位。"
    else:
        pin = status_pin(key, receipt.code)
        lookup_hint = "查询进度时，请输入受理编号和上面的查询码。请一起记下来（可以截图保存）。"
    return NextSteps(deadline, reply, lookup_hint, pin, receipt.deadline_uncertain)
