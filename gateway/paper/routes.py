"""The mailroom (意见箱收发): upload scanned batches, transcribe slips beside their image, confirm into cases.

Every route admits the ``mailroom`` and ``supervisor`` roles.  A mailroom clerk with towns assigned
sees and acts on the slips of those halls only; a page whose hall is still unknown is visible to
the person who uploaded it, to clerks of the hall the batch was declared for, and to county-wide
staff.  Images are served only through these routes (never from /static), with no caching.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from channels.paper import ocr, zbar
from channels.paper.documents import DocumentError, Limits
from channels.ratings import REASONS, Rating
from gateway.auth.access import current_user, require_town, staff
from gateway.auth.audit import client_ip
from gateway.auth.roles import Principal
from gateway.core.db.models_staff import User
from gateway.core.labels import PAPER_BATCH_LABELS, REPLY_METHOD_LABELS, SLIP_IMAGE_REMOVED
from gateway.core.registry import list_halls
from gateway.paper import drafts as ops
from gateway.paper.batches import FileOutcome, batch_files, batch_progress, enqueue
from gateway.paper.slips import slip_reply_methods
from gateway.ui.files import file_response

ROLES = ("mailroom", "supervisor")
MAX_FILES_PER_UPLOAD = 50
STATUSES = {"open": "待录入", "blank": "空白卡", "letters": "来信", "flagged": "签名不符", "duplicate": "重复",
            "confirmed": "已受理", "discarded": "已作废"}
REPLY_LABELS = {code: REPLY_METHOD_LABELS[code] for code in ("sms", "phone", "none")}  # the slip's boxes


def _user(request: Request) -> Principal:
    user = current_user(request)
    assert user is not None  # @staff guarantees it
    return user


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _error(exc: ops.DraftError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


async def _halls(request: Request, user: Principal) -> list[dict[str, Any]]:
    towns = user.town_filter()
    return [{"code": h.code, "name": h.name, "windows": h.windows}
            for h in await list_halls(request.app.state.services.store)
            if h.active and (towns is None or h.code in towns)]


async def _people(services: Any, usernames: list[str | None]) -> dict[str, str]:
    """Display names of the staff who uploaded (the pages show 王小红, not the account name)."""
    wanted = {u for u in usernames if u}
    if not wanted:
        return {}
    async with services.store.read() as session:
        rows = (await session.execute(select(User.username, User.display_name).where(
            User.username.in_(wanted)))).all()
    return {username: name for username, name in rows if name}


def _render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status)


@staff(*ROLES)
async def mailroom(request: Request) -> Response:
    user = _user(request)
    services = request.app.state.services
    status = request.query_params.get("status", "open")
    if status not in STATUSES:
        status = "open"
    hall = request.query_params.get("hall") or None
    towns = user.town_filter()
    scans = await ops.recent_scans(services, user)
    batches = await ops.recent_batches(services, user)
    return _render(request, "mailroom.html", {
        "people": await _people(services, [x["uploaded_by"] for x in (*scans, *batches)]),
        "status": status, "statuses": STATUSES, "hall": hall,
        "rows": await ops.queue(services, towns, status=status, hall=hall),
        "counts": await ops.counts(services, towns),
        "needs_id": await ops.pages_needing_id(services, user),
        "scans": scans,
        "halls": await _halls(request, user),
        "max_mb": services.settings.max_blob_bytes // 1048576,
        "decoder_missing": zbar.UNAVAILABLE,
        "ocr_missing": ocr.unavailable(),
        "batches": batches,
        "ocr_quality": await ops.ocr_quality(services, towns), "batch_labels": PAPER_BATCH_LABELS,
    })


def _visible_outcome(outcome: FileOutcome, user: Principal) -> dict[str, Any]:
    """The upload result as this user may see it: slips of other towns are only counted."""
    data = outcome.to_dict()
    hidden = 0
    for page in data["pages"]:
        kept = []
        for slip in page["slips"]:
            if not user.can_access_town(slip["hall"]):
                hidden += 1
            else:
                kept.append(slip)
        page["slips"] = kept
    data["other_towns"] = hidden
    return data


@staff(*ROLES)
async def upload(request: Request) -> Response:
    user = _user(request)
    services = request.app.state.services
    settings = services.settings
    limit = settings.max_blob_bytes
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit * MAX_FILES_PER_UPLOAD + 1_048_576:
        raise HTTPException(413, f"一次上传的内容过大，请分批上传（每个文件不超过 {limit // 1048576} MB）")
    form = await request.form()
    hall_hint = str(form.get("hall") or "").strip() or None
    if hall_hint is not None and hall_hint not in {h.code for h in await list_halls(services.store)}:
        raise HTTPException(400, "所选大厅不存在")
    towns = user.town_filter()
    if towns is not None:
        if hall_hint is None and len(towns) == 1:
            hall_hint = next(iter(towns))
        if hall_hint is None or hall_hint not in towns:
            raise HTTPException(403, "请选择您负责的乡镇大厅作为这批扫描件的来源")
    files = [item for item in form.getlist("files") if isinstance(item, UploadFile)]
    if not files:
        raise HTTPException(400, "请选择要上传的扫描件（PDF、TIFF、JPEG 或 PNG）")
    if len(files) > MAX_FILES_PER_UPLOAD:
        raise HTTPException(413, f"一次最多上传 {MAX_FILES_PER_UPLOAD} 个文件，请分批上传")
    limits = Limits(max_bytes=limit)
    outcomes: list[FileOutcome] = []
    readable: list[tuple[str, bytes]] = []
    for item in files:
        name = (item.filename or "upload").replace("\\", "/").rsplit("/", 1)[-1][:200] or "upload"
        if item.size is not None and item.size > limit:
            error = DocumentError("too_large", f"{name}: {item.size} bytes exceed {limit}",
                                  f"{name}：文件过大（{item.size / 1048576:.1f} MB），单个文件不能超过 "
                                  f"{limit // 1048576} MB，请分批扫描")
            outcomes.append(FileOutcome(name, "", "rejected", error=error.user_message, error_kind=error.kind,
                                        http_status=error.http_status))
            continue
        readable.append((name, await item.read()))
    # Only the headers are read here; the pages are decoded by the background job (gateway/paper/jobs.py).
    batch = await enqueue(services, readable, by=user.username, who=user, ip=client_ip(request),
                          hall_hint=hall_hint, limits=limits)
    outcomes.extend(batch.files)
    ok = [o for o in outcomes if o.status != "rejected"]
    status = 202 if batch.batch_id else 200 if ok else outcomes[0].http_status
    visible = [_visible_outcome(o, user) for o in outcomes]
    url = f"/mailroom/batches/{batch.batch_id}" if batch.batch_id else None
    if _wants_json(request):
        return JSONResponse({"batch": batch.batch_id, "url": url, "files": visible}, status_code=status)
    if url is not None:
        return RedirectResponse(url, status_code=303)
    # Names, as the queue shows them: a clerk reads 金屯镇 / 综合窗口, not jintun / w01.
    halls = await list_halls(services.store)
    hall_names = {h.code: h.name for h in halls}
    window_names = {(h.code, str(w["code"])): str(w["name"]) for h in halls for w in h.windows}
    return _render(request, "mailroom_upload.html", {"files": visible, "ratings": _rating_labels(),
                                                     "hall_names": hall_names, "window_names": window_names}, status)


@staff(*ROLES)
async def batch_page(request: Request) -> Response:
    """A batch's progress while the worker reads it (the page refreshes itself), then what it made."""
    user = _user(request)
    services = request.app.state.services
    progress = await batch_progress(services, int(request.path_params["batch_id"]))
    if progress is None:
        raise HTTPException(404, "没有这一批上传")
    towns = user.town_filter()
    if towns is not None and progress["uploaded_by"] != user.username and progress["hall_hint"] not in towns:
        raise HTTPException(403, "无权查看其他乡镇的上传")
    files = [_visible_outcome(o, user) for o in await batch_files(services, progress["id"])]
    if _wants_json(request):
        return JSONResponse({"batch": jsonable(progress), "files": files})
    return _render(request, "mailroom_batch.html", {
        "people": await _people(services, [progress["uploaded_by"]]),
        "batch": progress, "files": files, "ratings": _rating_labels(), "ocr_missing": ocr.unavailable(),
        "worker": await ops.worker_seen(services), "batch_labels": PAPER_BATCH_LABELS})


def jsonable(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in value.items()}


def _rating_labels() -> dict[str, str]:
    return {r.value: r.label for r in Rating}


async def _draft_or_404(request: Request) -> ops.DraftView:
    try:
        draft = await ops.load(request.app.state.services, int(request.path_params["draft_id"]))
    except ops.DraftError as exc:
        raise _error(exc) from None
    if draft.hall is None:
        towns = _user(request).town_filter()
        # A letter waits for its hall: clerks of the hall the batch was declared for (and its uploader) see it.
        if towns is not None and draft.hall_hint not in towns and draft.uploaded_by != _user(request).username:
            raise HTTPException(403, "无权处理其他乡镇的意见卡")
    else:
        require_town(request, draft.hall)
    return draft


@staff(*ROLES)
async def draft_page(request: Request, *, problems: str | None = None, status: int = 200,
                     values: ops.DraftValues | None = None) -> Response:
    draft = await _draft_or_404(request)
    user = _user(request)
    services = request.app.state.services
    previous, following = await ops.neighbours(services, draft.id, user.town_filter())
    shown = values or draft.values
    # the reply ways the gateway can use, and whatever the slip says (an older slip may offer SMS)
    methods = slip_reply_methods(services.settings)
    replies = {code: label for code, label in REPLY_LABELS.items() if code in methods or code == shown.preferred}
    return _render(request, "mailroom_draft.html", {
        "draft": draft, "values": shown, "ratings": [(r.value, r.score, r.label) for r in Rating],
        "reasons": REASONS, "replies": replies, "previous": previous, "following": following,
        "problems": problems, "saved": request.query_params.get("saved"),
        "halls": await _halls(request, user) if draft.hall is None else [],
        "confirmed": request.query_params.get("confirmed"),
    }, status)


@staff(*ROLES)
async def draft_action(request: Request) -> Response:
    draft = await _draft_or_404(request)
    user = _user(request)
    services = request.app.state.services
    form = await request.form()
    action = str(form.get("action") or "save")
    values = ops.DraftValues.from_form(form)
    ip = client_ip(request)
    try:
        if action == "save":
            await ops.save(services, draft.id, values, who=user, ip=ip)
            return _after(request, draft.id, {"saved": "1"}, {"status": "saved"})
        if action == "confirm":
            code, duplicate = await ops.confirm(services, draft.id, values, who=user, ip=ip,
                                                accept_unsigned=form.get("accept_unsigned") == "1",
                                                blank_reason=str(form.get("blank_reason") or ""),
                                                hall=str(form.get("hall") or "") or None)
            if _wants_json(request):
                return JSONResponse({"status": "duplicate" if duplicate else "confirmed", "case": code})
            _, following = await ops.neighbours(services, draft.id, user.town_filter())
            query = urlencode({"confirmed": code, "duplicate": "1" if duplicate else ""})
            target = f"/mailroom/drafts/{following}" if following and not duplicate else f"/mailroom/drafts/{draft.id}"
            return RedirectResponse(f"{target}?{query}&from={draft.id}", status_code=303)
        if action in ("discard", "void"):
            await ops.discard(services, draft.id, str(form.get("discard_reason") or form.get("void_reason") or ""),
                              who=user, ip=ip)
            return _after(request, draft.id, {}, {"status": "discarded"}, to_queue=True)
    except ops.DraftError as exc:
        if _wants_json(request):
            return JSONResponse({"error": str(exc), "problems": exc.problems}, status_code=exc.status)
        return await draft_page.__wrapped__(request, problems=str(exc), status=exc.status,  # type: ignore[attr-defined]
                                            values=values)
    raise HTTPException(400, "未知的操作")


def _after(request: Request, draft_id: int, query: dict[str, str], payload: dict[str, Any], *,
           to_queue: bool = False) -> Response:
    if _wants_json(request):
        return JSONResponse(payload)
    target = "/mailroom" if to_queue else f"/mailroom/drafts/{draft_id}"
    return RedirectResponse(target + (f"?{urlencode(query)}" if query else ""), status_code=303)


def _no_store(data: bytes, media_type: str) -> Response:
    return file_response(data, media_type, "scan", headers={"cache-control": "private, no-store"})


@staff(*ROLES)
async def draft_image(request: Request) -> Response:
    draft = await _draft_or_404(request)
    if draft.image_removed:
        raise HTTPException(410, SLIP_IMAGE_REMOVED)
    image = await ops.slip_image_of(request.app.state.services, draft.id)
    if image is None:
        return RedirectResponse(f"/mailroom/pages/{draft.page_id}/image", status_code=303)
    return _no_store(*image)


async def _page_or_404(request: Request) -> dict[str, Any]:
    user = _user(request)
    try:
        info = await ops.page_info(request.app.state.services, int(request.path_params["page_id"]))
    except ops.DraftError as exc:
        raise _error(exc) from None
    towns = user.town_filter()
    if towns is not None:
        halls = {d["hall"] for d in info["drafts"] if d["hall"]}
        allowed = (info["uploaded_by"] == user.username or (info["hall_hint"] in towns)
                   or bool(halls & towns))
        if not allowed:
            raise HTTPException(403, "无权查看其他乡镇的扫描件")
    return info


@staff(*ROLES)
async def page_view(request: Request, *, problems: str | None = None, status: int = 200) -> Response:
    info = await _page_or_404(request)
    user = _user(request)
    return _render(request, "mailroom_page.html", {
        "page": info, "halls": await _halls(request, user), "problems": problems,
        "values": {"serial": "", "hall": info["hall_hint"] or "", "window": ""},
    }, status)


@staff(*ROLES)
async def identify(request: Request) -> Response:
    info = await _page_or_404(request)
    user = _user(request)
    form = await request.form()
    try:
        draft_id = await ops.identify(
            request.app.state.services, info["id"], serial_text=str(form.get("serial") or ""),
            hall=str(form.get("hall") or ""), window=str(form.get("window") or ""), who=user, ip=client_ip(request))
    except ops.DraftError as exc:
        if _wants_json(request):
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return await page_view.__wrapped__(request, problems=str(exc), status=exc.status)  # type: ignore[attr-defined]
    if _wants_json(request):
        return JSONResponse({"draft": draft_id})
    return RedirectResponse(f"/mailroom/drafts/{draft_id}", status_code=303)


@staff(*ROLES)
async def page_image(request: Request) -> Response:
    info = await _page_or_404(request)
    try:
        data, media_type, *_ = await ops.page_image(request.app.state.services, info["id"])
    except ops.DraftError as exc:
        raise _error(exc) from None
    return _no_store(data, media_type)


routes = [
    Route("/mailroom", mailroom, methods=["GET"], name="mailroom"),
    Route("/mailroom/upload", upload, methods=["POST"], name="mailroom_upload"),
    Route("/mailroom/batches/{batch_id:int}", batch_page, methods=["GET"], name="mailroom_batch"),
    Route("/mailroom/drafts/{draft_id:int}", draft_page, methods=["GET"], name="mailroom_draft"),
    Route("/mailroom/drafts/{draft_id:int}", draft_action, methods=["POST"], name="mailroom_draft_action"),
    Route("/mailroom/drafts/{draft_id:int}/image", draft_image, methods=["GET"], name="mailroom_draft_image"),
    Route("/mailroom/pages/{page_id:int}", page_view, methods=["GET"], name="mailroom_page"),
    Route("/mailroom/pages/{page_id:int}/identify", identify, methods=["POST"], name="mailroom_identify"),
    Route("/mailroom/pages/{page_id:int}/image", page_image, methods=["GET"], name="mailroom_page_image"),
]
