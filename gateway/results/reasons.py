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
from typing import Any

from sqlalchemy import ColumnElement, String, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.ratings import REASONS
from gateway.core.db.models import Case
from gateway.results.figures import BAD, Dim, Filters, Names, case_filters, local_day_sql

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


def _ticked(code: str) -> ColumnElement[bool]:
    """Whether the case's JSON list of reasons holds ``code`` (codes are distinct quoted words)."""
    return cast(Case.reasons, String).like(f'%"{code}"%')


def _month_sql(dialect: str, tz: str) -> Any:
    day = local_day_sql(dialect, tz)
    return func.to_char(day, "YYYY-MM") if dialect == "postgresql" else func.substr(day, 1, 7)


async def reason_figures(session: AsyncSession, filters: Filters, by: Dim | None = None, *,
                         names: Names | None = None) -> list[ReasonRow]:
    """Reason counts grouped ``by`` town, window, service item or month (``None``: one total row),
    ordered by code (months in time order).  Counted in SQL, one grouped query over the 差评."""
    if by is not None and by not in GROUPINGS:
        raise ValueError(f"reasons are grouped by town, window, service item or month, not {by}")
    names = names or await Names.load(session)
    dialect = session.get_bind().dialect.name
    if by is None:
        group: Any = None
    elif by is Dim.MONTH:
        group = _month_sql(dialect, filters.period.tz)
    else:
        group = getattr(Case, _COLUMN[by])
    ticks = [func.sum(case((_ticked(code), 1), else_=0)) for code in REASON_CODES]
    none = func.sum(case((and_(*[~_ticked(code) for code in REASON_CODES]), 1), else_=0))
    columns = [group.label("g")] if group is not None else []
    query = select(*columns, func.count(), none, *ticks).where(*case_filters(filters, names), BAD)
    if group is not None:
        query = query.group_by(group)
    groups: dict[Any, ReasonRow] = {}
    for row in (await session.execute(query)).all():
        values = list(row)
        value = values.pop(0) if group is not None else None
        bad, unticked, *counts = (int(v or 0) for v in values)
        if not bad:
            continue
        if by is Dim.HALL:
            value = names.town_of(value)
        key = ("", "合计") if by is None else names.key_of(by, str(value) if by is Dim.MONTH else value)
        target = groups.get(value)
        if target is None:
            target = groups[value] = ReasonRow(key)
        target.bad += bad
        target.none += unticked
        for code, count in zip(REASON_CODES, counts, strict=True):
            target.counts[code] += count
    if by is None and not groups:
        return [ReasonRow(("", "合计"))]
    return sorted(groups.values(), key=lambda r: r.code or "~")
