"""The ten second-level reasons (二级评价) of 差评, counted per window, service item, town and month.

The rules use them as "优化办事流程、动态调整办事指南的重要参考依据": which reason the citizens tick,
where, and whether it is getting better.  A reason counts once per adopted 差评 that ticked it (a 差评
may tick several); its **rate** is that count over the adopted 差评 of the same group, so rates of
one group may sum to more than 100%.  差评 that ticked none (complaints by e-mail or phone carry no
ticks) are shown as 未选原因, so the denominators stay honest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.ratings import REASONS
from gateway.core.db.models import Case
from gateway.results.figures import BAD, Dim, Filters, Names, case_filters

REASON_CODES: tuple[str, ...] = tuple(r.code for r in REASONS)
REASON_LABELS: dict[str, str] = {r.code: r.label for r in REASONS}
GROUPINGS = (Dim.HALL, Dim.WINDOW, Dim.SERVICE_ITEM, Dim.MONTH)
_COLUMN = {Dim.HALL: "hall_id", Dim.WINDOW: "window_id", Dim.SERVICE_ITEM: "service_item_id"}


@dataclass
class ReasonRow:
    """One group: its (code, label), its adopted 差评, and the count of each reason among them."""

    key: tuple[str, str]
    bad: int = 0
    none: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASON_CODES, 0))

    @property
    def code(self) -> str:
        return self.key[0]

    @property
    def label(self) -> str:
        return self.key[1]

    def rate(self, reason: str) -> float | None:
        return self.counts[reason] / self.bad if self.bad else None

    def add(self, reasons: Iterable[str]) -> None:
        ticked = [r for r in dict.fromkeys(reasons) if r in self.counts]
        self.bad += 1
        if not ticked:
            self.none += 1
        for reason in ticked:
            self.counts[reason] += 1


async def reason_figures(session: AsyncSession, filters: Filters, by: Dim | None = None, *,
                         names: Names | None = None) -> list[ReasonRow]:
    """Reason counts grouped ``by`` town, window, service item or month (``None``: one total row),
    ordered by code (months in time order)."""
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"reasons are grouped by town, window, service item or month, not {by}")
    names = names or await Names.load(session)
    rows = (await session.execute(
        select(Case.hall_id, Case.window_id, Case.service_item_id, Case.received_at, Case.reasons)
        .where(*case_filters(filters, names), BAD))).all()
    zone = filters.period.zone
    groups: dict[Any, ReasonRow] = {}
    for row in rows:
        if by is None:
            value: Any = None
            key = ("", "合计")
        elif by is Dim.MONTH:
            received: datetime = row.received_at
            value = received.astimezone(zone).strftime("%Y-%m")
            key = names.key_of(Dim.MONTH, value)
        else:
            value = getattr(row, _COLUMN[by])
            if by is Dim.HALL:
                value = names.town_of(value)
            key = names.key_of(by, value)
        group = groups.get(value)
        if group is None:
            group = groups[value] = ReasonRow(key)
        group.add(row.reasons or [])
    if by is None and not groups:
        return [ReasonRow(("", "合计"))]
    return sorted(groups.values(), key=lambda r: r.code or "~")
