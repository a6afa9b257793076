"""考核: a score per town, window and staff member for a period, from rules kept as data.

The rules file (``data/assessment.toml`` by default, ``HCP_ASSESSMENT_RULES`` for the county's own)
gives a weight to each of five rates and points to deduct per case of three kinds; see the file's
comments for the formula.  Every deduction keeps the codes of the cases behind it, so a town can
check each point it lost (the workbook's 考核 sheet lists them).  The rates are the figures of
``gateway.results.figures`` (参评率 from the 办件 of the inbound API), so a 考核 never counts a case
differently from the 通报.

A village or community point is assessed as part of its town; rankings of 镇（街道） list towns only.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.core.db.models import Case
from gateway.core.filelines import line_of
from gateway.core.overdue import result_missed
from gateway.results.figures import (
    HANDLED,
    RATES_BY_NAME,
    RECTIFY_CATEGORIES,
    RN_UNVISITED,
    Counts,
    Dim,
    Filters,
    Names,
    case_filters,
    compute,
    in_progress_by,
)

DEFAULT_RULES = Path(__file__).parent / "data" / "assessment.toml"
UNITS = (Dim.HALL, Dim.WINDOW, Dim.STAFF)

RATE_LABELS: dict[str, str] = {
    "good_rate": "好评率", "rectified_rate": "差评整改率", "on_time_rate": "按时整改率",
    "return_visit_rate": "实名差评回访率", "participation_rate": "参评率",
}
DEDUCTION_LABELS: dict[str, str] = {
    "unrectified_overdue": "逾期未整改差评", "unvisited_real_name": "未回访实名差评", "upheld_appeal": "误评申诉成立",
}

NO_DATA_LABELS: dict[str, str] = {"full": "得满分", "zero": "不得分", "exclude": "不计，其余指标按比例折算"}
# In the cell of an indicator without data (no 差评, no 办件…), so a full score is never a silent one.
NO_DATA_CELL_LABELS: dict[str, str] = {"full": "无数据，按满分计", "zero": "无数据，不得分",
                                       "exclude": "无数据，不计入"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Points = Field(ge=0, le=1000)


class Weights(_Strict):
    good_rate: float = Points
    rectified_rate: float = Points
    on_time_rate: float = Points
    return_visit_rate: float = Points
    participation_rate: float = Points


class NoData(_Strict):
    policy: Literal["full", "zero", "exclude"] = "full"


class Deductions(_Strict):
    unrectified_overdue: float = Points
    unvisited_real_name: float = Points
    upheld_appeal: float = Points
    # At most this many points are deducted in one assessment (0: no cap), so a year's score still
    # tells towns apart instead of every one of them sitting at the floor.
    cap: float = Field(default=0.0, ge=0, le=1000)


class ScoreRules(_Strict):
    minimum: float = 0.0


class AssessmentRules(_Strict):
    weights: Weights
    no_data: NoData = Field(default_factory=NoData)
    deductions: Deductions
    score: ScoreRules = Field(default_factory=ScoreRules)

    @model_validator(mode="after")
    def _some_weight(self) -> AssessmentRules:
        if self.full_marks <= 0:
            raise ValueError("at least one weight must be above 0")
        return self

    @property
    def full_marks(self) -> float:
        return sum(self.weights.model_dump().values())


class AssessmentRulesError(ValueError):
    """A rules file that cannot be used; one problem per line, each with ``file:line``."""


def read_rules(path: Path | None = None) -> AssessmentRules:
    """Read and check a rules file (the shipped default when ``path`` is ``None``)."""
    path = path or DEFAULT_RULES
    try:
        text = path.read_text("utf-8")
        raw = tomllib.loads(text)
    except FileNotFoundError:
        raise AssessmentRulesError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise AssessmentRulesError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise AssessmentRulesError(f"{path}: not valid TOML: {exc}") from None
    try:
        return AssessmentRules.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = line_of(text, loc) if loc else None
            where = f"{path}:{line}" if line else str(path)
            name = ".".join(map(str, loc)) or "file"
            problems.append(f"{where}: {name}: {error['msg'].removeprefix('Value error, ')}")
        raise AssessmentRulesError("\n".join(problems)) from None


# ----- deductions ------------------------------------------------------------------------------------

def deduction_predicates(now: datetime) -> dict[str, ColumnElement[bool]]:
    """Which cases each deduction counts, as of ``now``."""
    return {
        # A 差评 as handled (``HANDLED``: adopted 差评 and unrated complaints) on a rectification track
        # whose result deadline passed without a result in time.
        "unrectified_overdue": and_(
            HANDLED, Case.category.in_([c.value for c in RECTIFY_CATEGORIES]), Case.result_due.is_not(None),
            or_(and_(Case.result_at.is_(None), result_missed(now)), Case.result_at > Case.result_due)),
        # The 100% rule: every real-name 差评 answered or closed gets a return visit.
        "unvisited_real_name": RN_UNVISITED,
        "upheld_appeal": Case.appeal_status == "upheld",
    }


UNIT_COLUMNS = {Dim.HALL: Case.hall_id, Dim.WINDOW: Case.window_id, Dim.STAFF: Case.staff_id}


async def deduction_cases(session: AsyncSession, filters: Filters, unit: Dim, names: Names,
                          now: datetime) -> dict[Any, dict[str, list[str]]]:
    """Case codes of each deduction, per unit id (a point's cases under its town)."""
    result: dict[Any, dict[str, list[str]]] = {}
    where = case_filters(filters, names)
    for kind, predicate in deduction_predicates(now).items():
        rows = (await session.execute(select(UNIT_COLUMNS[unit], Case.code).where(*where, predicate)
                                      .order_by(Case.code))).all()
        for unit_id, code in rows:
            key = names.town_of(unit_id) if unit is Dim.HALL else unit_id
            result.setdefault(key, {}).setdefault(kind, []).append(code)
    return result


# ----- 参评率 per unit ----------------------------------------------------------------------------------

async def participation(session: AsyncSession, filters: Filters, unit: Dim,
                        names: Names) -> dict[Any, tuple[int, int]]:
    """(evaluated, finished) 办件 per unit id; staff are matched by 工号 within the 办件's hall."""
    from gateway.core.db.models_matters import Matter

    start, end = filters.period.bounds()
    evaluated = func.sum(case((and_(Matter.evaluated_case_id.is_not(None), Matter.unrated_at.is_(None)), 1),
                              else_=0))
    column = {Dim.HALL: Matter.hall_id, Dim.WINDOW: Matter.window_id, Dim.STAFF: Matter.staff_no}[unit]
    query = (select(Matter.hall_id, column, func.count(), evaluated)
             .where(Matter.finished_at >= start, Matter.finished_at < end).group_by(Matter.hall_id, column))
    if filters.halls is not None:
        query = query.where(Matter.hall_id.in_(names.hall_ids(filters.halls) or [-1]))
    staff_ids = {(hall_id, number): sid for sid, (number, _, hall_id) in names.staff.items()}
    result: dict[Any, tuple[int, int]] = {}
    for hall_id, value, finished, rated in (await session.execute(query)).all():
        if unit is Dim.HALL:
            key = names.town_of(hall_id)
        elif unit is Dim.STAFF:
            key = staff_ids.get((hall_id, value)) or staff_ids.get((names.town_of(hall_id), value))
        else:
            key = value
        done, total = result.get(key, (0, 0))
        result[key] = (done + int(rated or 0), total + finished)
    return result


# ----- scores ------------------------------------------------------------------------------------------

@dataclass
class Part:
    """One weighted rate of a score: the rate, the points it earned and the counts behind it."""

    name: str
    weight: float
    rate: float | None
    numerator: int
    denominator: int
    points: float

    @property
    def label(self) -> str:
        return RATE_LABELS[self.name]


@dataclass
class Deduction:
    name: str
    per_case: float
    codes: list[str]

    @property
    def label(self) -> str:
        return DEDUCTION_LABELS[self.name]

    @property
    def points(self) -> float:
        return self.per_case * len(self.codes)


@dataclass
class Score:
    """The 考核 of one unit (town, window or staff member)."""

    code: str
    label: str
    parts: list[Part]
    deductions: list[Deduction]
    full_marks: float
    minimum: float
    evaluations: int = 0
    cap: float = 0.0
    rank: int = 0
    unit_id: Any = field(default=None, repr=False)

    @property
    def earned(self) -> float:
        return sum(p.points for p in self.parts)

    @property
    def deducted(self) -> float:
        """The points deducted, at most the rules' cap (when one is set)."""
        points = sum(d.points for d in self.deductions)
        return min(points, self.cap) if self.cap else points

    @property
    def total(self) -> float:
        return round(max(self.minimum, self.earned - self.deducted), 2)


RATE_COUNTERS = {"good_rate", "rectified_rate", "on_time_rate", "return_visit_rate"}


def _counts_part(name: str, counts: Counts) -> tuple[float | None, int, int]:
    rate = RATES_BY_NAME[name]
    numerator = sum(counts[n] for n in rate.numerator)
    denominator = counts.denominator(name)  # 差评整改率 without the cases 整改中, as published
    return (numerator / denominator if denominator > 0 else None), numerator, denominator


def score_of(rules: AssessmentRules, counts: Counts, participated: tuple[int, int],
             deductions: dict[str, list[str]]) -> tuple[list[Part], list[Deduction], float]:
    """The parts and deductions of one unit, and the full marks they are out of."""
    weights = rules.weights.model_dump()
    measured: dict[str, tuple[float | None, int, int]] = {n: _counts_part(n, counts) for n in RATE_COUNTERS}
    done, finished = participated
    measured["participation_rate"] = ((done / finished) if finished else None, done, finished)
    policy = rules.no_data.policy
    full = rules.full_marks
    if policy == "exclude":
        present = sum(w for n, w in weights.items() if measured[n][0] is not None)
        scale = full / present if present else 0.0
    else:
        scale = 1.0
    parts = []
    for name, weight in weights.items():
        rate, numerator, denominator = measured[name]
        points = (weight if policy == "full" else 0.0) if rate is None else weight * rate * scale
        parts.append(Part(name, weight, rate, numerator, denominator, round(points, 2)))
    per_case = rules.deductions.model_dump()
    found = [Deduction(n, per_case[n], deductions.get(n, [])) for n in DEDUCTION_LABELS]
    return parts, found, full


async def assess(session: AsyncSession, filters: Filters, unit: Dim, rules: AssessmentRules, *,
                 names: Names | None = None, now: datetime | None = None) -> list[Score]:
    """Scores of every town (window, staff member) with cases or deductions in ``filters``, ranked."""
    if unit not in UNITS:
        raise ValueError(f"考核 is per town, window or staff member, not {unit}")
    names = names or await Names.load(session)
    now = now or datetime.now(UTC)
    rows = await compute(session, filters, [unit], names=names)
    counts_by_unit: dict[Any, Counts] = {}
    key_by_unit: dict[Any, tuple[str, str]] = {}
    for row in rows:
        unit_id = _unit_id(row.key[unit], unit, names)
        counts_by_unit[unit_id] = row.counts
        key_by_unit[unit_id] = row.key[unit]
    for unit_id, pending in (await in_progress_by(session, filters, names, now, UNIT_COLUMNS[unit],
                                                  towns=unit is Dim.HALL)).items():
        counts_by_unit.setdefault(unit_id, Counts()).pending = pending
    deductions = await deduction_cases(session, filters, unit, names, now)
    participated = await participation(session, filters, unit, names)
    units = set(counts_by_unit) | set(deductions) | {u for u in participated if u is not None}
    scores = []
    for unit_id in units:
        key = key_by_unit.get(unit_id) or names.key_of(unit, unit_id)
        counts = counts_by_unit.get(unit_id, Counts())
        parts, found, full = score_of(rules, counts, participated.get(unit_id, (0, 0)), deductions.get(unit_id, {}))
        scores.append(Score(key[0], key[1], parts, found, full, rules.score.minimum, counts["evaluations"],
                            rules.deductions.cap, unit_id=unit_id))
    scores.sort(key=lambda s: (-s.total, s.code or "~"))
    for rank, score in enumerate(scores, start=1):
        score.rank = rank
    return scores


def _unit_id(key: tuple[str, str], unit: Dim, names: Names) -> Any:
    """The id behind a figures row's (code, label) key (``None`` for 未指明 / 未归属)."""
    code = key[0]
    if not code:
        return None
    if unit is Dim.HALL:
        return next((i for i, (c, _) in names.halls.items() if c == code), None)
    if unit is Dim.WINDOW:
        return next((i for i in names.window_ids([code])), None)
    return next((i for i in names.staff if names.key_of(Dim.STAFF, i)[0] == code), None)


def parts_header(rules: AssessmentRules) -> Sequence[tuple[str, str, float]]:
    """(name, label, weight) of each part, in the rules' order."""
    return [(n, RATE_LABELS[n], w) for n, w in rules.weights.model_dump().items()]
