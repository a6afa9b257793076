"""The operator's call log: one submitted form becomes one ``Intake`` (channel ``phone``).

The form is what an operator types while the citizen is still on the line, so every problem is
reported per field in Chinese, all at once, and nothing is guessed: a number that is not a number
is refused rather than stored wrong.  ``call_id`` is minted when the page is drawn; it is the
intake's ``source_ref``, so pressing Enter twice (or a browser retry) stores the call once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from channels.intake import Intake, IntakeError
from channels.phone.numbers import DEFAULT_AREA_CODE, CallerNumberError, is_mobile, normalize_caller
from channels.ratings import REASON_CODES, Rating

CALL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$")
TRACKING = re.compile(r"^[A-Z]{1,4}\d{8}-\d{4}$")
MAX_SUMMARY = 5000
FIELD_LABELS = {
    "call_id": "通话编号", "phone": "来电号码", "name": "姓名", "real_name": "实名", "hall": "乡镇/大厅",
    "window": "窗口", "service_item": "办理事项", "rating": "评价", "reasons": "差评原因", "summary": "来电内容",
    "preferred_channel": "回复方式", "follow_up": "续报案件", "intake": "来电记录",
}
_INTAKE_FIELDS = {"contact.phone": "phone", "contact.name": "name", "contact": "phone", "hall": "hall",
                  "window": "window", "service_item": "service_item", "rating": "rating", "reasons": "reasons",
                  "text": "summary", "source_ref": "call_id", "tracking_code": "follow_up"}


class CallLogError(ValueError):
    """The form cannot be saved; ``problems`` maps form field names to Chinese explanations."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("；".join(f"{FIELD_LABELS.get(k, k)}：{v}" for k, v in problems.items()))


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _flag(form: Mapping[str, Any], name: str) -> bool:
    value = form.get(name)
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in {"1", "on", "true", "yes", "是"}


def _reasons(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part for part in re.split(r"[,，\s]+", value) if part]
    if isinstance(value, Iterable):
        return [str(part).strip() for part in value if str(part).strip()]
    return []


def call_log_intake(form: Mapping[str, Any], *, received_at: datetime, operator: str,
                    area_code: str = DEFAULT_AREA_CODE, sms: bool = True) -> Intake:
    """Validate the operator's form and build the ``Intake``; raise ``CallLogError`` naming each bad field.

    ``form`` holds strings as posted (``reasons`` may be a list); ``received_at`` is when the call
    began; ``operator`` is kept on the message for the audit trail.  ``sms`` says whether the
    gateway can send SMS at all; without it 短信 is refused and "automatic" means a call back.
    """
    problems: dict[str, str] = {}
    call_id = _text(form, "call_id")
    if not CALL_ID.match(call_id):
        problems["call_id"] = "缺少或格式不对，请刷新页面后重新登记"
    phone: str | None = None
    raw_phone = _text(form, "phone")
    if raw_phone:
        try:
            phone = normalize_caller(raw_phone, area_code=area_code)
        except CallerNumberError:
            problems["phone"] = "号码格式不对：手机号 11 位（138 1234 5678），固话带区号（0537-6851890），可带 +86"
    name = _text(form, "name") or None
    if name and len(name) > 50:
        problems["name"] = "姓名不能超过 50 个字"
    real_name = _flag(form, "real_name")
    if real_name and not name:
        problems["real_name"] = "实名评价需要填写姓名"
    rating: Rating | None = None
    if raw_rating := _text(form, "rating"):
        try:
            rating = Rating.parse(raw_rating)
        except ValueError:
            problems["rating"] = "请选择 非常满意/满意/基本满意/不满意/非常不满意 之一"
    reasons = _reasons(form.get("reasons"))
    unknown = [code for code in reasons if code not in REASON_CODES]
    if unknown:
        problems["reasons"] = f"未知的原因代码 {'、'.join(unknown)}"
    elif reasons and (rating is None or not rating.is_bad):
        problems["reasons"] = "只有“不满意”或“非常不满意”才需要选择差评原因"
    summary = _text(form, "summary")
    if len(summary) > MAX_SUMMARY:
        problems["summary"] = f"来电内容不能超过 {MAX_SUMMARY} 字"
    if not summary and rating is None:
        problems["summary"] = "请记录来电内容（或群众给出的评价）"
    preferred = _text(form, "preferred_channel") or None
    if preferred not in (None, "sms", "phone", "none"):
        problems["preferred_channel"] = "回复方式只能是短信、电话或不需要回复"
    elif preferred in ("sms", "phone") and not phone:
        problems["preferred_channel"] = "没有来电号码，无法短信或电话回复"
    elif preferred == "sms" and not sms:
        problems["preferred_channel"] = "短信答复暂未开通，请选择电话回复"
    elif preferred == "sms" and phone and not is_mobile(phone):
        problems["preferred_channel"] = "固定电话收不到短信，请选择电话回复"
    if preferred is None and phone:
        preferred = "sms" if sms and is_mobile(phone) else "phone"
    follow_up = _text(form, "follow_up").upper() or None
    if follow_up and not TRACKING.match(follow_up):
        problems["follow_up"] = "受理编号格式应如 JX20261128-0007"
    if follow_up and not phone:
        problems["follow_up"] = "续报需要来电号码，用来核对是否为同一位群众"
    if _text(form, "window") and not _text(form, "hall"):
        problems["window"] = "填写窗口时必须同时选择乡镇/大厅"
    if problems:
        raise CallLogError(problems)
    try:
        return Intake.build(
            channel="phone", source_ref=call_id, received_at=received_at, text=summary, rating=rating,
            reasons=reasons, hall=_text(form, "hall") or None, window=_text(form, "window") or None,
            service_item=_text(form, "service_item") or None,
            contact={"name": name, "phone": phone, "real_name": real_name, "preferred_channel": preferred},
            tracking_code=follow_up, extra={"medium": "hotline", "operator": operator[:64]},
        )
    except IntakeError as exc:
        raise CallLogError({_INTAKE_FIELDS.get(field, "intake"): _chinese(reason, _INTAKE_FIELDS.get(field, ""),
                                                                            form)
                            for field, reason in exc.problems.items()}) from None


_FIELD_NAMES = {"hall": "乡镇（街道）", "window": "窗口", "service_item": "办理事项"}


def _chinese(reason: str, field: str = "", form: Mapping[str, Any] | None = None) -> str:
    if "window is given without its hall" in reason:
        return "填写窗口时必须同时选择乡镇/大厅"
    if "String should match pattern" in reason:
        what = _FIELD_NAMES.get(field, "")
        typed = _text(form or {}, field) if field else ""
        named = f"{what}“{typed}”" if what and typed else (what or "这个名称")
        return f"没有找到{named}，请从提示列表中选择"
    return f"无法保存：{reason}"
