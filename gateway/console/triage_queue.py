"""The triage team's review queue: auto-classified items, most urgent first, with the matched terms
highlighted; accept, or change the category and reason, one key per action; bulk accept.

A correction goes through ``gateway.core.cases.reclassify``, which stores it for ``hcp triage suggest``
and recomputes the deadlines from the time the item was received.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.auth.access import current_user, staff
from gateway.auth.audit import add_audit, client_ip
from gateway.console.queries import parse_cursor, queue_cursor, triage_queue
from gateway.core.cases import TRIAGE_REASONS, CaseNotFound, reclassify
from gateway.core.db.models import Case, Hall, TriageCorrection
from gateway.core.deadlines import DeadlinePolicy
from gateway.core.domain import CaseStatus, Category
from gateway.core.labels import CATEGORY_LABELS, CHANNEL_LABELS, TRIAGE_REASON_LABELS
from gateway.core.workflow import WorkflowError, apply_transition
from gateway.ui.notices import notice, notice_url

TRIAGE_ROLES = ("triage", "supervisor")
PAGE = 50


def highlight(text: str, terms: list[dict]) -> Markup:
    """``text`` escaped, with every occurrence of the matched triage terms in ``<mark>``."""
    words = sorted({str(t.get("term", "")) for t in terms if t.get("term")}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words))
    parts: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        parts.append(str(escape(text[position:match.start()])))
        parts.append(f"<mark>{escape(match.group())}</mark>")
        position = match.end()
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts))


async def automatic_categories(session: AsyncSession, case_ids: list[int]) -> dict[int, str | None]:
    """The category the classifier gave each corrected case (its first correction's old label), by
    case id; cases nobody corrected are absent.  The page shows the current category as the case's
    own and this one as secondary text."""
    if not case_ids:
        return {}
    first = (select(TriageCorrection.case_id, func.min(TriageCorrection.id).label("id"))
             .where(TriageCorrection.case_id.in_(case_ids)).group_by(TriageCorrection.case_id).subquery())
    rows = await session.execute(select(TriageCorrection.case_id, TriageCorrection.old_label)
                                 .join(first, first.c.id == TriageCorrection.id))
    return {case_id: label for case_id, label in rows.all()}


@staff(*TRIAGE_ROLES)
async def queue_page(request: Request) -> Response:
    user = current_user(request)
    assert user is not None
    mode = "auto" if request.query_params.get("mode") == "auto" else "review"
    services = request.app.state.services
    async with services.store.read() as session:
        rows = await triage_queue(session, services.cipher, towns=user.town_filter(), mode=mode, limit=PAGE,
                                  after=parse_cursor(request.query_params.get("after")))
        automatic = await automatic_categories(session, [row.case.id for row in rows])
    check_rules = getattr(services.classifier, "check_rules", None)
    rules = await check_rules() if check_rules is not None else None
    return request.app.state.templates.TemplateResponse(request, "triage.html", {
        "rules": rules, "rows": rows, "mode": mode, "automatic": automatic, "highlight": highlight,
        "categories": CATEGORY_LABELS,
        "reasons": {c.value: [(r, TRIAGE_REASON_LABELS[r]) for r in TRIAGE_REASONS[c]] for c in Category},
        "channels": CHANNEL_LABELS, "next_after": queue_cursor(rows[-1]) if len(rows) == PAGE else None,
        "message": notice(request.query_params),
    })


async def _accept(request: Request, codes: list[str]) -> int:
    """Release the cases from review with their automatic category; return how many were accepted."""
    user = current_user(request)
    assert user is not None
    services = request.app.state.services
    accepted = 0
    async with services.store.write() as session:
        rows = (await session.execute(
            select(Case, Hall.code).outerjoin(Hall, Hall.id == Case.hall_id).where(Case.code.in_(codes))
            .with_for_update(of=Case))).all()
        for case, hall_code in rows:
            if not user.can_access_town(hall_code):
                raise HTTPException(403, "无权处理其他乡镇的案件")
            if case.status != CaseStatus.NEEDS_REVIEW.value:
                continue
            case.needs_review = False
            await apply_transition(session, case.id, "review", actor=user.username, note="确认自动分类",
                                   data={"accepted": [case.category, case.reason]})
            add_audit(session, user, "triage_accept", ip=client_ip(request), target_type="case", target_id=case.code)
            accepted += 1
    return accepted


@staff(*TRIAGE_ROLES)
async def accept(request: Request) -> Response:
    code = request.path_params["code"].upper()
    if not await _accept(request, [code]):
        raise HTTPException(409, f"{code} 不在待复核队列中（可能已被他人处理）")
    return RedirectResponse(notice_url("/triage", "triage_accepted", case=code), status_code=303)


@staff(*TRIAGE_ROLES)
async def accept_many(request: Request) -> Response:
    form = await request.form()
    codes = [str(code).upper() for code in form.getlist("codes")][:PAGE * 4]
    if not codes:
        raise HTTPException(400, "请先勾选要确认的条目")
    accepted = await _accept(request, codes)
    return RedirectResponse(notice_url("/triage", "triage_accepted_many", n=accepted), status_code=303)


@staff(*TRIAGE_ROLES)
async def relabel(request: Request) -> Response:
    user = current_user(request)
    assert user is not None
    code = request.path_params["code"].upper()
    form = await request.form()
    label, reason = str(form.get("label", "")), str(form.get("reason", "")) or None
    if label not in Category.__members__.values():
        raise HTTPException(400, "请选择整改类别")
    if reason is None:
        reason = TRIAGE_REASONS[Category(label)][0]
    elif reason not in TRIAGE_REASONS[Category(label)]:
        allowed = "、".join(TRIAGE_REASON_LABELS[r] for r in TRIAGE_REASONS[Category(label)])
        raise HTTPException(400, f"原因“{TRIAGE_REASON_LABELS.get(reason, '未知原因')}”不属于"
                                 f"“{CATEGORY_LABELS[Category(label)]}”，请从该类别的原因中选择：{allowed}。"
                                 "案件的分类没有改动。")
    services = request.app.state.services
    async with services.store.read() as session:
        hall_code = (await session.execute(select(Hall.code).join(Case, Case.hall_id == Hall.id)
                                           .where(Case.code == code))).scalar_one_or_none()
    if not user.can_access_town(hall_code):
        raise HTTPException(403, "无权处理其他乡镇的案件")
    try:
        calendar = await services.calendar.get()
        result = await reclassify(services.store, calendar, code, label, reason, actor=user.username,
                                  policy=DeadlinePolicy.from_settings(services.settings))
    except CaseNotFound:
        raise HTTPException(404, f"没有受理编号为 {code} 的案件") from None
    except WorkflowError as exc:
        raise HTTPException(409, str(exc)) from None
    async with services.store.write() as session:
        add_audit(session, user, "triage_relabel", ip=client_ip(request), target_type="case", target_id=code,
                  detail={"label": result.category, "reason": result.reason})
    return RedirectResponse(notice_url("/triage", "triage_relabelled", case=code, category=label), status_code=303)


routes = [
    Route("/triage", queue_page, methods=["GET"], name="triage_queue"),
    Route("/triage/accept", accept_many, methods=["POST"], name="triage_accept_many"),
    Route("/triage/{code}/accept", accept, methods=["POST"], name="triage_accept"),
    Route("/triage/{code}/label", relabel, methods=["POST"], name="triage_relabel"),
]
