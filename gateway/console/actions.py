"""What staff do to a case besides the plain state moves: reply on the citizen's channel, record a
first contact, transfer (转办), urge (督办), pause the clock while waiting for the citizen, appeal
a mistaken or malicious 差评 (误评申诉) and decide the appeal, add rectification notes, reveal
personal data.

Each operation runs in one write transaction that also writes the timeline event and the audit
entry, so the timeline, the audit log and the case never disagree.  Town scope is checked here
too (``_load_for``), not only in the routes, so no caller can forget it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.phone.numbers import is_mobile
from gateway.auth.audit import add_audit
from gateway.auth.roles import Principal
from gateway.core import cases as case_ops
from gateway.core.answered import mark_answer_delivered
from gateway.core.cases import CaseNotFound
from gateway.core.db.models import Case, CaseEvent, Contact, Hall, Message
from gateway.core.deadlines import DeadlinePolicy
from gateway.core.domain import CaseStatus, Category
from gateway.core.labels import REPLY_METHOD_LABELS
from gateway.core.outbox import OutgoingMessage, enqueue
from gateway.core.personal import PersonalDataCipher
from gateway.core.redact import public_findings, scrub_public
from gateway.core.sms_config import sms_ready
from gateway.core.workflow import EventSpec, WorkflowError, add_events, apply_transition

if TYPE_CHECKING:
    from gateway.core.services import Services

FINISHED = frozenset({CaseStatus.CLOSED.value})
REPLY_CHANNELS = {code: REPLY_METHOD_LABELS[code] for code in ("email", "sms", "wechat", "phone")}
APPEAL_VERDICTS = {"not_valid": "核实不属实", "malicious": "恶意评价"}


class ScopeError(PermissionError):
    """The person may not act on cases of this town."""


@dataclass(frozen=True)
class Actor:
    """Who acts and from where (for the timeline and the audit log)."""

    principal: Principal
    ip: str | None = None

    @property
    def name(self) -> str:
        return self.principal.username


async def _load_for(session: AsyncSession, code: str, actor: Actor, *, lock: bool = True) -> tuple[Case, str | None]:
    query = select(Case, Hall.code).outerjoin(Hall, Hall.id == Case.hall_id).where(Case.code == code)
    if lock:
        query = query.with_for_update(of=Case)
    row = (await session.execute(query)).first()
    if row is None:
        raise CaseNotFound(code)
    case, hall_code = row
    if not actor.principal.can_access_town(hall_code):
        raise ScopeError("无权处理其他乡镇的案件")
    return case, hall_code


def _not_finished(case: Case) -> None:
    if case.status in FINISHED:
        raise WorkflowError("该案件已办结，不能再进行此操作")


#: The timeline events a person records here, each audited under its own kind (the audit log's filter
#: offers them: ``gateway.console.supervise``).
AUDITED_EVENTS: tuple[str, ...] = ("rectification_note", "urge", "transfer", "pause", "resume",
                                   "coordinated_notice", "appeal")


async def _event(session: AsyncSession, case: Case, actor: Actor, kind: str, *, now: datetime,
                 note: str | None = None, data: dict[str, Any] | None = None) -> None:
    assert kind in AUDITED_EVENTS, kind  # the audit filter must know every kind audited here
    await session.run_sync(add_events, case.id, now, [EventSpec(kind=kind, actor=actor.name, note=note,
                                                                data=data or {})])
    add_audit(session, actor.principal, kind, ip=actor.ip, target_type="case", target_id=case.code,
              detail=data or {})


def _required(note: str | None, what: str) -> str:
    if not note or not note.strip():
        raise WorkflowError(f"请填写{what}")
    return note.strip()


async def transition(services: Services, code: str, action: str, actor: Actor, note: str | None = None) -> str:
    """A workflow move (``gateway.core.workflow``) by a person, with the audit entry; return the new state."""
    if action == "reopen_closed":
        return (await reopen(services, code, actor, note or "")).status
    now = datetime.now(UTC)
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor)
        case = await apply_transition(session, case.id, action, actor=actor.name, note=note, now=now,
                                      max_visit_attempts=services.settings.return_visit_attempts)
        add_audit(session, actor.principal, f"case:{action}", ip=actor.ip, target_type="case", target_id=code)
        return case.status


class PersonalDataInPublicReply(WorkflowError):
    """A reply marked public names the citizen or holds personal data; ``scrubbed`` is the text
    with it replaced, which the handler reads and sends again (nothing is stored until then)."""

    def __init__(self, findings: list[str], scrubbed: str) -> None:
        super().__init__(f"公开答复中含有个人信息（{'、'.join(findings)}），已替换为 ***。"
                         "请核对下面的文本后再发送；不想公开请取消“作为公开答复”。")
        self.findings, self.scrubbed = findings, scrubbed


async def reply(services: Services, code: str, actor: Actor, text: str, *, channel: str,
                public: bool = False) -> str:
    """Answer the citizen: the ``reply`` move, an outbound message on the case, and (for e-mail and
    SMS) an outbox row to the address kept encrypted in ``contacts``.  ``phone`` records a call made.
    ``public`` replies are the ones the status lookup and the public page may show; one that names
    the citizen or holds personal data is refused with the scrubbed text for the handler to check."""
    text = _required(text, "答复内容")
    if channel not in REPLY_CHANNELS:
        raise WorkflowError(f"未知的答复方式 {channel!r}")
    if channel == "sms" and not sms_ready(services.settings):
        raise WorkflowError("短信未启用，请改用电话或邮件答复")
    now = datetime.now(UTC)
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor)
        if public:
            contact = (await session.execute(select(Contact).where(Contact.case_id == case.id))).scalar_one_or_none()
            name = services.cipher.open(contact.name_enc) if contact else None
            findings = public_findings(text, name)
            if findings:
                raise PersonalDataInPublicReply(findings, scrub_public(text, name))
        recipient = None
        in_reply_to = None
        if channel in ("email", "sms", "wechat"):
            contact = (await session.execute(select(Contact).where(Contact.case_id == case.id))).scalar_one_or_none()
            cipher: PersonalDataCipher = services.cipher
            sealed = {"email": "email_enc", "sms": "phone_enc", "wechat": "wechat_enc"}[channel]
            recipient = cipher.open(getattr(contact, sealed)) if contact else None
            if not recipient:
                missing = {"email": "邮箱", "sms": "手机号", "wechat": "微信（该群众不是通过公众号反映的）"}[channel]
                raise WorkflowError(f"该群众没有留下{missing}，请改用其他方式答复")
            if channel == "sms" and not is_mobile(recipient):
                raise WorkflowError("该群众留的是固定电话，收不到短信，请改用电话答复")
            if channel == "email":
                in_reply_to = (await session.execute(
                    select(Message.source_ref).where(Message.case_id == case.id, Message.channel == "email",
                                                     Message.direction == "in").order_by(Message.id).limit(1)
                )).scalar_one_or_none()
        case = await apply_transition(session, case.id, "reply", actor=actor.name, note=text, now=now,
                                      data={"channel": channel, "public": public})
        if case.first_responded_at is None:
            case.first_responded_at = now
        reply_count = len((await session.execute(
            select(Message.id).where(Message.case_id == case.id, Message.direction == "out"))).all())
        source_ref = f"reply:{case.code}:{reply_count + 1}"
        # An SMS answer may arrive as a notice pointing at the status lookup, which then shows it.
        session.add(Message(case_id=case.id, direction="out", channel=channel, source_ref=source_ref, at=now,
                            author=actor.name, subject=f"[{case.code}] 办理答复" if channel == "email" else None,
                            text=text, public=public,
                            extra={"to_citizen": True} if channel == "sms" else {}))
        if channel == "phone":  # a call made and logged: the citizen has the answer
            await session.execute(mark_answer_delivered(case.id, now))
        if recipient:
            outgoing = OutgoingMessage(
                channel=channel, kind="reply", recipient=recipient, subject=f"[{case.code}] 关于您反映问题的答复",
                body=(f"您好！关于您反映的问题（受理编号 {case.code}），答复如下：\n{text}\n\n"
                      "如有疑问请回复或致电服务大厅。"),
                case_id=case.id, dedup_key=source_ref,
                payload={"in_reply_to": in_reply_to, "tracking_code": case.code, "answer": text})
            await session.run_sync(lambda sync: enqueue(sync, services.cipher, outgoing, now=now))
        add_audit(session, actor.principal, "case:reply", ip=actor.ip, target_type="case", target_id=code,
                  detail={"channel": channel, "public": public})
        return case.status


async def reopen(services: Services, code: str, actor: Actor, reason: str) -> Case:
    """重新办理 by a supervisor: the closed case is handled again, deadlines restart from now, and
    the reason goes on the timeline and into the audit log."""
    if not actor.principal.has("supervisor"):
        raise ScopeError("只有督查人员可以重新办理已办结的案件")
    reason = _required(reason, "重新办理的理由")
    now = datetime.now(UTC)
    calendar = await services.calendar.get()
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor)
        case = await case_ops.reopen(services.store, calendar, code, actor=actor.name, reason=reason,
                                     policy=DeadlinePolicy.from_settings(services.settings), now=now, session=session)
        add_audit(session, actor.principal, "case:reopen_closed", ip=actor.ip, target_type="case", target_id=code,
                  note=reason, detail={"reopen_count": case.reopen_count})
        return case


async def add_note(services: Services, code: str, actor: Actor, note: str) -> None:
    """A rectification note (整改情况) on the timeline."""
    note = _required(note, "整改情况")
    now = datetime.now(UTC)
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor)
        _not_finished(case)
        case.updated_at = now
        await _event(session, case, actor, "rectification_note", now=now, note=note)


async def urge(services: Services, code: str, actor: Actor, note: str) -> None:
    """A supervisor's 督办: recorded on the case for the handler to see."""
    if not actor.principal.has("supervisor"):
        raise ScopeError("只有督查人员可以督办")
    note = _required(note, "督办意见")
    now = datetime.now(UTC)
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor)
        _not_finished(case)
        await _event(session, case, actor, "urge", now=now, note=note)


async def transfer(services: Services, code: str, actor: Actor, *, to_hall: str, department: str | None,
                   reason: str) -> None:
    """转办: hand the case to another town (and optionally a department), with the reason."""
    reason = _required(reason, "转办理由")
    now = datetime.now(UTC)
    async with services.store.write() as session:
        case, hall_code = await _load_for(session, code, actor)
        _not_finished(case)
        target = (await session.execute(select(Hall).where(Hall.code == to_hall))).scalar_one_or_none()
        if target is None:
            raise WorkflowError(f"没有代码为 {to_hall} 的乡镇")
        department = (department or "").strip()[:100] or None
        if target.code == hall_code and department == case.department:
            raise WorkflowError("转办目标与当前承办单位相同")
        case.hall_id, case.department, case.updated_at = target.id, department, now
        await _event(session, case, actor, "transfer", now=now, note=reason,
                     data={"from": hall_code, "to": target.code, "department": department})


async def pause(services: Services, code: str, actor: Actor, note: str) -> None:
    """Stop the clock while the case waits for the citizen (补充材料, an agreed later visit…)."""
    note = _required(note, "暂停原因")
    now = datetime.now(UTC)
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor)
        _not_finished(case)
        if case.paused_at is not None:
            raise WorkflowError("计时已经暂停")
        case.paused_at, case.updated_at = now, now
        await _event(session, case, actor, "pause", now=now, note=note)


async def resume(services: Services, code: str, actor: Actor, note: str | None = None) -> timedelta:
    """Restart the clock; every open deadline moves later by the time spent waiting."""
    now = datetime.now(UTC)
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor)
        if case.paused_at is None:
            raise WorkflowError("计时没有暂停")
        waited = now - case.paused_at
        if case.first_responded_at is None and case.first_response_due is not None:
            case.first_response_due += waited
        if case.result_at is None and case.result_due is not None:
            case.result_due += waited
        case.paused_seconds = (case.paused_seconds or 0) + int(waited.total_seconds())
        case.paused_at, case.updated_at = None, now
        await _event(session, case, actor, "resume", now=now, note=note,
                     data={"paused_seconds": int(waited.total_seconds())})
        return waited


async def notify_new_date(services: Services, code: str, actor: Actor, *, reason: str, new_date: date) -> datetime:
    """协调整改: the citizen has been told why the matter takes longer and by when it will be done.

    The case's result deadline becomes the end of office hours on ``new_date`` (Asia/Shanghai); the
    contact counts as the first response.  Returns the new deadline.
    """
    reason = _required(reason, "需要协调的理由")
    now = datetime.now(UTC)
    closing = services.settings.office_intervals[-1][1]
    due = datetime.combine(new_date, closing, tzinfo=ZoneInfo(services.settings.timezone))
    if due <= now:
        raise WorkflowError("新的办理期限必须晚于现在")
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor)
        _not_finished(case)
        if case.category != Category.COORDINATED.value:
            raise WorkflowError("只有协调整改类案件需要告知理由和新的办理期限")
        previous = case.result_due
        case.result_due, case.due_provisional, case.updated_at = due, False, now
        if case.first_responded_at is None:
            case.first_responded_at = now
        await _event(session, case, actor, "coordinated_notice", now=now, note=reason,
                     data={"old_due": previous.isoformat() if previous else None, "new_due": due.isoformat()})
        return due


async def appeal(services: Services, code: str, actor: Actor, *, claim: str, evidence: str) -> None:
    """误评申诉: the handler asks a supervisor to rule the 差评 mistaken (not valid) or malicious."""
    if claim not in APPEAL_VERDICTS:
        raise WorkflowError("申诉类型只能是“核实不属实”或“恶意评价”")
    evidence = _required(evidence, "申诉理由和证据")
    now = datetime.now(UTC)
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor)
        _not_finished(case)
        if case.appeal_status == "pending":
            raise WorkflowError("该案件已有待裁定的申诉")
        case.appeal_status, case.updated_at = "pending", now
        await _event(session, case, actor, "appeal", now=now, note=evidence, data={"claim": claim})


async def decide_appeal(services: Services, code: str, actor: Actor, *, upheld: bool, note: str) -> str:
    """A supervisor's ruling.  Upheld: the case takes the claimed verdict (not adopted into the
    statistics, per the seed) and leaves the rectification track.  Rejected: handling goes on."""
    if not actor.principal.has("supervisor"):
        raise ScopeError("只有督查人员可以裁定申诉")
    note = _required(note, "裁定意见")
    now = datetime.now(UTC)
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor)
        if case.appeal_status != "pending":
            raise WorkflowError("该案件没有待裁定的申诉")
        claim = (await session.execute(
            select(CaseEvent.data).where(CaseEvent.case_id == case.id, CaseEvent.kind == "appeal")
            .order_by(CaseEvent.id.desc()).limit(1))).scalar_one()["claim"]
        case.appeal_status = "upheld" if upheld else "rejected"
        previous = case.status
        if upheld:
            case.verdict = claim
            case.status = claim
            case.paused_at = None
        case.updated_at = now
        await session.run_sync(add_events, case.id, now, [EventSpec(
            kind="appeal_decided", actor=actor.name, from_status=previous, to_status=case.status, note=note,
            data={"upheld": upheld, "claim": claim})])
        add_audit(session, actor.principal, "appeal_decided", ip=actor.ip, target_type="case", target_id=code,
                  detail={"upheld": upheld, "claim": claim})
        return case.status


async def reveal_contact(services: Services, code: str, actor: Actor, reason: str | None = None) -> dict[str, Any]:
    """The citizen's full name, phone and e-mail, for a role that needs them; always audited."""
    if not actor.principal.may_reveal_personal_data:
        raise ScopeError("您的角色无权查看群众完整个人信息")
    async with services.store.write() as session:
        case, _ = await _load_for(session, code, actor, lock=False)
        contact = (await session.execute(select(Contact).where(Contact.case_id == case.id))).scalar_one_or_none()
        add_audit(session, actor.principal, "reveal_personal_data", ip=actor.ip, target_type="case",
                  target_id=code, note=reason)
    cipher = services.cipher
    if contact is None:
        return {"name": None, "phone": None, "email": None}
    return {"name": cipher.open(contact.name_enc), "phone": cipher.open(contact.phone_enc),
            "email": cipher.open(contact.email_enc)}
