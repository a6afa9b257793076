"""The triage team's review queue: auto-classified items, most urgent first, with the matched terms
highlighted; accept, or change the category and reason; bulk accept.

A number key or the category list only *chooses* a category: the clerk then picks the reason and
confirms.  A correction without a reason of its category is refused here (the page comes back with
the typed note), never completed with a reason nobody chose; the rule is ``reason_refusal``, shared
with ``hcp cases reclassify``.  A correction goes through
``gateway.core.cases.reclassify``, which stores it for ``hcp triage suggest`` and recomputes the
deadlines from the time the item was received.
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
from gateway.core.cases import TRIAGE_REASONS, CaseNotFound, reason_refusal, reclassify
from gateway.core.db.models import Case, CaseEvent, Hall, TriageCorrection
from gateway.core.db.models_staff import User
from gateway.core.deadlines import DeadlinePolicy
from gateway.core.domain import CaseStatus, Category
from gateway.core.labels import ACTION_LABELS, CATEGORY_LABELS, CHANNEL_LABELS, TRIAGE_REASON_LABELS, actor_label
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


# The workflow moves by which a person sends an item to this queue with a note to the triage team.
REVIEW_REQUESTS = ("flag_for_review", "send_back")
NOTE_LIMIT = 500


async def review_requests(session: AsyncSession, case_ids: list[int]) -> dict[int, dict[str, str]]:
    """The note sent with the latest 转人工复核 or 退回分拣 of each case, by case id: what it says,
    which move, and who sent it (in words); absent when that move had no note (an older note is about
    an earlier review).  The page shows it escaped beside the item."""
    if not case_ids:
        return {}
    latest = (select(CaseEvent.case_id, func.max(CaseEvent.id).label("id"))
              .where(CaseEvent.case_id.in_(case_ids), CaseEvent.kind.in_(REVIEW_REQUESTS))
              .group_by(CaseEvent.case_id).subquery())
    rows = (await session.execute(select(CaseEvent.case_id, CaseEvent.kind, CaseEvent.actor, CaseEvent.note)
                                  .join(latest, latest.c.id == CaseEvent.id)
                                  .where(CaseEvent.note.is_not(None), CaseEvent.note != ""))).all()
    actors = {actor for _, _, actor, _ in rows if actor}
    names = dict((await session.execute(select(User.username, User.display_name).where(
        User.username.in_(actors)))).all()) if actors else {}
    return {case_id: {"action": ACTION_LABELS[kind], "by": actor_label(actor, names), "note": note}
            for case_id, kind, actor, note in rows}


def _reason_options() -> dict[str, list[tuple[str, str]]]:
    return {c.value: [(r, TRIAGE_REASON_LABELS[r]) for r in TRIAGE_REASONS[c]] for c in Category}


def _missing_reason_messages() -> dict[str, str]:
    """What the page says, by category, when 确认改分类 is pressed with no reason chosen: the
    server's own refusal (``reason_refusal``), so the browser check and the server say the same
    thing, in Chinese whatever the browser's language."""
    return {c.value: reason_refusal(c.value, None) or "" for c in Category}


async def _render_queue(request: Request, mode: str, *, after: str | None = None, error: str | None = None,
                        draft: dict[str, str] | None = None, status_code: int = 200) -> Response:
    """The queue page; after a refused correction, with the refusal and that item's form as it was
    sent (category, reason, the typed note), so the clerk never types the note twice."""
    user = current_user(request)
    assert user is not None
    services = request.app.state.services
    async with services.store.read() as session:
        rows = await triage_queue(session, services.cipher, towns=user.town_filter(), mode=mode, limit=PAGE,
                                  after=parse_cursor(after))
        ids = [row.case.id for row in rows]
        automatic = await automatic_categories(session, ids)
        requests = await review_requests(session, ids)
    check_rules = getattr(services.classifier, "check_rules", None)
    rules = await check_rules() if check_rules is not None else None
    return request.app.state.templates.TemplateResponse(request, "triage.html", {
        "rules": rules, "rows": rows, "mode": mode, "automatic": automatic, "highlight": highlight,
        "requests": requests, "categories": CATEGORY_LABELS, "reasons": _reason_options(),
        "missing_reason": _missing_reason_messages(),
        "channels": CHANNEL_LABELS, "next_after": queue_cursor(rows[-1]) if len(rows) == PAGE else None,
        "after": after or "", "error": error, "draft": draft or {},
        "message": None if error else notice(request.query_params),
    }, status_code=status_code)


def _mode(value: object) -> str:
    return "auto" if value == "auto" else "review"


@staff(*TRIAGE_ROLES)
async def queue_page(request: Request) -> Response:
    return await _render_queue(request, _mode(request.query_params.get("mode")),
                               after=request.query_params.get("after"))


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
    note = str(form.get("note", "")).strip()[:NOTE_LIMIT]
    mode, after = _mode(form.get("mode")), str(form.get("after", ""))[:200] or None
    if label not in Category.__members__.values():
        raise HTTPException(400, "请选择整改类别")
    refusal = reason_refusal(label, reason)
    if refusal is not None:
        draft = {"code": code, "label": label, "reason": reason or "", "note": note}
        return await _render_queue(request, mode, after=after, error=refusal, draft=draft, status_code=400)
    services = request.app.state.services
    async with services.store.read() as session:
        found = (await session.execute(select(Hall.code, Case.category, Case.reason, Case.status)
                                       .join(Case, Case.hall_id == Hall.id).where(Case.code == code))).first()
    if not user.can_access_town(found[0] if found else None):
        raise HTTPException(403, "无权处理其他乡镇的案件")
    back = "/triage?mode=auto" if mode == "auto" else "/triage"
    if found and (found[1], found[2]) == (label, reason):
        # The same category and reason again is a confirmation, not a correction that changes nothing.
        if found[3] == CaseStatus.NEEDS_REVIEW.value:
            await _accept(request, [code])
            return RedirectResponse(notice_url(back, "triage_accepted", case=code), status_code=303)
        return RedirectResponse(notice_url(back, "triage_unchanged", case=code), status_code=303)
    try:
        calendar = await services.calendar.get()
        result = await reclassify(services.store, calendar, code, label, reason, actor=user.username,
                                  policy=DeadlinePolicy.from_settings(services.settings), note=note or None)
    except CaseNotFound:
        raise HTTPException(404, f"没有受理编号为 {code} 的案件") from None
    except WorkflowError as exc:
        raise HTTPException(409, str(exc)) from None
    async with services.store.write() as session:
        add_audit(session, user, "triage_relabel", ip=client_ip(request), target_type="case", target_id=code,
                  detail={"label": result.category, "reason": result.reason})
    return RedirectResponse(notice_url(back, "triage_relabelled", case=code, category=label), status_code=303)


routes = [
    Route("/triage", queue_page, methods=["GET"], name="triage_queue"),
    Route("/triage/accept", accept_many, methods=["POST"], name="triage_accept_many"),
    Route("/triage/{code}/accept", accept, methods=["POST"], name="triage_accept"),
    Route("/triage/{code}/label", relabel, methods=["POST"], name="triage_relabel"),
]
