"""The results feature's plugin: the upstream push to the city / provincial 好差评 system, and the
figures roll-up job.

The seed asks the town systems to interconnect with the city and provincial 好差评 systems
(与市政务服务“好差评”系统、省一体化在线政务服务“好差评”系统互联互通).  Each evaluation and every
change of its handling is pushed as one JSON record to ``HCP_UPSTREAM_URL``:

* **Through the durable outbox** (channel ``upstream``): the job ``upstream`` finds cases changed
  since its cursor and enqueues one row per change in the same transaction that advances the cursor;
  the outbox delivers with retries and exponential backoff, and after ``HCP_OUTBOX_MAX_ATTEMPTS`` the
  row is ``failed`` — visible in ``hcp outbox list --status failed`` and retried with
  ``hcp outbox retry ID``.  A 4xx answer other than 408/409/429 fails at once (retrying the same
  bytes cannot help); 5xx, 408, 429 and network errors are retried.
* **Signed**: ``X-HCP-Timestamp`` (Unix seconds) and ``X-HCP-Signature: sha256=<hex>``, the
  HMAC-SHA256 with ``HCP_UPSTREAM_KEY`` of ``"{timestamp}.{body}"`` (the exact bytes sent), so the
  receiver can reject forged and replayed records.
* **Idempotent upstream**: ``assessNumber`` is our record id (``hcp-`` + the case's tracking code)
  and never changes; ``dataVersion`` (milliseconds of the case's last change) grows with every
  change.  The receiver upserts by ``assessNumber`` and ignores a ``dataVersion`` older than the
  one it holds; the ``Idempotency-Key`` header is ``assessNumber:dataVersion``.  A 409 answer counts
  as delivered.
* **Settled cursor**: only cases whose last change is older than ``SETTLE`` are read, in
  (updated_at, id) order, so a transaction that stamped ``updated_at`` and commits a moment later is
  never skipped.  Demo cases (``DEMO…`` codes) are never pushed.
* **No personal data**: the record carries no name, phone, e-mail or ID number, and the citizen's
  text passes through ``lists.scrub``.

Field names follow the national 政务服务“好差评” evaluation data (评价数据) as used by the
provincial interfaces; the mapping is ``RECORD_FIELDS`` below and in README.  Check it against the
receiving province's interface document before going live: provinces add fields of their own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from channels.ratings import REASONS_BY_CODE, Rating
from gateway.core.db.dialect import insert_for
from gateway.core.db.models import Case, CaseEvent, Hall, Message, ServiceItem, Window, WorkerState
from gateway.core.db.models_matters import ApiClient, Matter
from gateway.core.domain import CaseStatus
from gateway.core.labels import SOURCE_LABELS
from gateway.core.outbox import OutgoingMessage, SendResult, enqueue
from gateway.core.sources import source_of
from gateway.results.demo import DEMO_PREFIX
from gateway.results.lists import scrub

if TYPE_CHECKING:
    from gateway.core.services import Services

log = logging.getLogger(__name__)

CHANNEL = "upstream"
KIND = "evaluation"
STATE_KEY = "upstream:cursor"
SETTLE = timedelta(minutes=2)
BATCH = 500
TIMEOUT = 20.0

# The one mapping table of the record's coded fields (README "Upstream record" repeats it).
# 评价渠道 (pf): 1 PC端, 2 移动端, 3 二维码, 4 政务大厅平板电脑, 5 政务大厅其他终端, 6 电话, 7 短信 —
# chosen by the evaluation source (gateway.core.sources); a source not listed (a new channel) is 5.
PF: dict[str, str] = {
    "once": "3",         # 一次一评: the window's QR code
    "matter": "1",       # 一事一评: the online platform (PC端)
    "complaint": "2",    # 找茬窗口: the web form, opened on a phone from a poster's QR code or WeChat
    "supervision": "1",  # 监督平台: the form linked from the supervision platform's website
    "box": "5",          # 意见箱: the paper box in the hall (政务大厅其他终端)
    "hotline": "6",      # 热线
    "email": "1",        # 电子邮箱 (PC端)
    "wechat": "2",       # 微信公众号 (移动端)
}
PF_OTHER = "5"
# 申请人类型 (userProp) from the 办件's applicant type; evaluations not tied to a 办件 come from
# citizens in person, by phone or by post: 1 自然人.
USER_PROP: dict[str, str] = {"person": "1", "legal_person": "2", "organization": "3"}
USER_PROP_UNKNOWN = "1"
SCHEMA_PATH = Path(__file__).parent / "data" / "upstream-record.schema.json"
# Our handling state → (code, name) pushed as handleStatus / handleStatusName.
HANDLE_STATES: dict[str, tuple[str, str]] = {
    CaseStatus.RECEIVED: ("0", "待核实"), CaseStatus.TRIAGED: ("0", "待核实"),
    CaseStatus.NEEDS_REVIEW: ("0", "待核实"), CaseStatus.VERIFYING: ("0", "待核实"),
    CaseStatus.VALID: ("1", "整改中"), CaseStatus.RECTIFYING: ("1", "整改中"),
    CaseStatus.REPLIED: ("2", "已整改答复"), CaseStatus.RETURN_VISITED: ("3", "已回访"),
    CaseStatus.CLOSED: ("4", "已办结"), CaseStatus.NOT_VALID: ("9", "核实不属实"),
    CaseStatus.MALICIOUS: ("9", "恶意评价"),
}
RECORD_FIELDS: dict[str, str] = {
    "assessNumber": "评价编号：本系统记录号（hcp-受理编号），幂等键",
    "dataVersion": "数据版本：案件最后变更时间（毫秒），越新越大",
    "projectNo": "办件编号：接口报送的办件编号（一事一评）；不关联办件的评价为空",
    "taskCode": "事项编码", "taskName": "事项名称",
    "deptCode": "部门编码（暂无则空）", "deptName": "部门名称",
    "areaCode": "行政区划代码（12位，大厅的 region_code；村、社区服务点没有时用所属镇的；未登记为空）",
    "hallName": "服务大厅名称",
    "windowCode": "窗口编号",
    "pf": "评价渠道（按评价来源，见 PF）：1 PC端 2 移动端 3 二维码 5 政务大厅其他终端 6 电话",
    "evaluationSource": "评价来源代码：once/matter/complaint/box/hotline/email/supervision 或新渠道代码",
    "evaluationSourceName": "评价来源名称：一次一评、一事一评、找茬窗口、意见箱、热线、电子邮箱、监督平台",
    "userProp": "申请人类型（见 USER_PROP）：1 自然人 2 法人 3 其他组织；不关联办件的评价为 1",
    "isRealName": "是否实名评价：1 是 0 否",
    "alternate": "评价等级：5 非常满意 4 满意 3 基本满意 2 不满意 1 非常不满意；未评级为空",
    "appraisald": "差评原因代码（channels/ratings.py 十项）", "appraisaldName": "差评原因名称",
    "writingEvaluation": "文字评价（已去除电话、邮箱、身份证号）",
    "assessTime": "评价时间 yyyy-MM-dd HH:mm:ss（北京时间）",
    "rectifyType": "整改类别：immediate/time_limited/coordinated/none",
    "handleStatus": "处理状态：0 待核实 1 整改中 2 已整改答复 3 已回访 4 已办结 9 不予采纳",
    "handleStatusName": "处理状态名称", "verifyResult": "核实结论：valid/not_valid/malicious",
    "firstResponseTime": "首次响应时间", "rectifyTime": "整改答复时间",
    "replyContent": "公开答复内容", "returnVisitSatisfied": "回访是否满意：1 满意 0 不满意；未回访为空",
}


def _local(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if moment else None


@dataclass(frozen=True)
class MatterRef:
    """The 办件 an evaluation belongs to (一事一评), when it has one."""

    matter_no: str
    applicant_type: str | None


def record_of(case: Case, hall: Hall | None, item: ServiceItem | None, window_code: str | None,
              replies: list[str], satisfied: bool | None, tz: ZoneInfo, *, matter: MatterRef | None = None,
              area_code: str | None = None) -> dict[str, Any]:
    """The upstream record of ``case`` (see ``RECORD_FIELDS``); no personal data.  ``area_code``
    overrides the hall's own (a village point without a code takes its town's)."""
    rating = Rating(case.rating) if case.rating else None
    source = case.source or source_of(case.channel)
    state_code, state_name = HANDLE_STATES.get(case.status, ("0", "待核实"))
    reasons = [r for r in (case.reasons or []) if r in REASONS_BY_CODE]
    return {
        "assessNumber": f"hcp-{case.code}",
        "dataVersion": int(case.updated_at.timestamp() * 1000),
        "projectNo": matter.matter_no if matter else None,
        "taskCode": item.code if item else None,
        "taskName": item.name if item else None,
        "deptCode": None,
        "deptName": case.department or (item.department if item else None),
        "areaCode": area_code or (hall.region_code if hall else None),
        "hallName": hall.name if hall else None,
        "windowCode": window_code,
        "pf": PF.get(source, PF_OTHER),
        "evaluationSource": source,
        "evaluationSourceName": SOURCE_LABELS.get(source, source),
        "userProp": USER_PROP.get(matter.applicant_type or "", USER_PROP_UNKNOWN) if matter else USER_PROP_UNKNOWN,
        "isRealName": "1" if case.real_name else "0",
        "alternate": str(rating.score) if rating else None,
        "appraisald": ",".join(reasons),
        "appraisaldName": ",".join(REASONS_BY_CODE[r].label for r in reasons),
        "writingEvaluation": scrub(case.text or "")[:2000],
        "assessTime": _local(case.received_at, tz),
        "rectifyType": case.category,
        "handleStatus": state_code,
        "handleStatusName": state_name,
        "verifyResult": case.verdict,
        "firstResponseTime": _local(case.first_responded_at or case.result_at, tz),
        "rectifyTime": _local(case.result_at, tz),
        "replyContent": "\n".join(scrub(r) for r in replies) or None,
        "returnVisitSatisfied": None if satisfied is None else ("1" if satisfied else "0"),
    }


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(key, timestamp + "." + body)."""
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(key: bytes, timestamp: str, body: bytes, signature: str, *, max_age: float = 300.0,
           now: float | None = None) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        age = abs((now or time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= max_age and hmac.compare_digest(sign(key, timestamp, body), signature)


class UpstreamSender:
    """POSTs an outbox row's record to the upstream endpoint."""

    def __init__(self, url: str, key: bytes, *, client: httpx.AsyncClient | None = None,
                 timeout: float = TIMEOUT) -> None:
        self.url = url
        self.key = key
        self.client = client
        self.timeout = timeout

    async def send(self, message: OutgoingMessage) -> SendResult:
        record = dict(message.payload)
        body = json.dumps(record, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json; charset=utf-8",
            "x-hcp-timestamp": timestamp,
            "x-hcp-signature": sign(self.key, timestamp, body),
            "idempotency-key": f"{record.get('assessNumber')}:{record.get('dataVersion')}",
            "user-agent": "hcp-upstream/1",
        }
        try:
            if self.client is not None:
                response = await self.client.post(self.url, content=body, headers=headers, timeout=self.timeout)
            else:
                async with httpx.AsyncClient() as client:
                    response = await client.post(self.url, content=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            return SendResult(ok=False, error=f"upstream unreachable: {type(exc).__name__}: {exc}"[:500])
        status = response.status_code
        if 200 <= status < 300 or status == 409:
            return SendResult(ok=True, provider_ref=f"HTTP {status}")
        error = f"upstream answered HTTP {status}: {response.text[:300]}"
        return SendResult(ok=False, error=error, permanent=400 <= status < 500 and status not in (408, 409, 429))


# ----- the enqueue job ----------------------------------------------------------------------------

def _cursor(session: Session) -> tuple[datetime, int] | None:
    row = session.get(WorkerState, STATE_KEY)
    if row is None or not row.value.get("updated_at"):
        return None
    return datetime.fromisoformat(row.value["updated_at"]), int(row.value["id"])


def _save_cursor(session: Session, updated_at: datetime, case_id: int, now: datetime, queued: int) -> None:
    value = {"updated_at": updated_at.isoformat(), "id": case_id, "queued": queued, "at": now.isoformat()}
    statement = insert_for(session)(WorkerState).values(key=STATE_KEY, value=value, updated_at=now)
    session.execute(statement.on_conflict_do_update(
        index_elements=[WorkerState.key],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at}))


def _matters_of(session: Session, case_ids: list[int]) -> dict[int, MatterRef]:
    """The 办件 of each evaluation of ``case_ids`` that has one, from the ``matter_no`` and client the
    inbound API put on the case's first message (so it holds even before the matter row is marked)."""
    found: dict[int, tuple[str, str]] = {}
    for case_id, extra in session.execute(
            select(Message.case_id, Message.extra).where(Message.case_id.in_(case_ids), Message.direction == "in")
            .order_by(Message.id)).all():
        if case_id not in found and (extra or {}).get("matter_no"):
            found[case_id] = (str(extra["matter_no"]), str(extra.get("client") or ""))
    if not found:
        return {}
    types: dict[tuple[str, str], str] = {
        (client, number): kind for client, number, kind in session.execute(
            select(ApiClient.code, Matter.matter_no, Matter.applicant_type).join(
                ApiClient, ApiClient.id == Matter.client_id)
            .where(Matter.matter_no.in_({number for number, _ in found.values()}))).all()}
    return {case_id: MatterRef(number, types.get((client, number)))
            for case_id, (number, client) in found.items()}


def enqueue_changes(session: Session, services: Services, *, now: datetime | None = None,
                    batch: int = BATCH) -> int:
    """Enqueue one upstream record per case changed since the cursor (up to ``batch``); advance it.

    Runs in one write transaction: the outbox rows and the new cursor commit together, so a crash
    neither loses nor doubles a push (the dedup key ``upstream:CASE:VERSION`` makes a repeat a no-op).
    """
    now = now or datetime.now(UTC)
    tz = ZoneInfo(services.settings.timezone)
    query = (select(Case).where(Case.updated_at < now - SETTLE, ~Case.code.startswith(DEMO_PREFIX))
             .order_by(Case.updated_at, Case.id).limit(batch))
    cursor = _cursor(session)
    if cursor is not None:
        query = query.where(tuple_(Case.updated_at, Case.id) > tuple_(*cursor))
    cases = list(session.execute(query).scalars())
    if not cases:
        return 0
    ids = [c.id for c in cases]
    halls = {h.id: h for h in session.execute(
        select(Hall).where(Hall.id.in_({c.hall_id for c in cases if c.hall_id}))).scalars()}
    town_codes: dict[int, str | None] = dict(session.execute(select(Hall.id, Hall.region_code).where(
        Hall.id.in_({h.town_id for h in halls.values() if h.town_id}))).all())
    matters = _matters_of(session, ids)
    items = {i.id: i for i in session.execute(select(ServiceItem).where(
        ServiceItem.id.in_({c.service_item_id for c in cases if c.service_item_id}))).scalars()}
    windows: dict[int, str] = dict(session.execute(select(Window.id, Window.code).where(
        Window.id.in_({c.window_id for c in cases if c.window_id}))).all())
    replies: dict[int, list[str]] = {}
    for case_id, text in session.execute(
            select(Message.case_id, Message.text).where(Message.case_id.in_(ids), Message.direction == "out",
                                                        Message.public.is_(True)).order_by(Message.id)).all():
        replies.setdefault(case_id, []).append(text)
    satisfied: dict[int, bool | None] = {}
    for case_id, data in session.execute(
            select(CaseEvent.case_id, CaseEvent.data).where(CaseEvent.case_id.in_(ids),
                                                            CaseEvent.kind == "return_visit")
            .order_by(CaseEvent.id)).all():
        satisfied[case_id] = (data or {}).get("satisfied")
    for case in cases:
        hall = halls.get(case.hall_id or 0)
        area = (hall.region_code or (town_codes.get(hall.town_id) if hall.town_id else None)) if hall else None
        record = record_of(case, hall, items.get(case.service_item_id or 0),
                           windows.get(case.window_id or 0), replies.get(case.id, []), satisfied.get(case.id), tz,
                           matter=matters.get(case.id), area_code=area)
        enqueue(session, services.cipher, OutgoingMessage(
            channel=CHANNEL, kind=KIND, recipient=services.settings.upstream_url or "", body="",
            subject=record["assessNumber"], case_id=case.id,
            dedup_key=f"upstream:{case.id}:{record['dataVersion']}", payload=record), now=now)
    _save_cursor(session, cases[-1].updated_at, cases[-1].id, now, len(cases))
    return len(cases)
