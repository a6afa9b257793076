"""The citizen's page behind the evaluation link sent for a finished 办件 (一事一评).

The link token names the matter and its expiry and is signed (``gateway.api.matters.link_token``);
the page takes one evaluation — the five levels, the reasons for a 差评, free text — and becomes a
case through the same ``Intake`` as a platform-made evaluation (``matter:{client}:{办件编号}``), so
the matter is evaluated once whichever way comes first, and a double tap shows the same receipt.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from channels.ratings import REASON_CODES, REASONS, Rating
from gateway.api.matters import MatterError, MatterFacts, intake_for, mark_evaluated, matter_facts, read_link_token
from gateway.auth.access import public
from gateway.auth.audit import client_ip
from gateway.auth.throttle import Throttle
from gateway.core.db.store import is_write_failure
from gateway.core.ingest import IngestError

TEXT_MAX = 1000
POSTS_PER_ADDRESS = Throttle(limit=20, window=600)

log = logging.getLogger(__name__)


async def _matter(request: Request) -> tuple[str, MatterFacts]:
    token = request.path_params["token"]
    services = request.app.state.services
    ref = read_link_token(services.settings.signing_key(), token)
    facts = await matter_facts(services, matter_id=ref.matter_id) if ref else None
    if ref is None or facts is None:
        raise HTTPException(404, "评价链接无效，请检查短信或邮件中的链接是否完整。")
    return token, facts


def _render(request: Request, facts: MatterFacts, token: str, **context: object) -> Response:
    status = int(context.pop("status", 200))  # type: ignore[call-overload]
    return request.app.state.templates.TemplateResponse(request, "evaluate_matter.html", {
        "facts": facts, "token": token, "ratings": [(r.value, r.label, r.is_bad) for r in Rating],
        "reasons": REASONS, "text_max": TEXT_MAX, "values": context.pop("values", {}), **context,
    }, status_code=status)


def _expired(facts: MatterFacts) -> bool:
    return datetime.now(UTC) >= facts.link_expires_at


@public(why="signed, expiring link sent to the citizen for one 办件")
async def evaluate_page(request: Request) -> Response:
    token, facts = await _matter(request)
    if facts.evaluated:
        return _render(request, facts, token, done=True)
    if _expired(facts):
        return _render(request, facts, token, expired=True, status=410)
    return _render(request, facts, token)


@public(why="signed, expiring link sent to the citizen for one 办件")
async def evaluate_submit(request: Request) -> Response:
    token, facts = await _matter(request)
    services = request.app.state.services
    form = await request.form()
    values = {"rating": str(form.get("rating", "")), "reasons": [str(r) for r in form.getlist("reason")][:10],
              "text": str(form.get("text", ""))[:TEXT_MAX + 1]}
    problems: dict[str, str] = {}
    try:
        rating = Rating(values["rating"])
    except ValueError:
        problems["rating"] = "请选择满意程度"
        rating = None
    if len(values["text"]) > TEXT_MAX:  # type: ignore[arg-type]
        problems["text"] = f"最多 {TEXT_MAX} 字"
    reasons = [r for r in values["reasons"] if r in REASON_CODES] if rating and rating.is_bad else []
    if problems:
        return _render(request, facts, token, values=values, problems=problems, status=400)
    if not POSTS_PER_ADDRESS.hit(client_ip(request) or "-"):
        return _render(request, facts, token, values=values, status=429,
                       message="提交太频繁，请稍后再试。您填写的内容都还在。")
    if _expired(facts) and not facts.evaluated:
        return _render(request, facts, token, expired=True, status=410)
    assert rating is not None
    try:
        result = await services.ingestor.ingest(intake_for(
            facts, rating=rating, reasons=reasons, text=values["text"], received_at=datetime.now(UTC)))  # type: ignore[arg-type]
    except (MatterError, IngestError) as exc:
        return _render(request, facts, token, values=values, status=422, message=str(exc))
    except Exception as exc:
        if not is_write_failure(exc):
            raise
        log.error("evaluation of a matter: the database failed (%s); the form was shown again", type(exc).__name__)
        return _render(request, facts, token, values=values, status=503,
                       message="暂时无法提交，您填写的内容已保留，请稍后再试。")
    if not result.duplicate:
        await mark_evaluated(services, facts.id, result.case_id, None)
    return _render(request, facts, token, done=True, code=result.case_code, repeat=result.duplicate)


routes = [
    Route("/e/{token}", evaluate_page, methods=["GET"], name="matter_evaluate"),
    Route("/e/{token}", evaluate_submit, methods=["POST"], name="matter_evaluate_submit"),
]
