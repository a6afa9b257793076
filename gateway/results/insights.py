"""The figures the county is assessed and steered by, beside the 通报's headline figures: 考核
scores, the second-level reasons, evaluation sources, 参评率 and the share of evaluations that name
their service item.  The reports page, the workbook and the public page take them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.sources import SOURCES
from gateway.results import charts
from gateway.results.assessment import AssessmentRules, Score, assess
from gateway.results.figures import Dim, FigureRow, Filters, Names, compute, percent, total, unrated_figures
from gateway.results.reasons import ReasonRow, reason_figures


@dataclass(frozen=True)
class ItemShare:
    """Evaluations linked to a service item, and those marked 未指明事项."""

    linked: int
    unspecified: int

    @property
    def total(self) -> int:
        return self.linked + self.unspecified

    @property
    def linked_rate(self) -> float | None:
        return self.linked / self.total if self.total else None

    @property
    def unspecified_rate(self) -> float | None:
        return self.unspecified / self.total if self.total else None


def item_share(by_item: list[FigureRow]) -> ItemShare:
    unspecified = sum(r.counts["evaluations"] for r in by_item if not r.code(Dim.SERVICE_ITEM))
    return ItemShare(sum(r.counts["evaluations"] for r in by_item) - unspecified, unspecified)


def source_bars(rows: list[FigureRow]) -> list[charts.Bar]:
    return [charts.Bar(r.label(Dim.SOURCE), r.counts["evaluations"], f"{r.counts['evaluations']:,}") for r in rows]


async def sources_and_participation(session: AsyncSession, filters: Filters, names: Names) -> dict[str, Any]:
    """Evaluations by source, 参评率 of the 办件 reported through the API, and the item share."""
    order = {code: i for i, code in enumerate(SOURCES)}  # as the rules list them; new channels after
    by_source = sorted(await compute(session, filters, [Dim.SOURCE], names=names),
                       key=lambda r: (order.get(r.code(Dim.SOURCE), len(order)), r.code(Dim.SOURCE)))
    by_item = await compute(session, filters, [Dim.SERVICE_ITEM], names=names)
    matters = await unrated_figures(session, filters, names)
    return {"by_source": by_source, "participation": matters[None], "participation_by_town": matters,
            "item_share": item_share(by_item), "by_item": by_item}


async def report_insights(session: AsyncSession, filters: Filters, names: Names, rules: AssessmentRules | None,
                          *, unit: Dim, reasons_by: Dim, now: datetime) -> dict[str, Any]:
    """Everything the reports page shows beyond the headline figures."""
    scores: list[Score] = await assess(session, filters, unit, rules, names=names, now=now) if rules else []
    reasons_total = (await reason_figures(session, filters, None, names=names))[0]
    reasons_grouped: list[ReasonRow] = await reason_figures(session, filters, reasons_by, names=names)
    reasons_trend = await reason_figures(session, filters, Dim.MONTH, names=names)
    extra = await sources_and_participation(session, filters, names)
    return {"scores": scores, "reasons_total": reasons_total, "reasons_grouped": reasons_grouped,
            "reasons_trend": reasons_trend, **extra,
            "source_chart": charts.bar_chart("各评价来源评价数", source_bars(extra["by_source"]))}


async def public_insights(session: AsyncSession, filters: Filters, names: Names) -> dict[str, Any]:
    """The public page's evaluation sources and 参评率 of the month (aggregates only)."""
    extra = await sources_and_participation(session, filters, names)
    matters = extra["participation"]
    return {"by_source": extra["by_source"], "participation": matters,
            "participation_text": percent(matters.participation_rate), "source_total": total(extra["by_source"]),
            "source_chart": charts.bar_chart(f"{filters.period.start:%Y年%m月}各评价来源评价数",
                                             source_bars(extra["by_source"]))}
