"""Return visits (回访) and the hotline's call-back list.

``record_visit`` is the one way to record a call back about a case, from the hotline page or the
staff case page: the ``return_visits`` row, the timeline event, the audit entry and, when a
citizen whose case was answered (``replied``) is reached, the workflow move ``return_visit`` all
commit in one transaction.  A reached call back on a case still waiting for its first response
also stops that clock (``first_responded_at``).  An unreached citizen stays on the list and is
due again ``retry_minutes`` later, within office hours on a working day (``next_try``).

``open_callbacks`` is the list an operator works through, most urgent first:

* call-back tasks from silent calls (missed, abandoned, no voicemail message),
* 立整立改 cases whose one-hour call back has not happened yet,
* real-name 差评 that were answered and still need their return visit (回访率 100%).

The case-derived entries are read from the cases themselves, so the list can never disagree with
the case's state; the tasks are rows (``phone_callbacks``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.contact import mask_name, mask_phone
from channels.phone.numbers import is_mobile
from channels.ratings import Rating
from gateway.auth.audit import add_audit
from gateway.auth.roles import Principal
from gateway.console.actions import ScopeError
from gateway.core.cases import CaseNotFound
from gateway.core.db.models import Case, Contact, Hall
from gateway.core.db.models_phone import CallbackTask, ReturnVisit
from gateway.core.deadlines import WorkCalendar
from gateway.core.domain import CaseStatus, Category
from gateway.core.labels import CALL_TASK_LABELS, PROBLEM_SOLVED_LABELS
from gateway.core.outbox import OutgoingMessage, enqueue
from gateway.core.overdue import FIRST_RESPONSE_PENDING
from gateway.core.sms_config import sms_ready
from gateway.core.workflow import EventSpec, WorkflowError, add_events, apply_transition
from gateway.phone.calls import CANCELLED, DONE, OPEN
from gateway.phone.common import OPEN_ELSEWHERE, Countdown, countdown
from gateway.phone.options import PhoneOptions
from gateway.results.figures import RN_UNVISITED

if TYPE_CHECKING:
    from gateway.core.services import Services

PURPOSE_RETURN_VISIT = "return_visit"
PURPOSE_CALL_BACK = "call_back"
PROBLEM_SOLVED = PROBLEM_SOLVED_LABELS
BAD_RATINGS = (Rating.DISSATISFIED.value, Rating.VERY_DISSATISFIED.value)
KIND_LABELS = CALL_TASK_LABELS


@dataclass(frozen=True, slots=True)
class Questionnaire:
    """The structured return-visit survey; every answer optional."""

    problem_solved: str | None = None
    rectification_satisfaction: str | None = None
    policy_awareness: int | None = None
    convenience: int | None = None
    service_satisfaction: int | None = None

    def validated(self) -> Questionnaire:
        if self.problem_solved is not None and self.problem_solved not in PROBLEM_SOLVED:
            raise ValueError("问题是否解决只能是 已解决 / 部分解决 / 未解决")
        rectification = self.rectification_satisfaction
        if rectification is not None:
            try:
                rectification = Rating.parse(rectification).value
            except ValueError:
                raise ValueError("整改满意度只能是 非常满意 / 满意 / 基本满意 / 不满意 / 非常不满意") from None
        for name, label in (("policy_awareness", "政策知悉度"), ("convenience", "办事便利度"),
                            ("service_satisfaction", "服务满意度")):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and 1 <= value <= 5):
                raise ValueError(f"{label}只能是 1 到 5 分")
        return Questionnaire(self.problem_solved, rectification, self.policy_awareness, self.convenience,
                             self.service_satisfaction)


@dataclass(frozen=True, slots=True)
class VisitResult:
    case_code: str
    visit_id: int
    purpose: str
    reached: bool
    status: str
    transitioned: bool
    first_response: bool


def _actor(who: Principal | str) -> tuple[str, Principal | None]:
    if isinstance(who, Principal):
        return who.username, who
    if not who or not who.strip():
        raise ValueError("who must name the person who made the call")
    return who.strip()[:64], None


def _visit_note(reached: bool, satisfied: bool | None, note: str | None) -> str:
    if note and note.strip():
        return note.strip()
    if not reached:
        return "回访未接通"
    return {True: "回访已接通，群众表示满意", False: "回访已接通，群众表示不满意", None: "回访已接通"}[satisfied]


async def record_visit(services: Services, case_code: str, *, reached: bool, who: Principal | str,
                       satisfied: bool | None = None, note: str | None = None, at: datetime | None = None,
                       questionnaire: Questionnaire | None = None, ip: str | None = None) -> VisitResult:
    """Record one call back about the case ``case_code`` (see the module docstring).

    Raises ``CaseNotFound``, ``ScopeError`` (another town's case), ``WorkflowError`` (a closed case)
    or ``ValueError`` (a bad questionnaire answer, a time in the future).
    """
    actor, principal = _actor(who)
    now = datetime.now(UTC)
    at = at or now
    if at.tzinfo is None:
        raise ValueError("the time of the call must carry a time zone")
    if at > now + timedelta(minutes=5):
        raise ValueError("回访时间不能晚于现在")
    answers = (questionnaire or Questionnaire()).validated()
    if not reached and (satisfied is not None or answers != Questionnaire()):
        raise ValueError("未接通的回访不能填写满意度或问卷")
    text = _visit_note(reached, satisfied, note)
    async with services.store.write() as session:
        row = (await session.execute(
            select(Case, Hall.code).outerjoin(Hall, Hall.id == Case.hall_id).where(Case.code == case_code)
            .with_for_update(of=Case))).first()
        if row is None:
            raise CaseNotFound(case_code)
        case, hall_code = row
        if principal is not None and not principal.can_access_town(hall_code):
            raise ScopeError("无权处理其他乡镇的案件")
        if case.status == CaseStatus.CLOSED:
            raise WorkflowError("该案件已办结，不能再记录回访")
        purpose = (PURPOSE_RETURN_VISIT if case.status in (CaseStatus.REPLIED, CaseStatus.RETURN_VISITED)
                   else PURPOSE_CALL_BACK)
        visit = ReturnVisit(
            case_id=case.id, purpose=purpose, at=at, who=actor, reached=reached, satisfied=satisfied,
            note=(note or "").strip() or None, created_at=now, problem_solved=answers.problem_solved,
            rectification_satisfaction=answers.rectification_satisfaction,
            policy_awareness=answers.policy_awareness, convenience=answers.convenience,
            service_satisfaction=answers.service_satisfaction)
        session.add(visit)
        await session.flush()
        first_response = reached and case.first_responded_at is None
        if first_response:
            case.first_responded_at = at
        if reached and case.reply_delivered_at is None:
            case.reply_delivered_at = at  # a logged call that reached the citizen: answered (答复率)
        data: dict[str, Any] = {"visit_id": visit.id, "reached": reached, "satisfied": satisfied,
                                "purpose": purpose}
        transitioned = False
        if reached and case.status == CaseStatus.REPLIED:
            await apply_transition(session, case.id, "return_visit", actor=actor, note=text, data=data, now=now)
            transitioned = True
        else:
            case.updated_at = now
            await session.run_sync(add_events, case.id, now, [EventSpec(
                kind="return_visit_attempt" if purpose == PURPOSE_RETURN_VISIT else "call_back",
                actor=actor, note=text, data=data)])
        if not reached and purpose == PURPOSE_RETURN_VISIT:
            if case.reply_channel == "wechat":  # a citizen who came by WeChat is told there
                await _wechat_visit_notice(session, services, case, visit.id, now)
            else:
                await _missed_visit_notice(session, services, case, now)
        add_audit(session, principal, "phone:return_visit", ip=ip, target_type="case", target_id=case.code,
                  detail={**data, **({} if principal else {"actor": actor})})
        return VisitResult(case.code, visit.id, purpose, reached, case.status, transitioned, first_response)


async def _missed_visit_notice(session: AsyncSession, services: Services, case: Case, now: datetime) -> None:
    """A 回访 call that did not reach the citizen leaves one SMS (kind ``return_visit``) saying where the
    answer is and whom to call — only when SMS can carry it (a ``return_visit`` template, or Twilio)."""
    settings = services.settings
    templated = settings.sms_provider != "twilio"
    if not sms_ready(settings) or (templated and not settings.sms_templates.get("return_visit")):
        return
    contact = (await session.execute(select(Contact).where(Contact.case_id == case.id))).scalar_one_or_none()
    phone = services.cipher.open(contact.phone_enc) if contact is not None else None
    if not phone or not is_mobile(phone):
        return
    url = settings.public_url.rstrip("/") + "/status"
    notice = OutgoingMessage(
        channel="sms", kind="return_visit", recipient=phone, case_id=case.id, dedup_key=f"return-visit:{case.id}",
        body=(f"您好！关于您反映的问题（受理编号 {case.code}），工作人员回访时未能联系到您。"
              f"答复可凭受理编号和手机号后四位在 {url} 查看；如有意见，请致电服务大厅。"),
        payload={"tracking_code": case.code})
    await session.run_sync(lambda sync: enqueue(sync, services.cipher, notice, now=now))


async def _wechat_visit_notice(session: AsyncSession, services: Services, case: Case, visit_id: int,
                               now: datetime) -> None:
    """A citizen who came by WeChat and did not answer the return-visit call hears about it there
    (many do not pick up unknown numbers); their answer joins the case (tracking code or thread)."""
    contact = (await session.execute(select(Contact).where(Contact.case_id == case.id))).scalar_one_or_none()
    open_id = services.cipher.open(contact.wechat_enc) if contact is not None else None
    if not open_id:
        return
    notice = OutgoingMessage(
        channel="wechat", kind="return_visit", recipient=open_id, case_id=case.id,
        dedup_key=f"visit-notice:{visit_id}", payload={"tracking_code": case.code},
        body=(f"您好！我们就受理编号 {case.code} 的办理结果给您回访，电话未能接通。"
              "请直接回复本公众号：问题是否已解决？您对处理结果是否满意？"))
    await session.run_sync(lambda sync: enqueue(sync, services.cipher, notice, now=now))


async def record_task_attempt(services: Services, task_id: int, *, reached: bool, who: Principal | str,
                              note: str | None = None, give_up: bool = False, ip: str | None = None,
                              options: PhoneOptions | None = None) -> str:
    """A call back on a silent call: reached (done), not reached (due again later) or given up
    (a wrong or invalid number; the note says why).  Returns the task's new status."""
    actor, principal = _actor(who)
    options = options or PhoneOptions()
    if give_up and not (note and note.strip()):
        raise ValueError("放弃回拨需要说明原因")
    now = datetime.now(UTC)
    calendar = await services.calendar.get()
    async with services.store.write() as session:
        task = (await session.execute(select(CallbackTask).where(CallbackTask.id == task_id)
                                      .with_for_update())).scalar_one_or_none()
        if task is None:
            raise LookupError(f"没有编号为 {task_id} 的回拨任务")
        if task.status != OPEN:
            raise WorkflowError("该回拨任务已经处理过了")
        if principal is not None and not principal.county_wide:
            raise ScopeError("未接来电的回拨由县级话务员处理")
        task.attempts += 1
        task.last_attempt_at = now
        task.note = (note or "").strip() or ("已回拨接通" if reached else "回拨未接通")
        if reached or give_up:
            task.status = DONE if reached else CANCELLED
            task.closed_at, task.closed_by, task.retry_at = now, actor, None
        else:
            task.retry_at = next_try(calendar, now, options)
        add_audit(session, principal, "phone:callback_attempt", ip=ip, target_type="phone_callback",
                  target_id=task.id, detail={"reached": reached, "give_up": give_up, "attempts": task.attempts})
        return task.status


def next_try(calendar: WorkCalendar, last_attempt: datetime, options: PhoneOptions) -> datetime:
    """When an unreached call back is due again: ``retry_minutes`` later, moved to the next office
    opening (working days, ``HCP_OFFICE_HOURS``) when that falls in the lunch break, the evening,
    a weekend or a holiday — nobody is at the phones then, and citizens are not called at night."""
    candidate = last_attempt + timedelta(minutes=options.retry_minutes)
    return calendar.add_office_time(candidate, timedelta(0)).at


@dataclass(frozen=True, slots=True)
class Callback:
    """One entry of the call-back list, personal data masked."""

    ref: str
    kind: str
    label: str
    due_at: datetime
    countdown: Countdown
    phone: str
    name: str = ""
    case_code: str | None = None
    hall: str | None = None
    called_at: datetime | None = None
    attempts: int = 0
    retry_at: datetime | None = None
    last_note: str | None = None
    task_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, tz: Any = None) -> dict[str, Any]:
        def show(moment: datetime | None) -> str | None:
            return moment.astimezone(tz).isoformat() if moment and tz else moment.isoformat() if moment else None

        return {"ref": self.ref, "kind": self.kind, "label": self.label, "due_at": show(self.due_at),
                "countdown": self.countdown.text, "level": self.countdown.level, "phone": self.phone,
                "name": self.name, "case_code": self.case_code, "hall": self.hall, "called_at": show(self.called_at),
                "attempts": self.attempts, "retry_at": show(self.retry_at), "last_note": self.last_note,
                "task_id": self.task_id}


async def _attempts(session: AsyncSession, case_ids: list[int]) -> dict[tuple[int, str], tuple[int, datetime, str]]:
    """Unreached attempts per (case, purpose): how many, the latest time, its note."""
    if not case_ids:
        return {}
    rows = (await session.execute(
        select(ReturnVisit.case_id, ReturnVisit.purpose, ReturnVisit.at, ReturnVisit.note, ReturnVisit.reached)
        .where(ReturnVisit.case_id.in_(case_ids)).order_by(ReturnVisit.at))).all()
    found: dict[tuple[int, str], tuple[int, datetime, str]] = {}
    for row in rows:
        key = (row.case_id, row.purpose)
        count = found[key][0] if key in found else 0
        found[key] = (count + (0 if row.reached else 1), row.at, row.note or ("回访未接通" if not row.reached else ""))
    return found


async def open_callbacks(services: Services, *, now: datetime | None = None,
                         town_filter: frozenset[str] | None = None, limit: int = 200,
                         options: PhoneOptions | None = None) -> list[Callback]:
    """Everything waiting for a call back, most urgent first (see the module docstring)."""
    now = now or datetime.now(UTC)
    options = options or PhoneOptions()
    calendar = await services.calendar.get()
    cipher = services.cipher
    entries: list[Callback] = []
    async with services.store.read() as session:
        if town_filter is None:
            tasks = (await session.execute(select(CallbackTask).where(CallbackTask.status == OPEN)
                                           .order_by(CallbackTask.due_at).limit(limit))).scalars()
            for task in tasks:
                entries.append(Callback(
                    ref=f"task:{task.id}", kind=task.kind, label=KIND_LABELS.get(task.kind, task.kind),
                    due_at=task.due_at, countdown=countdown(task.due_at, now),
                    phone=mask_phone(cipher.open(task.phone_enc)), called_at=task.called_at, attempts=task.attempts,
                    retry_at=task.retry_at, last_note=task.note, task_id=task.id))
        base = (select(Case, Hall.code, Hall.name, Contact)
                .join(Contact, Contact.case_id == Case.id).outerjoin(Hall, Hall.id == Case.hall_id)
                .where(Contact.phone_hash.is_not(None)))
        if town_filter is not None:
            base = base.where(Hall.code.in_(sorted(town_filter)))
        immediate = (await session.execute(base.where(
            Case.category == Category.IMMEDIATE.value, FIRST_RESPONSE_PENDING,
            Case.first_response_due.is_not(None), Case.status.not_in(OPEN_ELSEWHERE))
            .order_by(Case.first_response_due).limit(limit))).all()
        # The cases the workflow will not close before their visit (CaseFacts.needs_return_visit):
        # real-name 差评 and unrated complaints, unless found 不属实 / 恶意 — ``figures.RN_UNVISITED``,
        # the definition /supervise and /reports use too — still open.
        visits = (await session.execute(base.where(RN_UNVISITED, Case.status != CaseStatus.CLOSED.value)
            .order_by(Case.updated_at).limit(limit))).all()
        attempts = await _attempts(session, [row[0].id for row in (*immediate, *visits)])
    for rows, kind, purpose in ((immediate, "immediate", PURPOSE_CALL_BACK),
                                (visits, "return_visit", PURPOSE_RETURN_VISIT)):
        for case, _hall_code, hall_name, contact in rows:
            if kind == "immediate":
                due = case.first_response_due
            else:
                due = calendar.add_working_days(case.result_at or case.updated_at,
                                                options.return_visit_working_days).at
            count, last_at, last_note = attempts.get((case.id, purpose), (0, None, None))
            if kind == "return_visit" and last_at is not None and last_at < (case.result_at or case.updated_at):
                count, last_at, last_note = 0, None, None  # attempts before the reply were call backs
            entries.append(Callback(
                ref=f"case:{case.code}", kind=kind, label=KIND_LABELS[kind], due_at=due,
                countdown=countdown(due, now), phone=mask_phone(cipher.open(contact.phone_enc)),
                name=mask_name(cipher.open(contact.name_enc)), case_code=case.code, hall=hall_name,
                called_at=case.received_at, attempts=count,
                retry_at=next_try(calendar, last_at, options) if count and last_at else None,
                last_note=last_note or None))

    def urgency(entry: Callback) -> tuple[int, datetime]:
        waiting = entry.retry_at is not None and entry.retry_at > now
        return (1 if waiting else 0, entry.retry_at if waiting and entry.retry_at else entry.due_at)

    entries.sort(key=urgency)
    return entries[:limit]


async def reveal_phone(services: Services, ref: str, who: Principal, *, ip: str | None = None) -> str | None:
    """The full number behind a call-back entry (``task:ID`` or ``case:CODE``), audited."""
    if not who.may_reveal_personal_data:
        raise ScopeError("您的角色无权查看群众完整个人信息")
    kind, _, key = ref.partition(":")
    async with services.store.write() as session:
        if kind == "task" and key.isdigit():
            task = await session.get(CallbackTask, int(key))
            if task is None:
                raise LookupError("没有这个回拨任务")
            if not who.county_wide:
                raise ScopeError("未接来电的回拨由县级话务员处理")
            sealed, target_type, target = task.phone_enc, "phone_callback", str(task.id)
        elif kind == "case" and key:
            row = (await session.execute(
                select(Contact.phone_enc, Hall.code).select_from(Case).join(Contact, Contact.case_id == Case.id)
                .outerjoin(Hall, Hall.id == Case.hall_id).where(Case.code == key))).first()
            if row is None:
                raise CaseNotFound(key)
            if not who.can_access_town(row.code):
                raise ScopeError("无权处理其他乡镇的案件")
            sealed, target_type, target = row.phone_enc, "case", key
        else:
            raise LookupError("无法识别的回拨条目")
        add_audit(session, who, "reveal_personal_data", ip=ip, target_type=target_type, target_id=target,
                  detail={"field": "phone", "purpose": "call_back"})
    return services.cipher.open(sealed)


async def visits_of(services: Services, case_code: str) -> list[dict[str, Any]]:
    """The case's call backs, oldest first (for the case page)."""
    async with services.store.read() as session:
        case_id = (await session.execute(select(Case.id).where(Case.code == case_code))).scalar_one_or_none()
        if case_id is None:
            raise CaseNotFound(case_code)
        rows = (await session.execute(select(ReturnVisit).where(ReturnVisit.case_id == case_id)
                                      .order_by(ReturnVisit.at, ReturnVisit.id))).scalars()
        return [{"id": v.id, "purpose": v.purpose, "at": v.at.isoformat(), "who": v.who, "reached": v.reached,
                 "satisfied": v.satisfied, "note": v.note, "problem_solved": v.problem_solved,
                 "rectification_satisfaction": v.rectification_satisfaction,
                 "policy_awareness": v.policy_awareness, "convenience": v.convenience,
                 "service_satisfaction": v.service_satisfaction} for v in rows]


async def open_task_count(services: Services) -> int:
    async with services.store.read() as session:
        return int((await session.execute(select(func.count()).select_from(CallbackTask)
                                          .where(CallbackTask.status == OPEN))).scalar_one())
