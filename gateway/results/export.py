"""CSV export of the cases behind a report: one row per case, personal data masked.

Read in keyset pages of ``PAGE`` cases ordered by (received_at, id): each page is three queries
(cases, their contacts, their return-visit events) whatever its size, so a year of cases streams
in constant memory.  Names are masked (王**), phone numbers and e-mail addresses too
(138****5678, w***@163.com), and the citizen's own text passes through ``lists.scrub`` so a phone
number typed into a complaint does not leave either.  UTF-8 with a byte-order mark, which Excel
needs to read Chinese CSV correctly.  Every cell passes through ``safe_text.inert``: a text that
starts like a formula gets a leading ``'`` (OWASP's CSV-injection rule), so no spreadsheet runs it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, tuple_

from channels.contact import mask_email, mask_name, mask_phone
from channels.ratings import REASONS_BY_CODE, Rating
from gateway.core.db.models import Case, CaseEvent, Contact
from gateway.core.domain import CaseStatus, Category
from gateway.core.labels import CATEGORY_LABELS, STATUS_LABELS
from gateway.core.overdue import first_response_done
from gateway.core.safe_text import inert
from gateway.core.services import Services
from gateway.results.figures import CHANNEL_LABELS, RETURN_VISIT_EVENT, Dim, Filters, Names, _case_filters
from gateway.results.lists import scrub

PAGE = 2000
CSV_NAME = "haochaping-cases-{start:%Y%m%d}-{end:%Y%m%d}.csv"
COLUMNS = ("受理编号", "受理时间", "评价渠道", "评价来源", "镇（街道）", "窗口", "服务事项", "评价等级", "差评原因",
           "内容", "整改类别", "状态", "核实结论", "首次响应期限", "首次响应时间", "办结期限", "整改答复时间",
           "是否超期", "实名", "评价人", "电话", "邮箱", "已回访", "回访满意")
VERDICTS = {"valid": "属实", "not_valid": "不属实", "malicious": "恶意评价"}


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""


def _late(case: Case, now: datetime) -> str:
    first_done = first_response_done(case)
    if case.first_response_due and (first_done or now) > case.first_response_due:
        return "是"
    if case.result_due and (case.result_at or now) > case.result_due:
        return "是"
    return "否"


async def case_pages(services: Services, filters: Filters) -> AsyncIterator[list[list[str]]]:
    """The CSV rows of the filtered cases, a page at a time."""
    tz = ZoneInfo(filters.period.tz)
    now = datetime.now(tz)
    after: tuple[datetime, int] | None = None
    async with services.store.read() as session:
        names = await Names.load(session)
    while True:
        async with services.store.read() as session:
            query = select(Case).where(*_case_filters(filters, names))
            if after is not None:
                query = query.where(tuple_(Case.received_at, Case.id) > tuple_(*after))
            cases = list((await session.execute(query.order_by(Case.received_at, Case.id).limit(PAGE))).scalars())
            if not cases:
                return
            ids = [c.id for c in cases]
            contacts = {c.case_id: c for c in (await session.execute(
                select(Contact).where(Contact.case_id.in_(ids)))).scalars()}
            visits: dict[int, Any] = {}
            for event in (await session.execute(
                    select(CaseEvent.case_id, CaseEvent.data).where(CaseEvent.case_id.in_(ids),
                                                                    CaseEvent.kind == RETURN_VISIT_EVENT)
                    .order_by(CaseEvent.id))).all():
                visits[event.case_id] = (event.data or {}).get("satisfied")
        rows = []
        for case in cases:
            contact = contacts.get(case.id)
            name = services.cipher.open(contact.name_enc) if contact else None
            phone = services.cipher.open(contact.phone_enc) if contact else None
            email = services.cipher.open(contact.email_enc) if contact else None
            satisfied = visits.get(case.id)
            rows.append([
                case.code, _local(case.received_at, tz), CHANNEL_LABELS.get(case.channel, case.channel),
                names.key_of(Dim.SOURCE, case.source or case.channel)[1],
                names.key_of_hall(case.hall_id)[1], names.key_of_window(case.window_id)[1] if case.window_id else "",
                names.key_of(Dim.SERVICE_ITEM, case.service_item_id)[1],
                Rating(case.rating).label if case.rating else "",
                "、".join(REASONS_BY_CODE[r].label for r in (case.reasons or []) if r in REASONS_BY_CODE),
                scrub(case.text or ""),
                CATEGORY_LABELS[Category(case.category)] if case.category else "",
                STATUS_LABELS[CaseStatus(case.status)], VERDICTS.get(case.verdict or "", ""),
                _local(case.first_response_due, tz), _local(case.first_responded_at, tz),
                _local(case.result_due, tz), _local(case.result_at, tz), _late(case, now),
                "是" if case.real_name else "否", mask_name(name), mask_phone(phone), mask_email(email),
                "是" if case.id in visits else "否",
                "" if satisfied is None else ("满意" if satisfied else "不满意"),
            ])
        yield [[inert(value) for value in row] for row in rows]
        after = (cases[-1].received_at, cases[-1].id)


async def iter_cases_csv(services: Services, filters: Filters) -> AsyncIterator[str]:
    """CSV text in chunks (header first), for streaming over HTTP."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    async for rows in case_pages(services, filters):
        writer.writerows(rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


async def write_cases_csv(services: Services, filters: Filters, handle: IO[str]) -> int:
    """Write the CSV to ``handle``; return the number of cases."""
    writer = csv.writer(handle)
    writer.writerow(COLUMNS)
    count = 0
    async for rows in case_pages(services, filters):
        writer.writerows(rows)
        count += len(rows)
    return count
