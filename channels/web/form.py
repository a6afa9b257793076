"""The 找茬窗口 form as plain values: read a posted form, check every field, build the ``Intake``.

Pure (no gateway imports): the gateway hands in the posted fields and what it knows (the window,
the list of towns, the token that becomes ``source_ref``) and gets back an ``Intake`` or a
``FormError`` whose ``problems`` map each field to a short Chinese sentence the page shows beside
it.  ``FormValues`` keeps what the citizen typed, whatever its faults, so an error page never
loses their words.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.contact import normalize_phone
from channels.intake import Intake, IntakeError
from channels.ratings import REASON_CODES, REASONS, Rating

TEXT_MAX = 2000
NAME_MAX = 30
PHONE_MAX = 30
MAX_REASONS = len(REASONS)
MAX_FIELDS = 40
FIELD_MAX = 64  # any short field (rating, reply, hall, consent, a reason code)
NO_HALL = "-"  # the general form's "县级部门或不清楚" choice
NO_ITEM = "-"  # the window form's "其他事项或说不清" choice: the evaluation is marked 未指明事项

# Where a general-form link was published; recorded with the case so reports can tell them apart.
ENTRIES: dict[str, str] = {
    "web": "网站",
    "box": "意见箱二维码",
    "supervision": "监督平台",
    "email": "邮件链接",
    "sms": "短信链接",
}

REPLY_LABELS: dict[str, str] = {"phone": "电话联系我", "sms": "发短信给我"}
# The choices a form offers when the gateway cannot send SMS (no provider configured).
PHONE_ONLY: tuple[str, ...] = ("phone",)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
_LOCAL_OR_MOBILE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-\d{7,8}|[2-9]\d{6,7})$")


@dataclass(frozen=True, slots=True)
class FormValues:
    """What the citizen sent, cleaned of control characters but otherwise as typed."""

    rating: str = ""
    reasons: tuple[str, ...] = ()
    text: str = ""
    name: str = ""
    phone: str = ""
    reply: str = "phone"
    consent: bool = False
    hall: str = ""
    item: str = ""
    entry: str = "web"
    token: str = ""
    extra_fields: int = 0
    oversize: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rating_is_bad(self) -> bool:
        return self.rating in (Rating.DISSATISFIED.value, Rating.VERY_DISSATISFIED.value)


class FormError(ValueError):
    """A submission with faults; ``problems`` maps a field name (or ``form``) to a Chinese reason."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in problems.items()))


def _clean(text: str, *, multiline: bool = False) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        text = text.replace("\n", " ").replace("\t", " ")
    return _CONTROL.sub("", text).strip()


def read_values(fields: Mapping[str, Sequence[str]]) -> FormValues:
    """Collect the known fields of a posted form; never raises, so the page can always re-render.

    ``fields`` maps each name to all its posted values (a ``MultiDict``'s ``getlist`` view).  A
    short field longer than ``FIELD_MAX`` is cut and noted in ``oversize`` for :func:`build_intake`.
    """
    oversize: list[str] = []

    def one(name: str, limit: int = FIELD_MAX, *, multiline: bool = False) -> str:
        values = fields.get(name) or ()
        raw = str(values[-1]) if values else ""
        if len(raw) > limit:
            oversize.append(name)
            raw = raw[:limit] if limit == FIELD_MAX else raw
        return _clean(raw, multiline=multiline)

    reasons_raw = [str(v) for v in (fields.get("reason") or ())]
    if len(reasons_raw) > MAX_REASONS or any(len(v) > FIELD_MAX for v in reasons_raw):
        oversize.append("reason")
    reasons = tuple(dict.fromkeys(_clean(v[:FIELD_MAX]) for v in reasons_raw[: MAX_REASONS * 2] if v.strip()))
    known = {"t", "rating", "reason", "text", "name", "phone", "reply", "consent", "hall", "src", "item"}
    return FormValues(
        rating=one("rating"),
        reasons=reasons,
        text=one("text", TEXT_MAX, multiline=True),
        name=one("name", NAME_MAX),
        phone=one("phone", PHONE_MAX),
        reply=one("reply") or "phone",
        consent=one("consent") in ("1", "on", "yes", "true"),
        hall=one("hall"),
        item=one("item"),
        entry=entry if (entry := one("src")) in ENTRIES else "web",
        token=one("t", 128),
        extra_fields=sum(1 for name in fields if name not in known),
        oversize=tuple(oversize),
    )


def check(values: FormValues, *, general: bool, halls: Mapping[str, str] | None = None,
          items: Mapping[str, str] | None = None, replies: Collection[str] = tuple(REPLY_LABELS)) -> dict[str, Any]:
    """Every problem of ``values`` at once (so the citizen fixes them in one go), else the clean fields.

    ``replies`` are the reply methods the page offered (``PHONE_ONLY`` when no SMS can be sent): a
    post asking for another (a page from before SMS was switched off) is told plainly, not obeyed.

    Returns the keyword arguments for the ``Intake`` apart from channel, source_ref, received_at
    and (for a window form) hall and window.  Reasons given with a good rating are dropped, not
    refused: without JavaScript the reason boxes are always on screen, and a citizen who ticked
    one and then chose 满意 has done nothing wrong.
    """
    problems: dict[str, str] = {}
    if values.extra_fields > MAX_FIELDS:
        problems["form"] = "表单内容异常，请刷新页面后重新填写"
    rating: Rating | None = None
    if values.rating:
        try:
            rating = Rating(values.rating)
        except ValueError:
            problems["rating"] = "请从五个选项中选择满意程度"
    reasons: tuple[str, ...] = ()
    if "reason" in values.oversize or any(code not in REASON_CODES for code in values.reasons):
        problems["reason"] = "不满意的原因请从列出的选项中勾选"
    elif rating is not None and rating.is_bad:
        reasons = values.reasons
        if not reasons and not values.text:
            problems["reason"] = "请勾选不满意的原因，或在下面写明具体情况，方便我们整改"
    if len(values.text) > TEXT_MAX:
        problems["text"] = f"意见最多 {TEXT_MAX} 字，现在是 {len(values.text)} 字，请删减后再提交"
    if not values.text and rating is None and "rating" not in problems:
        problems["rating"] = "请选择满意程度，或在下面写下您的意见"
    name = values.name
    if len(name) > NAME_MAX or "name" in values.oversize:
        problems["name"] = f"姓名最多 {NAME_MAX} 个字"
    phone: str | None = None
    if values.phone:
        try:
            phone = normalize_phone(values.phone)
        except ValueError:
            phone = None
        digits = re.sub(r"\D", "", values.phone)
        if (phone is None or len(values.phone) > PHONE_MAX or not _LOCAL_OR_MOBILE.match(phone)
                or digits.startswith(("400", "800"))):  # hotlines, read by the "+86 without 0" rule
            problems["phone"] = "请填写 11 位手机号码，或带区号的固定电话（如 0537-6851890）"
            phone = None
    reply = values.reply if values.reply in REPLY_LABELS and values.reply in replies else None
    if reply is None and values.reply == "sms":
        problems["reply"] = "短信答复暂未开通，请选择“电话联系我”"
    elif reply is None:
        problems["reply"] = "请选择答复方式：电话或短信" if "sms" in replies else "请选择答复方式：电话联系我"
    elif reply == "sms" and phone and not phone.startswith("1"):
        problems["reply"] = "短信答复需要手机号码；固定电话请选择“电话联系我”"
    if (name or values.phone) and not values.consent:
        problems["consent"] = "留下姓名或电话，需要勾选同意；不想留，请把姓名和电话清空"
    hall: str | None = None
    if general:
        if not values.hall:
            problems["hall"] = "请选择您办事的乡镇（街道）；不清楚可选“县级部门或不清楚”"
        elif values.hall != NO_HALL:
            if halls is None or values.hall not in halls:
                problems["hall"] = "请从列表中选择乡镇（街道）"
            else:
                hall = values.hall
    item: str | None = None
    if items and values.item and values.item != NO_ITEM:
        if values.item in items:
            item = values.item
        else:
            problems["item"] = "请从列表中选择您办的事；不清楚可选“其他事项或说不清”"
    if problems:
        raise FormError(problems)
    contact: dict[str, Any] = {}
    if name or phone:
        contact = {"name": name or None, "phone": phone, "real_name": bool(name),
                   "preferred_channel": reply if phone else None}
    result: dict[str, Any] = {"text": values.text, "rating": rating.value if rating else None,
                              "reasons": list(reasons), "contact": contact,
                              "extra": {"form": "general" if general else "window", "entry": values.entry}}
    if general:
        result["hall"] = hall
    else:
        result["service_item"] = item
        result["extra"]["item"] = item or "unspecified"
    return result


def build_intake(values: FormValues, *, source_ref: str, received_at: datetime, hall: str | None = None,
                 window: str | None = None, halls: Mapping[str, str] | None = None,
                 items: Mapping[str, str] | None = None, replies: Collection[str] = tuple(REPLY_LABELS)) -> Intake:
    """The ``Intake`` of a checked submission; a window form passes ``hall``, ``window`` and the
    window's service items (code → name), from which the citizen may pick the one they came for;
    ``replies`` are the reply methods the page offered.

    Raises ``FormError`` for the citizen's mistakes; an ``IntakeError`` left over after the checks
    above would be a bug in this module, so it is reported as a generic form problem, not hidden.
    """
    general = window is None
    fields = check(values, general=general, halls=halls, items=items, replies=replies)
    if not general:
        fields["hall"], fields["window"] = hall, window
    try:
        return Intake.build(channel="web", source_ref=source_ref, received_at=received_at, **fields)
    except IntakeError as exc:
        raise FormError({"form": f"提交的内容无法受理：{exc}"}) from None
