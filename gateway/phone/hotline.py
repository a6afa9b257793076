"""The operator's side of the hotline: log a call, look up a caller's earlier cases.

A logged call goes through the one complaint model (``channels.phone.calllog`` → ``Intake`` →
``Ingestor.ingest``): triaged at once, and the operator sees the category and its deadline while
the citizen is still on the line.  After the ingest commits, a second short transaction closes the
number's open call-back tasks (the citizen has been heard), links the exchange's record of the
call if it was imported first, and writes the audit entry.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from channels.contact import mask_phone
from channels.phone.calllog import CallLogError, call_log_intake
from channels.phone.numbers import CallerNumberError, normalize_caller
from gateway.auth.audit import add_audit
from gateway.auth.roles import Principal
from gateway.core.cases import case_summaries
from gateway.core.db.models import Case, Contact, Hall, ServiceItem, Window
from gateway.core.db.models_phone import CallbackTask
from gateway.core.domain import CaseStatus, Category
from gateway.core.ingest import IngestError
from gateway.core.sms_config import sms_ready
from gateway.phone.calls import DONE, OPEN, close_tasks, link_calls_to_log
from gateway.phone.common import OPEN_ELSEWHERE, countdown
from gateway.phone.options import PhoneOptions

if TYPE_CHECKING:
    from gateway.core.services import Services

MAX_CALL_AGE = timedelta(hours=12)


def new_call_id() -> str:
    """The id of the next call, minted when the form is drawn (the intake's ``source_ref``)."""
    return "hl-" + secrets.token_hex(12)


def _when(value: Any, now: datetime) -> datetime:
    """When the call began: the page's timestamp if plausible, else now."""
    if isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return now
        if moment.tzinfo is not None and now - MAX_CALL_AGE <= moment <= now + timedelta(minutes=5):
            return moment
    return now


@dataclass(frozen=True, slots=True)
class LoggedCall:
    """What the operator sees right after saving."""

    code: str
    created: bool
    follow_up: bool
    duplicate: bool
    status: str
    category: str | None
    needs_review: bool
    first_response_due: datetime | None
    result_due: datetime | None
    deadline_uncertain: bool
    reply_channel: str | None
    tasks_closed: int

    def as_dict(self, tz: ZoneInfo, now: datetime | None = None) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        category = Category(self.category) if self.category else None
        due = self.first_response_due or self.result_due
        return {
            "code": self.code, "created": self.created, "follow_up": self.follow_up, "duplicate": self.duplicate,
            "status": self.status, "status_label": CaseStatus(self.status).label,
            "category": self.category, "category_label": category.label if category else None,
            "needs_review": self.needs_review,
            "first_response_due": _show(self.first_response_due, tz), "result_due": _show(self.result_due, tz),
            "countdown": countdown(due, now).text if due else None,
            "level": countdown(due, now).level if due else None,
            "deadline_uncertain": self.deadline_uncertain, "reply_channel": self.reply_channel,
            "tasks_closed": self.tasks_closed, "message": _message(self, category),
        }


def _show(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else None


def _message(logged: LoggedCall, category: Category | None) -> str:
    if logged.duplicate:
        return f"这通电话已经登记过：{logged.code}"
    if logged.follow_up:
        return f"已作为续报并入案件 {logged.code}"
    # The category follows on the page and in the JSON result: said once, not twice.
    return "已受理"


def _ingest_problem(exc: IngestError) -> CallLogError:
    field, _, _ = str(exc).partition(":")
    labels = {"hall": "没有这个乡镇/大厅代码", "window": "该乡镇没有这个窗口", "service_item": "没有这个办理事项代码"}
    return CallLogError({field if field in labels else "intake": labels.get(field, str(exc))})


async def log_call(services: Services, form: Mapping[str, Any], user: Principal, *, ip: str | None = None,
                   options: PhoneOptions | None = None, now: datetime | None = None) -> LoggedCall:
    """Store one call from the operator's form; raise ``CallLogError`` with Chinese field problems."""
    options = options or PhoneOptions()
    now = now or datetime.now(UTC)
    form = await _names_to_codes(services, form)
    intake = call_log_intake(form, received_at=_when(form.get("started_at"), now), operator=user.username,
                             area_code=options.area_code, sms=sms_ready(services.settings))
    try:
        result = await services.ingestor.ingest(intake)
    except IngestError as exc:
        raise _ingest_problem(exc) from None
    phone_hash = services.cipher.search_hash(intake.contact.phone)
    task_id = str(form.get("callback_task") or "").strip()
    closed = 0
    async with services.store.write() as session:
        if not result.duplicate:
            if phone_hash:
                closed += await session.run_sync(lambda s: close_tasks(
                    s, phone_hash, before=now, now=now, by=user.username, note=f"来电已登记 {result.case_code}"))
                await session.run_sync(lambda s: link_calls_to_log(
                    s, phone_hash, case_id=result.case_id, message_id=result.message_id, at=intake.received_at,
                    options=options))
            if task_id.isdigit():
                closed += (await session.execute(
                    update(CallbackTask).where(CallbackTask.id == int(task_id), CallbackTask.status == OPEN)
                    .values(status=DONE, closed_at=now, closed_by=user.username,
                            note=f"回拨接通并登记 {result.case_code}"))).rowcount or 0
            add_audit(session, user, "phone:log_call", ip=ip, target_type="case", target_id=result.case_code,
                      detail={"follow_up": result.follow_up, "created": result.created})
        case = (await session.execute(select(Case).where(Case.id == result.case_id))).scalar_one()
    return LoggedCall(
        code=case.code, created=result.created, follow_up=result.follow_up, duplicate=result.duplicate,
        status=case.status, category=case.category, needs_review=case.needs_review,
        first_response_due=case.first_response_due, result_due=case.result_due,
        deadline_uncertain=case.deadline_uncertain, reply_channel=case.reply_channel, tasks_closed=closed)


async def caller_history(services: Services, raw_phone: str, user: Principal, *,
                         options: PhoneOptions | None = None, limit: int = 20) -> dict[str, Any]:
    """The caller's earlier cases (masked), newest first, open ones marked for a follow-up.

    Raises ``CallLogError`` for a number that cannot be normalised.
    """
    options = options or PhoneOptions()
    try:
        phone = normalize_caller(raw_phone, area_code=options.area_code)
    except CallerNumberError:
        raise CallLogError({"phone": "号码格式不对：手机号 11 位，固话带区号（0537-6851890）"}) from None
    if phone is None:
        return {"phone": None, "cases": [], "open_tasks": 0}
    phone_hash = services.cipher.search_hash(phone)
    towns = user.town_filter()
    tz = ZoneInfo(services.settings.timezone)
    async with services.store.read() as session:
        query = (select(Case).join(Contact, Contact.case_id == Case.id).outerjoin(Hall, Hall.id == Case.hall_id)
                 .where(Contact.phone_hash == phone_hash).order_by(Case.received_at.desc()).limit(limit))
        if towns is not None:
            query = query.where(Hall.code.in_(sorted(towns)))
        cases = list((await session.execute(query)).scalars())
        summaries = await case_summaries(session, cases, services.cipher)
        open_tasks = len((await session.execute(select(CallbackTask.id).where(
            CallbackTask.phone_hash == phone_hash, CallbackTask.status == OPEN))).all())
    now = datetime.now(UTC)
    rows = []
    for case, summary in zip(cases, summaries, strict=True):
        category = Category(case.category) if case.category else None
        due = case.first_response_due if case.first_responded_at is None else case.result_due
        text = (case.subject or case.text or "").strip().replace("\n", " ")
        rows.append({
            "code": case.code, "received_at": case.received_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            "channel": case.channel, "status": case.status, "status_label": CaseStatus(case.status).label,
            "category_label": category.label if category else None, "open": case.status not in OPEN_ELSEWHERE,
            "summary": text[:60] + ("…" if len(text) > 60 else ""), "name": summary["contact"]["name"],
            "hall": (summary["hall"] or {}).get("name"), "rating": summary["rating"],
            "countdown": countdown(due, now).text if due and case.status not in OPEN_ELSEWHERE else None,
        })
    return {"phone": mask_phone(phone), "cases": rows, "open_tasks": open_tasks}


async def _names_to_codes(services: Services, form: Mapping[str, Any]) -> dict[str, Any]:
    """An operator types what the caller says (金屯镇, 社保窗口); the suggestion lists show names, the
    intake takes codes.  A value that is exactly one hall's, window's or item's name becomes its code,
    and so does a part of a name that only one of them has (黄垓 → 黄垓镇: an operator typing fast
    presses Enter before picking the suggestion); anything else is left for the intake to check (a
    code, or a clear error)."""
    choices = await form_choices(services)
    translated = dict(form)
    for field, key in (("hall", "halls"), ("window", "windows"), ("service_item", "items")):
        value = str(form.get(field) or "").strip()
        if not value or any(row["code"] == value for row in choices[key]):
            continue
        codes = {row["code"] for row in choices[key] if row["name"] == value}
        if not codes:
            codes = {row["code"] for row in choices[key] if value in row["name"]}
        if len(codes) == 1:
            translated[field] = codes.pop()
    return translated


async def form_choices(services: Services) -> dict[str, list[dict[str, str]]]:
    """Halls, window codes and service items for the form's suggestion lists."""
    async with services.store.read() as session:
        halls = (await session.execute(select(Hall.code, Hall.name).where(Hall.active.is_(True))
                                       .order_by(Hall.id))).all()
        windows = (await session.execute(select(Window.code, Window.name).where(Window.active.is_(True))
                                         .distinct().order_by(Window.code))).all()
        items = (await session.execute(select(ServiceItem.code, ServiceItem.name)
                                       .where(ServiceItem.active.is_(True)).order_by(ServiceItem.code))).all()
    seen: set[str] = set()
    window_rows = []
    for code, name in windows:
        if code not in seen:
            seen.add(code)
            window_rows.append({"code": code, "name": name})
    return {"halls": [{"code": c, "name": n} for c, n in halls], "windows": window_rows,
            "items": [{"code": c, "name": n} for c, n in items]}
