"""Supervisors' pages: deadlines near or past, overdue figures per town, appeals to decide,
answers that never reached the citizen (答复未送达), real-name 差评 still waiting for their
return visit, and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.auth.access import current_user, staff
from gateway.console.actions import AUDITED_EVENTS
from gateway.console.queries import (
    due_soon,
    missing_return_visits,
    overdue_by_town,
    pending_appeals,
    unanswered_questions,
    undated_coordinated,
    undelivered_replies,
)
from gateway.core.db.models_staff import AuditEntry, User
from gateway.core.labels import (
    ACTION_LABELS,
    AUDIT_ACTION_LABELS,
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    STATUS_LABELS,
    audit_action_label,
)
from gateway.phone.options import PhoneOptions
from gateway.ui.format import countdown

AUDIT_PAGE = 100


@staff("supervisor")
async def supervise(request: Request) -> Response:
    user = current_user(request)
    assert user is not None
    services = request.app.state.services
    now = datetime.now(UTC)
    hours_text = request.query_params.get("hours", "4")
    horizon = timedelta(hours=int(hours_text) if hours_text.isdigit() and 0 < int(hours_text) <= 720 else 4)
    towns = user.town_filter()
    async with services.store.read() as session:
        soon = await due_soon(session, services.cipher, towns=towns, until=now + horizon)
        per_town = await overdue_by_town(session, now=now, towns=towns)
        appeals = await pending_appeals(session, services.cipher, towns=towns)
        unvisited = await missing_return_visits(session, services.cipher, towns=towns)
        questions = await unanswered_questions(session, services.cipher, towns=towns)
        undated = await undated_coordinated(session, services.cipher, towns=towns)
        undelivered = await undelivered_replies(session, services.cipher, towns=towns)
    missing_year = await services.calendar.missing_schedule(now)
    # The 期限 of a return visit is its own (the working day after the reply, as on the call-back
    # list), not the case's result deadline, which the reply has already met ("已完成").
    calendar = await services.calendar.get()
    visit_days = PhoneOptions().return_visit_working_days
    visit_dues = {row.case.code: countdown(calendar.add_working_days(row.case.result_at or row.case.updated_at,
                                                                     visit_days).at, now=now)
                  for row in unvisited}
    return request.app.state.templates.TemplateResponse(request, "supervise.html", {
        "soon": soon, "per_town": per_town, "appeals": appeals, "unvisited": unvisited, "visit_dues": visit_dues,
        "questions": questions, "undated": undated, "calendar_missing_year": missing_year,
        "undelivered": undelivered,
        "hours": int(horizon.total_seconds() // 3600), "statuses": STATUS_LABELS, "categories": CATEGORY_LABELS,
        "channels": CHANNEL_LABELS,
    })


@staff("supervisor")
async def audit_log(request: Request) -> Response:
    """Newest first, keyset-paginated; filter by person, action or case."""
    params = request.query_params
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(AUDIT_PAGE)
    if params.get("user"):
        query = query.where(AuditEntry.username == params["user"])
    if params.get("action"):
        query = query.where(AuditEntry.action == params["action"])
    if params.get("case"):
        query = query.where(AuditEntry.target_type == "case", AuditEntry.target_id == params["case"].upper())
    before = params.get("before", "")
    if before.isdigit():
        query = query.where(AuditEntry.id < int(before))
    async with request.app.state.services.store.read() as session:
        entries = list((await session.execute(query)).scalars())
        names = dict((await session.execute(select(User.username, User.display_name))).all())
    filters = {k: params.get(k, "") for k in ("user", "action", "case")}
    choices = sorted({**{code: audit_action_label(code) for code in AUDIT_ACTION_LABELS},
                      **{code: audit_action_label(code) for code in AUDITED_EVENTS},
                      **{f"case:{code}": text for code, text in ACTION_LABELS.items()}}.items(), key=lambda kv: kv[1])
    return request.app.state.templates.TemplateResponse(request, "audit.html", {
        "entries": entries, "filters": filters, "user_names": names, "action_choices": choices,
        "next_before": entries[-1].id if len(entries) == AUDIT_PAGE else None,
    })


routes = [
    Route("/supervise", supervise, methods=["GET"], name="supervise"),
    Route("/audit", audit_log, methods=["GET"], name="audit"),
]
