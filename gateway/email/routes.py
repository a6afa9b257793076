"""The e-mail channel's status page for staff (``/email``): the IMAP intake's last poll, mode,
errors and backlog, outgoing mail by state, and quarantined messages — with the audited actions
to reprocess one after a fix and to download its raw original.

Administrators see the page (the channel's health is theirs to fix); the two actions on
quarantined mail are case work on county-wide mail (it has no hall yet) that may reveal personal
data, so they belong to the triage team and supervisors.  Nothing on the page shows an address
or a message body.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.auth.access import current_user, staff
from gateway.auth.audit import audit
from gateway.core.db.models import Case
from gateway.email import EmailOptions, email_status, find_quarantined, reprocess_quarantined

ROLES = ("supervisor", "triage", "admin")
ACTING_ROLES = ("supervisor", "triage")
OUTCOMES = {
    "ingested": "已生成新案件", "follow_up": "已并入原案件", "duplicate": "此前已入库，未重复生成",
    "auto": "系自动回复，不生成案件", "bounce": "系退信，不生成案件", "quarantined": "仍无法处理",
}
KINDS = {"acknowledgement": "受理回执", "reply": "办理答复", "evaluation_request": "评价邀请"}
STATES = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败"}
# Quarantine reasons are technical English from the parser and ingest; staff read the Chinese gist first.
REASON_GIST = (
    ("empty message", "空邮件"),
    ("not a MIME message", "不是有效的邮件格式"),
    ("no From, To, Subject", "缺少发件人、主题等基本信头"),
    ("not a usable complaint", "无法构成意见（没有正文、评价或附件等）"),
    ("ingest refused", "入库被拒绝"),
    ("parser error", "解析程序出错，需修复后重新处理"),
)
TIME_KEYS = ("last_poll", "last_ok", "last_error_at", "next_try_at", "last_messages_at", "at", "first_at",
             "resolved_at", "received_at")


def reason_gist(reason: str | None) -> str:
    text = reason or ""
    return next((gist for prefix, gist in REASON_GIST if text.startswith(prefix)), "无法处理")


def _times(entry: dict[str, Any]) -> dict[str, Any]:
    """ISO strings from ``worker_state`` as aware datetimes, for the ``local_time`` filter."""
    out = dict(entry)
    for key in TIME_KEYS:
        value = out.get(key)
        if isinstance(value, str):
            try:
                out[key] = datetime.fromisoformat(value)
            except ValueError:
                out[key] = None
    return out


@staff(*ROLES)
async def email_page(request: Request) -> Response:
    services = request.app.state.services
    status = await email_status(services)
    case_ids = {f["case_id"] for f in status["outbox_failures"] if f["case_id"]}
    codes: dict[int, str] = {}
    if case_ids:
        async with services.store.read() as session:
            codes = dict((await session.execute(select(Case.id, Case.code).where(Case.id.in_(case_ids)))).all())
    user = current_user(request)
    imap = _times(status["imap"])
    imap["errors"] = [_times(error) for error in imap.get("errors") or []]
    job = _times(status["job"]) if status["job"] else None
    return request.app.state.templates.TemplateResponse(request, "email_status.html", {
        "status": status, "imap": imap, "job": job, "options": EmailOptions(),
        "quarantined": [_times(e) for e in status["quarantined"]],
        "resolved": [_times(e) for e in status["resolved"]],
        "failures": status["outbox_failures"], "codes": codes, "kinds": KINDS, "states": STATES,
        "outcomes": OUTCOMES, "reason_gist": reason_gist, "may_act": user is not None and user.has(*ACTING_ROLES),
        "is_admin": user is not None and user.has("admin"),
        "done": request.query_params.get("done"), "error": request.query_params.get("error"),
    })


@staff(*ACTING_ROLES)
async def reprocess(request: Request) -> Response:
    """Run one quarantined message through the current parser and ingest (audited)."""
    services = request.app.state.services
    user = current_user(request)
    assert user is not None
    sha = request.path_params["sha"]
    try:
        result = await reprocess_quarantined(services, sha, by=user.username)
    except LookupError as exc:
        await audit(services.store, request, user, "email:reprocess", target_type="email", target_id=sha[:64],
                    detail={"outcome": "error", "error": str(exc)[:200]})
        return RedirectResponse(f"/email?error=notfound:{sha[:12]}", status_code=303)
    await audit(services.store, request, user, "email:reprocess", target_type="email", target_id=sha[:64],
                detail={"outcome": result.outcome, "case": result.case_code})
    return RedirectResponse(f"/email?done={result.outcome}:{result.case_code or sha[:12]}", status_code=303)


@staff(*ACTING_ROLES)
async def raw_original(request: Request) -> Response:
    """The quarantined bytes as a ``.eml`` download (personal data: audited)."""
    from gateway.core.blobs import get_blob

    services = request.app.state.services
    user = current_user(request)
    try:
        entry = await find_quarantined(services, request.path_params["sha"])
    except LookupError:
        raise HTTPException(404, "没有这封隔离邮件") from None
    async with services.store.read() as session:
        blob = await get_blob(session, entry["sha256"])
    if blob is None:
        raise HTTPException(404, "原文过大，未保存（见 HCP_MAX_BLOB_BYTES）")
    await audit(services.store, request, user, "email:quarantine_download", target_type="email",
                target_id=entry["sha256"][:64])
    return Response(bytes(blob.data), media_type="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="quarantined-{entry["sha256"][:12]}.eml"',
        "Cache-Control": "no-store"})


routes = [
    Route("/email", email_page, methods=["GET"], name="email_status"),
    Route("/email/quarantine/{sha}/reprocess", reprocess, methods=["POST"], name="email_reprocess"),
    Route("/email/quarantine/{sha}/raw", raw_original, methods=["GET"], name="email_quarantine_raw"),
]
