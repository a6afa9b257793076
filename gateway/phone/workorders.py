"""12345 work orders in and their answers (办理结果) out: the stateful half of ``channels.phone.workorders``.

Each order becomes one case through the one ingest (``Intake(channel="hotline12345",
source_ref=工单编号)``), so an order imported twice, from two files or by two people at once, is
one case.  Beside the case, ``hotline_orders`` keeps the platform's own deadline (办理时限, which
the county's 立整立改 / 限时整改 deadlines on the case do not replace), the town and handling unit the
platform named, and when the answer was exported back.  The order row is written after the case;
if a crash falls between the two, importing the file again finds the case and writes the row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from channels.intake import Intake, IntakeError
from channels.phone.cdr import RowProblem
from channels.phone.workorders import OrderResult, ParsedOrders, WorkOrder
from gateway.core.db.dialect import insert_for
from gateway.core.db.models import Case, Hall, Message
from gateway.core.db.models_phone import HotlineOrder
from gateway.core.deadlines import WorkCalendar
from gateway.core.ingest import IngestError
from gateway.core.labels import STATUS_LABELS

if TYPE_CHECKING:
    from gateway.core.services import Services

CHANNEL = "hotline12345"


@dataclass
class OrderCounts:
    new: int = 0
    already: int = 0
    rejected: int = 0
    no_town: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"new": self.new, "already": self.already, "rejected": self.rejected, "no_town": self.no_town}


def _hall_matcher(halls: list[tuple[str, str]]) -> Callable[[str | None], str | None]:
    """所属镇街 → hall code: the hall's name, or a name that contains (or is contained in) the town's."""
    def match(town: str | None) -> str | None:
        if not town:
            return None
        wanted = town.strip().removesuffix("为民服务大厅").removesuffix("便民服务中心")
        for code, name in halls:
            if name == wanted or code == wanted:
                return code
        candidates = [code for code, name in halls if wanted and (wanted in name or name in wanted)]
        return candidates[0] if len(candidates) == 1 else None
    return match


def platform_due(order: WorkOrder, calendar: WorkCalendar) -> datetime | None:
    """The platform's deadline as a moment (``N个工作日`` counted by the county's working-day calendar)."""
    if order.due.at is not None:
        return order.due.at
    if order.due.working_days:
        return calendar.add_working_days(order.called_at, order.due.working_days).at
    return None


def order_intake(order: WorkOrder, hall: str | None, due: datetime | None) -> Intake:
    contact: dict[str, Any] = {"name": order.name, "phone": order.caller}
    if order.caller:
        contact["preferred_channel"] = "phone"
    return Intake.build(
        channel=CHANNEL, source_ref=order.order_no, received_at=order.called_at,
        subject=(order.title or f"12345工单 {order.order_no}")[:300], text=order.text, hall=hall, contact=contact,
        extra={"order_no": order.order_no, "platform_due": due.isoformat() if due else None,
               "platform_due_text": order.due.text or None, "town": order.town, "unit": order.unit,
               "kind": order.kind})


CHUNK = 32


async def import_orders(services: Services, parsed: ParsedOrders, *, source_file: str | None = None,
                        progress: Callable[[int], None] | None = None) -> OrderCounts:
    """Store every good order as a case (idempotent by 工单编号); bad rows join ``problems``.

    Orders already recorded are counted and skipped before any triage; the rest go through the
    ingest a chunk at a time, concurrently, so that the ingest's group commit writes them together.
    """
    counts = OrderCounts(problems=list(parsed.problems))
    calendar = await services.calendar.get()
    numbers = [order.order_no for order in parsed.orders]
    known: set[str] = set()
    async with services.store.read() as session:
        halls = [(row.code, row.name) for row in (await session.execute(select(Hall.code, Hall.name)))]
        for start in range(0, len(numbers), 500):
            known.update((await session.execute(select(HotlineOrder.order_no).where(
                HotlineOrder.order_no.in_(numbers[start:start + 500])))).scalars())
    hall_of = _hall_matcher(halls)
    pending = [order for order in parsed.orders if order.order_no not in known]
    counts.already += len(parsed.orders) - len(pending)
    if progress is not None and known:
        progress(len(known))
    for start in range(0, len(pending), CHUNK):
        chunk = pending[start:start + CHUNK]
        planned = [(order, hall_of(order.town), platform_due(order, calendar)) for order in chunk]

        async def one(order: WorkOrder, hall: str | None, due: datetime | None) -> Any:
            try:
                return await services.ingestor.ingest(order_intake(order, hall, due))
            except (IntakeError, IngestError) as exc:
                return exc

        outcomes = await asyncio.gather(*(one(*item) for item in planned))
        rows = []
        now = datetime.now(UTC)
        for (order, hall, due), outcome in zip(planned, outcomes, strict=True):
            if isinstance(outcome, Exception):
                counts.rejected += 1
                counts.problems.append(RowProblem(order.row, "error", str(outcome)))
                continue
            if order.town and hall is None:
                counts.no_town += 1
            if outcome.created:
                counts.new += 1
            else:
                counts.already += 1
            rows.append(dict(order_no=order.order_no, case_id=outcome.case_id, called_at=order.called_at,
                             platform_due=due, town=order.town, unit=order.unit, kind=order.kind,
                             source_file=(source_file or "")[:255] or None, source_row=order.row, imported_at=now))
        if rows:
            async with services.store.write() as session:
                await session.execute(insert_for(session)(HotlineOrder).on_conflict_do_nothing(
                    index_elements=[HotlineOrder.order_no]), rows)
        if progress is not None:
            progress(len(chunk))
    counts.problems.sort(key=lambda p: p.row)
    return counts


async def order_results(services: Services, *, since: datetime | None = None, until: datetime | None = None,
                        answered_only: bool = False, mark: bool = False) -> list[OrderResult]:
    """The 办理结果 of imported orders (called in ``[since, until)``): the latest reply to the citizen.

    ``mark`` records the export time on the answered orders (``hotline_orders.exported_at``).
    """
    query = (select(HotlineOrder, Case).join(Case, Case.id == HotlineOrder.case_id)
             .order_by(HotlineOrder.called_at, HotlineOrder.id))
    if since is not None:
        query = query.where(HotlineOrder.called_at >= since)
    if until is not None:
        query = query.where(HotlineOrder.called_at < until)
    results: list[OrderResult] = []
    answered: list[int] = []
    async with services.store.read() as session:
        rows = (await session.execute(query)).all()
        case_ids = [case.id for _, case in rows]
        replies: dict[int, Message] = {}
        if case_ids:
            for message in (await session.execute(
                    select(Message).where(Message.case_id.in_(case_ids), Message.direction == "out",
                                          Message.source_ref.like("reply:%")).order_by(Message.id))).scalars():
                replies[message.case_id] = message  # the last one wins
    for order, case in rows:
        reply = replies.get(case.id)
        if answered_only and reply is None:
            continue
        if reply is not None:
            answered.append(order.id)
        status = "已办结" if case.status == "closed" else "已答复" if reply is not None else "办理中"
        if case.status in ("not_valid", "malicious"):
            status = STATUS_LABELS[case.status]
        results.append(OrderResult(order_no=order.order_no, unit=order.unit or "", status=status,
                                   result=reply.text if reply is not None else "",
                                   finished_at=reply.at if reply is not None else None,
                                   platform_due=order.platform_due))
    if mark and answered:
        now = datetime.now(UTC)
        async with services.store.write() as session:
            await session.execute(update(HotlineOrder).where(HotlineOrder.id.in_(answered))
                                  .values(exported_at=now))
    return results
