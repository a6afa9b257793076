"""The numbers beside the start page's links (工作台): what waits for this person in each area.

Each number is counted by the rule of the page the link opens, never a second copy of it: the
case list's filters (``queries.case_filters``, overdue from ``gateway.core.overdue``), the conditions
of /supervise's lists and of the triage queue (``queries.IN_REVIEW`` …), the mailroom's own tab
counts, and the hotline's call-back list itself.  Only areas this person may open are counted
(``staff_nav``), in their towns (``Principal.town_filter``).  A count links to the list it counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gateway.auth.roles import Principal
from gateway.console.queries import APPEAL_PENDING, IN_REVIEW, VISIT_MISSING, case_filters, count_cases
from gateway.core.domain import CaseStatus
from gateway.core.labels import CALLBACKS_LABEL, STATUS_LABELS, WORK_LIST_LABELS
from gateway.core.services import Services
from gateway.phone.options import PhoneOptions
from gateway.ui.staff_nav import NavItem

# What a handler acts on next, in the order of the work, by the status filter of /cases (待核实:
# start verifying a classified complaint; 核实中: record the verdict; 核实属实: start the
# rectification; 整改中: answer the citizen; 待回访: the return visit of an answered real-name 差评,
# which the case page lets a handler record as well as the hotline's operators).
HANDLER_LISTS = ("to_verify", CaseStatus.VERIFYING.value, CaseStatus.VALID.value, CaseStatus.RECTIFYING.value,
                 "to_visit")
CALLBACK_LIMIT = 100  # the hotline page lists this many


@dataclass(frozen=True)
class WorkCount:
    label: str
    count: int
    href: str
    urgent: bool = False  # overdue work: shown in the warning colour (and said in words)


async def work_counts(services: Services, user: Principal, areas: Iterable[NavItem], now: datetime,
                      phone_options: PhoneOptions | None = None) -> dict[str, list[WorkCount]]:
    """Counts per area ``href`` for the areas given (the person's navigation)."""
    hrefs = {area.href for area in areas}
    towns = user.town_filter()
    counts: dict[str, list[WorkCount]] = {}
    async with services.store.read() as session:
        async def count(*conditions):  # type: ignore[no-untyped-def]
            return await count_cases(session, *conditions, towns=towns)

        if "/cases" in hrefs and user.has("handler", "supervisor"):
            listed = []
            if user.has("handler"):
                for status in HANDLER_LISTS:
                    label = WORK_LIST_LABELS.get(status) or STATUS_LABELS[status]
                    listed.append(WorkCount(label, await count(*case_filters(status=status)),
                                            f"/cases?status={status}"))
            listed.append(WorkCount("逾期", await count(*case_filters(overdue_at=now)), "/cases?overdue=1",
                                    urgent=True))
            counts["/cases"] = listed
        if "/triage" in hrefs:
            counts["/triage"] = [WorkCount("待复核", await count(IN_REVIEW), "/triage")]
        if "/supervise" in hrefs:
            counts["/supervise"] = [
                WorkCount("待回访", await count(VISIT_MISSING), "/supervise#unvisited-title"),
                WorkCount("待裁定申诉", await count(APPEAL_PENDING), "/supervise#appeals"),
            ]
    if "/mailroom" in hrefs:
        from gateway.paper.drafts import counts as draft_counts

        tabs = await draft_counts(services, towns)
        counts["/mailroom"] = [WorkCount("待录入", tabs.get("open", 0), "/mailroom?status=open")]
    if "/hotline" in hrefs:
        from gateway.phone.return_visits import open_callbacks

        waiting = await open_callbacks(services, now=now, town_filter=towns, limit=CALLBACK_LIMIT,
                                       options=phone_options)
        counts["/hotline"] = [WorkCount(CALLBACKS_LABEL, len(waiting), "/hotline#callbacks")]
    return counts
