"""Staff console: the start page, the case list and the case page with every handling step.

Each POST does one thing through ``gateway.console.actions`` (which checks town scope itself and
writes the timeline event and the audit entry in the same transaction), then redirects back to
the case (303).  A refused step re-renders the case page with the reason and a 4xx status.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from channels.contact import normalize_phone
from gateway.auth.access import current_user, require_town, staff
from gateway.auth.audit import audit, client_ip
from gateway.auth.roles import ROLES, Principal
from gateway.console import actions as case_actions
from gateway.console.actions import APPEAL_VERDICTS, REPLY_CHANNELS, Actor, PersonalDataInPublicReply, ScopeError
from gateway.console.queries import MAX_ID, WORK_LISTS, list_cases
from gateway.console.workload import work_counts
from gateway.core.cases import CaseNotFound, contact_view
from gateway.core.db.models import (
    Attachment,
    Blob,
    Case,
    CaseEvent,
    Contact,
    Hall,
    Message,
    OutboxMessage,
    ServiceItem,
    Window,
)
from gateway.core.db.models_staff import User
from gateway.core.domain import CaseStatus, Category
from gateway.core.labels import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    EVENT_LABELS,
    FILE_REMOVED,
    MESSAGE_CHANNEL_LABELS,
    MESSAGE_NOTICE_LABELS,
    STATUS_LABELS,
    WORK_LIST_LABELS,
)
from gateway.core.registry import list_halls
from gateway.core.sms_config import sms_ready
from gateway.core.workflow import Transition, WorkflowError, allowed_actions, facts_of
from gateway.phone.options import PhoneOptions
from gateway.phone.return_visits import PROBLEM_SOLVED, Questionnaire, record_visit
from gateway.sms.delivery import deliveries_by_key
from gateway.ui.files import file_response
from gateway.ui.format import countdown
from gateway.ui.notices import notice, notice_url
from gateway.ui.staff_nav import staff_nav

VIEWERS = ("operator", "triage", "handler", "supervisor")
HANDLERS = ("handler", "supervisor")


def _actor(request: Request) -> Actor:
    user = current_user(request)
    assert user is not None
    return Actor(user, client_ip(request))


def _code(request: Request) -> str:
    return request.path_params["code"].strip().upper()


def _form_text(form: Any, name: str, limit: int = 4000) -> str:
    value = form.get(name)
    return str(value).strip()[:limit] if value is not None else ""


@staff(*ROLES)
async def console(request: Request) -> Response:
    """The start page: the areas of this person's roles with what waits in each (``workload``), and
    what is failing for those who fix it."""
    user = current_user(request)
    assert user is not None
    failed = 0
    if user.has("admin", "supervisor"):
        async with request.app.state.services.store.read() as session:
            failed = (await session.execute(select(func.count()).select_from(OutboxMessage)
                                            .where(OutboxMessage.status == "failed"))).scalar_one()
    areas = staff_nav(user)
    work = await work_counts(request.app.state.services, user, areas, datetime.now(UTC),
                             getattr(request.app.state, "phone_options", None))
    return request.app.state.templates.TemplateResponse(request, "console.html", {
        "areas": areas, "work": work, "outbox_failed": failed})


@staff(*VIEWERS)
async def cases_page(request: Request) -> Response:
    return await _render_cases(request, phone="")


@staff(*VIEWERS)
async def search_phone(request: Request) -> Response:
    """Cases of one phone number, found through its keyed hash.  A POST, so the number never
    appears in a URL, a proxy log or the browser history; the search is audited (not the number)."""
    form = await request.form()
    return await _render_cases(request, phone=str(form.get("phone", "")).strip()[:32])


async def _render_cases(request: Request, *, phone: str) -> Response:
    user = current_user(request)
    assert user is not None
    services = request.app.state.services
    params = request.query_params
    filters = {key: params.get(key) or None for key in ("status", "category", "hall", "channel", "code")}
    if filters["status"] and filters["status"] not in (*CaseStatus.__members__.values(), *WORK_LISTS):
        raise HTTPException(400, "未知的状态筛选")
    before = params.get("before")
    if before and not (before.isascii() and before.isdigit() and int(before) <= MAX_ID):
        raise HTTPException(400, "翻页参数无效（链接可能不完整），请从第一页重新打开")
    overdue = params.get("overdue") == "1"
    phone_hash = None
    if phone:
        try:
            phone_hash = services.cipher.search_hash(normalize_phone(phone))
        except ValueError:
            raise HTTPException(400, "电话号码格式不正确") from None
        await audit(services.store, request, user, "search_phone", target_type="cases")
    async with services.store.read() as session:
        rows = await list_cases(session, services.cipher, towns=user.town_filter(), limit=50,
                                before_id=int(before) if before else None,
                                overdue_at=datetime.now(UTC) if overdue else None, phone_hash=phone_hash,
                                **filters)
    halls = [h for h in await list_halls(services.store) if user.can_access_town(h.code)]
    query = {k: v for k, v in {**filters, "overdue": "1" if overdue else None}.items() if v}
    return request.app.state.templates.TemplateResponse(request, "cases.html", {
        "rows": rows, "filters": filters, "overdue": overdue, "halls": halls, "query": query, "phone": phone,
        "next_before": rows[-1].case.id if len(rows) == 50 and not phone else None,
        "statuses": STATUS_LABELS, "work_lists": WORK_LIST_LABELS, "categories": CATEGORY_LABELS,
        "channels": CHANNEL_LABELS,
    })


def _offered_actions(case: Case, user: Principal) -> list[Transition]:
    """The workflow buttons this person may press now: handlers and supervisors every legal move
    (except the triage and return-visit steps, which have their own pages), the triage team only
    flagging for review and sending back, other roles none."""
    # "reply" has its own form (text and channel); a second 答复群众 button beside it confused people.
    legal = [t for t in allowed_actions(facts_of(case))
             if t.action not in ("triage", "review", "return_visit", "reply")]
    if not user.has("supervisor"):
        legal = [t for t in legal if t.action != "reopen_closed"]
    if user.has(*HANDLERS):
        return legal
    if user.has("triage"):
        return [t for t in legal if t.action in ("flag_for_review", "send_back")]
    return []


async def _case_context(request: Request, code: str, *, revealed: dict[str, Any] | None = None) -> dict[str, Any]:
    services = request.app.state.services
    async with services.store.read() as session:
        row = (await session.execute(
            select(Case, Hall).outerjoin(Hall, Hall.id == Case.hall_id).where(Case.code == code))).first()
        if row is None:
            raise HTTPException(404, f"没有受理编号为 {code} 的案件")
        case, hall = row
        require_town(request, hall.code if hall else None)
        window = await session.get(Window, case.window_id) if case.window_id else None
        item = await session.get(ServiceItem, case.service_item_id) if case.service_item_id else None
        contact = (await session.execute(select(Contact).where(Contact.case_id == case.id))).scalar_one_or_none()
        messages = list((await session.execute(
            select(Message).where(Message.case_id == case.id).order_by(Message.id))).scalars())
        attachments: dict[int, list[Attachment]] = {}
        if messages:
            for attachment in (await session.execute(select(Attachment).where(
                    Attachment.message_id.in_([m.id for m in messages])).order_by(Attachment.id))).scalars():
                attachments.setdefault(attachment.message_id, []).append(attachment)
        events = list((await session.execute(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))).scalars())
        raw_shas = [m.raw_sha256 for m in messages if m.raw_sha256]
        raw_types = dict((await session.execute(select(Blob.sha256, Blob.media_type).where(
            Blob.sha256.in_(raw_shas)))).all()) if raw_shas else {}
        deliveries = await deliveries_by_key(session, case.id, services.settings.timezone)
        names = dict((await session.execute(select(User.username, User.display_name).where(
            User.username.in_({e.actor for e in events})))).all()) if events else {}
    halls = await list_halls(services.store)
    user = current_user(request)
    assert user is not None
    # The reply form offers only a way that can reach this citizen: SMS when an SMS can actually
    # leave (gateway/core/sms_config.py) and they left a number, e-mail and WeChat when they left an
    # address or came by WeChat; 电话 (a call already made, recorded here) always.
    reachable = {"sms": bool(contact and contact.phone_enc) and sms_ready(services.settings),
                 "email": bool(contact and contact.email_enc), "wechat": bool(contact and contact.wechat_enc)}
    reply_choices = {code: label for code, label in REPLY_CHANNELS.items() if reachable.get(code, True)}
    visit_due = None
    if case.status == CaseStatus.REPLIED.value and facts_of(case).needs_return_visit:
        # Answered, but a real-name 差评 must still be visited: that is the deadline now, not the
        # result's (already met, "已完成"); the same date as the call-back list's.
        calendar = await services.calendar.get()
        visit_due = countdown(calendar.add_working_days(case.result_at or case.updated_at,
                                                        PhoneOptions().return_visit_working_days).at)
    return {
        "actor_names": names, "visit_due": visit_due,
        "case": case, "hall": hall, "window": window, "item": item,
        "contact": revealed or contact_view(contact, services.cipher, reveal=False), "revealed": revealed is not None,
        "messages": messages, "attachments": attachments, "events": events, "raw_types": raw_types,
        # Messages whose raw original the retention job removed (their events name them).
        "raw_removed": {m for e in events if e.kind == "retention" for m in (e.data or {}).get("raw_messages", ())},
        "actions": _offered_actions(case, user),
        "can_reply": any(t.action == "reply" for t in allowed_actions(facts_of(case))),
        "halls": halls, "reply_channels": REPLY_CHANNELS, "problem_solved": PROBLEM_SOLVED,
        "reply_choices": reply_choices, "reply_default": case.reply_channel if case.reply_channel in reply_choices
        else "phone", "deliveries": deliveries,
        "appeal_verdicts": APPEAL_VERDICTS,
        "event_labels": EVENT_LABELS, "message_notices": MESSAGE_NOTICE_LABELS,
        "statuses": STATUS_LABELS, "categories": CATEGORY_LABELS,
        "channels": MESSAGE_CHANNEL_LABELS, "finished": case.status == CaseStatus.CLOSED.value,
        "category": Category(case.category) if case.category else None,
    }


async def _render_case(request: Request, code: str, *, error: str | None = None, status: int = 200,
                       revealed: dict[str, Any] | None = None, reply_draft: str | None = None,
                       reply_public: bool = False) -> Response:
    context = await _case_context(request, code, revealed=revealed)
    context["error"] = error
    context["message"] = notice(request.query_params) if not error else None
    context["reply_draft"], context["reply_public"] = reply_draft, reply_public
    return request.app.state.templates.TemplateResponse(request, "case.html", context, status_code=status)


@staff(*VIEWERS)
async def case_page(request: Request) -> Response:
    return await _render_case(request, _code(request))


async def _act(request: Request, operation: Any, done: str | None = None, **values: str) -> Response:
    """Run one case operation; redirect to the case on success (with the ``done`` notice and its
    ``values``, so the clerk sees which step took), re-render it with the reason on refusal."""
    code = _code(request)
    form = await request.form()
    try:
        await operation(code, _actor(request), form)
    except CaseNotFound:
        raise HTTPException(404, f"没有受理编号为 {code} 的案件") from None
    except ScopeError as exc:
        raise HTTPException(403, str(exc)) from None
    except PersonalDataInPublicReply as exc:
        return await _render_case(request, code, error=str(exc), status=409, reply_draft=exc.scrubbed,
                                  reply_public=True)
    except (WorkflowError, ValueError) as exc:
        # A refused reply comes back in its box: the handler never types an answer twice.
        draft = _form_text(form, "text") if "text" in form else None
        return await _render_case(request, code, error=str(exc), status=409, reply_draft=draft,
                                  reply_public=form.get("public") == "1")
    if done:
        return RedirectResponse(notice_url(f"/cases/{code}", done, case=code, **values), status_code=303)
    return RedirectResponse(f"/cases/{code}", status_code=303)


@staff("handler", "supervisor", "triage")
async def move(request: Request) -> Response:
    async def operation(code: str, actor: Actor, form: Any) -> None:
        action = _form_text(form, "action", 40)
        if action in ("triage", "review", "return_visit"):
            raise WorkflowError("该操作请在分拣复核或回访页面进行")
        if not actor.principal.has(*HANDLERS) and action != "flag_for_review" and action != "send_back":
            raise ScopeError("分拣组只能转人工复核或退回分拣")
        await case_actions.transition(request.app.state.services, code, action, actor, _form_text(form, "note"))

    form = await request.form()
    return await _act(request, operation, "case_moved", step=_form_text(form, "action", 40))


@staff(*HANDLERS)
async def reply(request: Request) -> Response:
    async def operation(code: str, actor: Actor, form: Any) -> None:
        await case_actions.reply(request.app.state.services, code, actor, _form_text(form, "text"),
                                 channel=_form_text(form, "channel", 10), public=form.get("public") == "1")

    response = await _act(request, operation)
    if response.status_code == 303:  # a phone answer was given on the phone: it is recorded, not sent
        form = await request.form()
        done = "reply_recorded" if _form_text(form, "channel", 10) == "phone" else "reply_queued"
        return RedirectResponse(notice_url(f"/cases/{_code(request)}", done, case=_code(request)), status_code=303)
    return response


@staff("operator", "handler", "supervisor")
async def contact(request: Request) -> Response:
    """A call to the citizen: before the reply it is the call back (stops the first-response clock
    when reached); after the reply it is the return visit (回访) with its questionnaire."""

    async def operation(code: str, actor: Actor, form: Any) -> None:
        reached = form.get("reached") == "1"
        satisfied = {"1": True, "0": False}.get(str(form.get("satisfied", "")))
        answers = None
        if reached:
            def score(name: str) -> int | None:
                value = _form_text(form, name, 2)
                return int(value) if value.isdigit() else None

            answers = Questionnaire(
                problem_solved=_form_text(form, "problem_solved", 10) or None,
                rectification_satisfaction=_form_text(form, "rectification_satisfaction", 20) or None,
                policy_awareness=score("policy_awareness"), convenience=score("convenience"),
                service_satisfaction=score("service_satisfaction"))
        await record_visit(request.app.state.services, code, reached=reached, who=actor.principal,
                           satisfied=satisfied if reached else None, note=_form_text(form, "note") or None,
                           questionnaire=answers, ip=actor.ip)

    return await _act(request, operation, "contact_recorded")


@staff(*HANDLERS)
async def note(request: Request) -> Response:
    async def operation(code: str, actor: Actor, form: Any) -> None:
        await case_actions.add_note(request.app.state.services, code, actor, _form_text(form, "note"))

    return await _act(request, operation, "case_noted", event="rectification_note")


@staff("supervisor")
async def urge(request: Request) -> Response:
    async def operation(code: str, actor: Actor, form: Any) -> None:
        await case_actions.urge(request.app.state.services, code, actor, _form_text(form, "note"))

    return await _act(request, operation, "case_noted", event="urge")


@staff("handler", "supervisor", "triage")
async def transfer(request: Request) -> Response:
    async def operation(code: str, actor: Actor, form: Any) -> None:
        await case_actions.transfer(request.app.state.services, code, actor, to_hall=_form_text(form, "hall", 32),
                                    department=_form_text(form, "department", 100), reason=_form_text(form, "reason"))

    return await _act(request, operation, "case_noted", event="transfer")


@staff(*HANDLERS)
async def pause(request: Request) -> Response:
    async def operation(code: str, actor: Actor, form: Any) -> None:
        await case_actions.pause(request.app.state.services, code, actor, _form_text(form, "note"))

    return await _act(request, operation, "case_noted", event="pause")


@staff(*HANDLERS)
async def resume(request: Request) -> Response:
    async def operation(code: str, actor: Actor, form: Any) -> None:
        await case_actions.resume(request.app.state.services, code, actor, _form_text(form, "note") or None)

    return await _act(request, operation, "case_noted", event="resume")


@staff(*HANDLERS)
async def coordinate(request: Request) -> Response:
    async def operation(code: str, actor: Actor, form: Any) -> None:
        try:
            new_date = date.fromisoformat(_form_text(form, "new_date", 10))
        except ValueError:
            raise WorkflowError("请填写新的办理期限（日期）") from None
        await case_actions.notify_new_date(request.app.state.services, code, actor,
                                           reason=_form_text(form, "reason"), new_date=new_date)

    return await _act(request, operation, "case_noted", event="coordinated_notice")


@staff("handler")
async def appeal(request: Request) -> Response:
    async def operation(code: str, actor: Actor, form: Any) -> None:
        await case_actions.appeal(request.app.state.services, code, actor, claim=_form_text(form, "claim", 20),
                                  evidence=_form_text(form, "evidence"))

    return await _act(request, operation, "case_noted", event="appeal")


@staff("supervisor")
async def decide_appeal(request: Request) -> Response:
    async def operation(code: str, actor: Actor, form: Any) -> None:
        decision = _form_text(form, "decision", 10)
        if decision not in ("uphold", "reject"):
            raise WorkflowError("请选择支持或驳回申诉")
        await case_actions.decide_appeal(request.app.state.services, code, actor, upheld=decision == "uphold",
                                         note=_form_text(form, "note"))

    return await _act(request, operation, "case_noted", event="appeal_decided")


@staff("operator", "handler", "supervisor")
async def reveal(request: Request) -> Response:
    """Show the full contact once, on this response only; the audit log records who looked."""
    code = _code(request)
    form = await request.form()
    try:
        revealed = await case_actions.reveal_contact(request.app.state.services, code, _actor(request),
                                                     _form_text(form, "reason", 200) or None)
    except CaseNotFound:
        raise HTTPException(404, f"没有受理编号为 {code} 的案件") from None
    except ScopeError as exc:
        raise HTTPException(403, str(exc)) from None
    return await _render_case(request, code, revealed=revealed)


async def _removed_by_retention(session: AsyncSession, case_id: int, sha: str) -> bool:
    """Whether the retention job removed this file of the case (its event lists the files)."""
    events = (await session.execute(select(CaseEvent.data).where(
        CaseEvent.case_id == case_id, CaseEvent.kind == "retention"))).scalars()
    return any(sha in (data or {}).get("files", ()) for data in events)


@staff(*VIEWERS)
async def case_file(request: Request) -> Response:
    """An attachment or scanned page of a case, only to staff who may see the case."""
    code, sha = _code(request), request.path_params["sha"]
    services = request.app.state.services
    async with services.store.read() as session:
        row = (await session.execute(
            select(Case.id, Hall.code).outerjoin(Hall, Hall.id == Case.hall_id).where(Case.code == code))).first()
        if row is None:
            raise HTTPException(404, "找不到该文件")
        require_town(request, row[1])
        owned = (await session.execute(
            select(Attachment.name, Attachment.media_type).join(Message, Message.id == Attachment.message_id)
            .where(Message.case_id == row[0], Attachment.sha256 == sha).limit(1))).first()
        raw = None if owned else (await session.execute(
            select(Message.id).where(Message.case_id == row[0], Message.raw_sha256 == sha).limit(1))).first()
        if owned is None and raw is None:
            if await _removed_by_retention(session, row[0], sha):
                raise HTTPException(410, FILE_REMOVED)
            raise HTTPException(404, "找不到该文件")
        blob = await session.get(Blob, sha)
    if blob is None:
        raise HTTPException(404, "找不到该文件")
    media_type = owned.media_type if owned else blob.media_type
    return file_response(blob.data, media_type, sha[:12])


routes = [
    Route("/console", console, methods=["GET"], name="console"),
    Route("/cases", cases_page, methods=["GET"], name="cases"),
    Route("/cases/search-phone", search_phone, methods=["POST"], name="cases_search_phone"),
    Route("/cases/{code}", case_page, methods=["GET"], name="case"),
    Route("/cases/{code}/move", move, methods=["POST"], name="case_move"),
    Route("/cases/{code}/reply", reply, methods=["POST"], name="case_reply"),
    Route("/cases/{code}/contact", contact, methods=["POST"], name="case_contact"),
    Route("/cases/{code}/note", note, methods=["POST"], name="case_note"),
    Route("/cases/{code}/urge", urge, methods=["POST"], name="case_urge"),
    Route("/cases/{code}/transfer", transfer, methods=["POST"], name="case_transfer"),
    Route("/cases/{code}/pause", pause, methods=["POST"], name="case_pause"),
    Route("/cases/{code}/resume", resume, methods=["POST"], name="case_resume"),
    Route("/cases/{code}/coordinate", coordinate, methods=["POST"], name="case_coordinate"),
    Route("/cases/{code}/appeal", appeal, methods=["POST"], name="case_appeal"),
    Route("/cases/{code}/appeal/decide", decide_appeal, methods=["POST"], name="case_appeal_decide"),
    Route("/cases/{code}/reveal", reveal, methods=["POST"], name="case_reveal"),
    Route("/cases/{code}/files/{sha}", case_file, methods=["GET"], name="case_file"),
]
