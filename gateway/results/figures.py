"""Every figure of the 好差评 results, defined once.

The county reports (通报) the 好评率 and how 差评 were handled; the public page, the hall screen, the
supervisors' Excel report, the CSV export and the benchmarks all take their numbers from here.  A
figure is either a **counter** (how many cases meet a condition, one SQL expression over ``cases``)
or a **rate** (one counter over another, computed in Python from summed counters, so a rate of a
month is never an average of daily rates).

Vocabulary (each a predicate below, used by every counter that needs it):

* **evaluation** — every case received in the period, whatever its channel or rating.
* **adopted** (采纳) — a case whose verification did not reject it: ``verdict`` is ``valid`` or not
  yet given.  ``not_valid`` (核实不属实) and ``malicious`` (恶意评价) are *not adopted* and are left out
  of every figure except the three verdict counters that report them.
* **rated** — an adopted case with a rating level (非常满意 … 非常不满意).
* **good** — rated 非常满意, 满意 or 基本满意.  **好评率 = good / rated.**
* **差评** — rated 不满意 or 非常不满意: the rules' two lowest levels, nothing else.
  ``bad_received`` counts every 差评; ``bad`` only the adopted ones.
* **unrated complaints** (未评级投诉, ``complaints``) — adopted, unrated items that triage put on a
  rectification track (立整立改 / 限时整改 / 协调整改): a complaint by e-mail or phone without a rating
  level.  They are counted beside the 差评 under their own name (never in 差评, 好评率, 答复率 or
  the reasons), but they are *handled* like 差评 (verified, rectified on their track, answered,
  visited), so every handling figure counts them: ``HANDLED`` (差评 as handled) is adopted 差评 and
  unrated complaints, and the tracks' 差评 / 已整改 / 整改中 / 整改率 / 按时整改率, the 扣分 for
  overdue rectification and the real-name return visits are over ``HANDLED`` — an overdue
  unrectified complaint is never beside a 100% 整改率 or 扣分 0.
* **verdicts of 差评** — ``bad_valid`` (核实属实), ``bad_not_valid``, ``bad_malicious`` (the last two not
  adopted); a 差评 not yet verified is adopted until a verdict says otherwise.
* **rectified** (已整改), per category — a ``HANDLED`` case of that category with a result
  (``result_at``, set when the citizen is answered after rectification).  **差评整改率 = rectified /
  (差评 of the tracks − 整改中)**, where 整改中 (``in_progress``) are the unrectified ones whose deadline
  is still ahead — computed live, by the hour, wherever the rate is shown.  The per-category
  整改率 follow the same rule within their track: rectified / (差评 of the track − its 整改中).  The rule
  is written once: a ``Rate``'s ``pending`` names the tracks whose 整改中 leave its denominator, and
  ``attach_in_progress`` gives every row of any grouping its own 整改中.
* **on time** (按时整改) — rectified, and every deadline the case had was met: the first response
  (``first_responded_at``, or the result if no separate first response was recorded) by
  ``first_response_due``, and the result by ``result_due``.  A deadline the case never had (a
  协调整改 case whose handler set no date) cannot be missed.  **按时整改率 = on time / rectified.**
* **replied** (已答复) — an adopted 差评 whose answer reached the citizen (``reply_delivered_at``,
  ``gateway/core/answered.py``): an SMS its provider reported delivered, an e-mail the receiving
  server accepted, a call logged as made (a 电话 reply, a reached 回访 or call back).  Pressing
  答复 is not enough: an SMS still waiting for its report, or failed, does not count.
  **答复率 = replied / 差评.**
* **return visit** (回访) — a ``return_visit`` event on the case's timeline (the workflow's
  记录回访 step).  The rule is that *every* real-name 差评 is visited (实名差评回访率 100%).  A
  real-name 差评 (``HANDLED``: an unrated complaint too, as the workflow's
  ``CaseFacts.needs_return_visit`` asks) is **due** for its visit once it is answered (``result_at``,
  or a reply that moved it to 已答复 / 已回访) or closed (closed
  without an answer — e.g. triaged as 无需整改 although rated 差评 — is an exception too).
  **实名差评回访率 = real-name 差评 visited / real-name 差评 due**; every due one without a visit is
  listed by case code (``gateway.results.lists.return_visit_exceptions``).  Cases still being
  handled are not yet due; when late they appear in the overdue list instead.
* **satisfaction after rectification** (整改后满意率) — of the adopted 差评 with a return visit whose
  latest ``return_visit`` event records the citizen's answer (``data.satisfied`` true or false),
  the share that answered satisfied.  **整改后满意率 = satisfied / visits with an answer.**

Days are Asia/Shanghai (``settings.timezone``) calendar days of *receipt*: a case counts in the
period it was received in, and its handling figures follow it there, so a month's report changes
as that month's cases are handled — which is what a 通报 of "how were this month's 差评 handled"
needs.

Dimensions (``Dim``): hall (镇/街道 — each town has one hall, so town and hall are one dimension),
window, staff member, service item, channel, and day / week (ISO, Monday first) / month or the
whole period.  **Staff member** is ``cases.staff_id``, the person on duty at the window when the
evaluation came, attributed at ingest from the window rosters (``gateway/core/rosters.py``); cases
without attribution group as 未归属.  A dimension is one entry in ``CASE_COLUMNS`` (its column on
``cases``), one in ``CUBES`` (its roll-up cube) and one name lookup in ``Names`` — that is how
staff was added, and how any further one would be.

Where the numbers come from: ``results_daily`` (the roll-up, see ``gateway.results.rollup``) when
one of its cubes keeps every dimension and filter asked for — hall and time always, plus at most
one of channel, window or service item — otherwise the ``cases`` table directly with the same
counter expressions (e.g. by window *and* channel).  Both paths sum the same ``COUNTERS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from channels.ratings import Rating
from gateway.core.db.models import Case, CaseEvent, Hall, ServiceItem, Window
from gateway.core.db.models_results import COUNTER_COLUMNS, ResultsDaily
from gateway.core.db.models_rosters import StaffMember
from gateway.core.domain import CaseStatus, Category
from gateway.core.labels import CHANNEL_LABELS, SOURCE_LABELS
from gateway.core.months import first_of_month, last_of_month
from gateway.core.overdue import result_missed

RECTIFY_CATEGORIES: tuple[Category, ...] = (Category.IMMEDIATE, Category.TIME_LIMITED, Category.COORDINATED)
GOOD_RATINGS = tuple(r.value for r in Rating if r.is_good)
BAD_RATINGS = tuple(r.value for r in Rating if r.is_bad)
NOT_ADOPTED = ("not_valid", "malicious")
RETURN_VISIT_EVENT = "return_visit"

# ----- predicates: the vocabulary of the module docstring, each written once --------------------

ADOPTED: ColumnElement[bool] = or_(Case.verdict.is_(None), Case.verdict.not_in(NOT_ADOPTED))
RATED: ColumnElement[bool] = and_(Case.rating.is_not(None), ADOPTED)
GOOD: ColumnElement[bool] = and_(Case.rating.in_(GOOD_RATINGS), ADOPTED)
BAD_RECEIVED: ColumnElement[bool] = Case.rating.in_(BAD_RATINGS)
COMPLAINT: ColumnElement[bool] = and_(
    Case.rating.is_(None), Case.category.in_([c.value for c in RECTIFY_CATEGORIES]), ADOPTED)
BAD: ColumnElement[bool] = and_(BAD_RECEIVED, ADOPTED)
# 差评 as handled (按差评办理): adopted 差评 and unrated complaints, the cases the workflow handles
# alike (verified, rectified on their track, answered, visited — ``CaseFacts.needs_return_visit``).
# Every handling figure — the tracks' 差评, 已整改, 整改中, 整改率, 扣分, the real-name return visits
# — counts these, so an overdue unrated complaint can never sit beside a 100% 整改率.
HANDLED: ColumnElement[bool] = or_(BAD, COMPLAINT)
FIRST_RESPONSE = func.coalesce(Case.first_responded_at, Case.result_at)
DEADLINES_MET: ColumnElement[bool] = and_(
    or_(Case.first_response_due.is_(None), Case.first_response_due >= FIRST_RESPONSE),
    or_(Case.result_due.is_(None), Case.result_at <= Case.result_due),
)
RECTIFIED: ColumnElement[bool] = and_(HANDLED, Case.result_at.is_not(None))
REPLIED: ColumnElement[bool] = and_(BAD, Case.reply_delivered_at.is_not(None))
VISITED_EVENT = exists().where(CaseEvent.case_id == Case.id, CaseEvent.kind == RETURN_VISIT_EVENT)
RN_BAD: ColumnElement[bool] = and_(HANDLED, Case.real_name.is_(True))
# Due for its return visit: answered (a result, or a reply that moved it to 已答复 / 已回访) or closed.
ANSWERED_STATUSES = (CaseStatus.REPLIED.value, CaseStatus.RETURN_VISITED.value, CaseStatus.CLOSED.value)
RN_VISIT_DUE: ColumnElement[bool] = and_(
    RN_BAD, or_(Case.result_at.is_not(None), Case.status.in_(ANSWERED_STATUSES)))
# The one definition of "real-name 差评 still needing its return visit" (实名差评待回访 on /supervise,
# the hotline's 实名差评回访 list, /reports' 未回访实名差评 and the 考核 deduction): due, no visit recorded.
RN_UNVISITED: ColumnElement[bool] = and_(RN_VISIT_DUE, ~VISITED_EVENT)
VISITED: ColumnElement[bool] = and_(BAD, VISITED_EVENT)
LATEST_VISIT_SATISFIED = (
    select(CaseEvent.data["satisfied"].as_boolean())
    .where(CaseEvent.case_id == Case.id, CaseEvent.kind == RETURN_VISIT_EVENT)
    .order_by(CaseEvent.id.desc()).limit(1).correlate(Case).scalar_subquery()
)
# The latest visit's answer exists only if a visit does, so these need no separate EXISTS probe.
VISIT_ANSWERED: ColumnElement[bool] = and_(BAD, LATEST_VISIT_SATISFIED.is_not(None))
SATISFIED: ColumnElement[bool] = and_(BAD, LATEST_VISIT_SATISFIED.is_(True))


def _of_category(category: Category, predicate: ColumnElement[bool]) -> ColumnElement[bool]:
    return and_(predicate, Case.category == category.value)


@dataclass(frozen=True)
class Counter:
    """A count of cases meeting ``predicate``; ``None`` means every case (``COUNT(*)``)."""

    name: str
    label: str
    predicate: ColumnElement[bool] | None

    def sql(self) -> Any:
        if self.predicate is None:
            return func.count()
        return func.coalesce(func.sum(case((self.predicate, 1), else_=0)), 0)


def _category_counters() -> list[Counter]:
    counters = []
    for c in RECTIFY_CATEGORIES:
        counters += [
            Counter(f"bad_{c.value}", f"{c.label}差评", _of_category(c, HANDLED)),
            Counter(f"rectified_{c.value}", f"{c.label}已整改", _of_category(c, RECTIFIED)),
            Counter(f"on_time_{c.value}", f"{c.label}按时整改", _of_category(c, and_(RECTIFIED, DEADLINES_MET))),
        ]
    return counters


COUNTERS: tuple[Counter, ...] = (
    Counter("evaluations", "评价总数", None),
    Counter("rated", "有效评价（有评价等级）", RATED),
    Counter("good", "好评数", GOOD),
    Counter("bad_received", "收到差评", BAD_RECEIVED),
    Counter("bad_valid", "差评核实属实", and_(BAD_RECEIVED, Case.verdict == "valid")),
    Counter("bad_not_valid", "差评核实不属实（不采纳）", and_(BAD_RECEIVED, Case.verdict == "not_valid")),
    Counter("bad_malicious", "恶意差评（不采纳）", and_(BAD_RECEIVED, Case.verdict == "malicious")),
    Counter("bad", "采纳差评", BAD),
    *_category_counters(),
    Counter("replied", "已答复差评", REPLIED),
    Counter("rn_bad", "实名差评", RN_BAD),
    Counter("rn_visit_due", "应回访实名差评", RN_VISIT_DUE),
    Counter("rn_visited", "已回访实名差评", and_(RN_VISIT_DUE, VISITED_EVENT)),
    Counter("visited", "已回访差评", VISITED),
    Counter("visit_answered", "回访有满意度答复", VISIT_ANSWERED),
    Counter("satisfied", "回访满意", SATISFIED),
    Counter("complaints", "未评级投诉（不计入差评）", COMPLAINT),
)
assert tuple(c.name for c in COUNTERS) == COUNTER_COLUMNS, "results_daily columns must follow COUNTERS"
COUNTER_LABELS: dict[str, str] = {c.name: c.label for c in COUNTERS}


@dataclass(frozen=True)
class Rate:
    """``numerator / denominator`` of summed counters; ``None`` when nothing is in the denominator."""

    name: str
    label: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    # Tracks (``Category`` values) whose 整改中 cases leave the denominator: neither rectified nor
    # a failure yet.  Only the 整改率 have any.
    pending: tuple[str, ...] = ()


def _sum(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(names)


RATES: tuple[Rate, ...] = (
    Rate("good_rate", "好评率", ("good",), ("rated",)),
    Rate("reply_rate", "差评答复率", ("replied",), ("bad",)),
    Rate("rectified_rate", "差评整改率", _sum(f"rectified_{c.value}" for c in RECTIFY_CATEGORIES),
         _sum(f"bad_{c.value}" for c in RECTIFY_CATEGORIES), _sum(c.value for c in RECTIFY_CATEGORIES)),
    Rate("on_time_rate", "按时整改率", _sum(f"on_time_{c.value}" for c in RECTIFY_CATEGORIES),
         _sum(f"rectified_{c.value}" for c in RECTIFY_CATEGORIES)),
    *[r for c in RECTIFY_CATEGORIES for r in (
        Rate(f"rectified_rate_{c.value}", f"{c.label}整改率", (f"rectified_{c.value}",), (f"bad_{c.value}",),
             (c.value,)),
        Rate(f"on_time_rate_{c.value}", f"{c.label}按时整改率", (f"on_time_{c.value}",), (f"rectified_{c.value}",)),
    )],
    Rate("return_visit_rate", "实名差评回访率", ("rn_visited",), ("rn_visit_due",)),
    Rate("satisfaction_rate", "整改后满意率", ("satisfied",), ("visit_answered",)),
)
RATES_BY_NAME: dict[str, Rate] = {r.name: r for r in RATES}


class Counts(Mapping[str, int]):
    """Summed counters of one group, with the rates computed from them."""

    def __init__(self, values: Mapping[str, int] | None = None) -> None:
        self._values = {name: int((values or {}).get(name) or 0) for name in COUNTER_COLUMNS}
        # 整改中 per track: adopted 差评 whose rectification deadline is still ahead (``in_progress``).
        # Not a stored counter — it changes by the hour — so whoever shows a 整改率 sets it
        # (``attach_in_progress``); each 整改率 then leaves its tracks' 整改中 out of its denominator.
        self.pending: dict[str, int] = {}

    @property
    def in_progress(self) -> int:
        """整改中 of every track."""
        return sum(self.pending.values())

    def __getitem__(self, name: str) -> int:
        return self._values[name]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def add(self, other: Mapping[str, int]) -> None:
        for name in COUNTER_COLUMNS:
            self._values[name] += int(other.get(name) or 0)
        for category, count in getattr(other, "pending", {}).items():
            self.pending[category] = self.pending.get(category, 0) + count

    def denominator(self, name: str) -> int:
        """The rate's denominator; a 整改率 leaves out its tracks' cases 整改中 (see ``in_progress``)."""
        rate = RATES_BY_NAME[name]
        if not rate.pending:
            return sum(self._values[n] for n in rate.denominator)
        # Track by track, never below 0: the 整改中 (counted live) can outnumber a track's 差评 (counted
        # in the roll-up) for a moment, and one track's surplus must not cancel another track's cases
        # — the headline's denominator is then exactly the sum of the per-track ones, so a track
        # shows "—" exactly when its own denominator is empty and the headline only when all are.
        return sum(max(0, self._values[n] - self.pending.get(category, 0))
                   for n, category in zip(rate.denominator, rate.pending, strict=True))

    def rate(self, name: str) -> float | None:
        rate = RATES_BY_NAME[name]
        denominator = self.denominator(name)
        if denominator <= 0:
            return None
        return sum(self._values[n] for n in rate.numerator) / denominator

    def rates(self) -> dict[str, float | None]:
        return {r.name: self.rate(r.name) for r in RATES}

    def to_dict(self) -> dict[str, Any]:
        return {**self._values, **self.rates()}


def percent(value: float | None, digits: int = 1) -> str:
    """``0.9234`` → ``"92.3%"``; no denominator → ``"—"`` (never a misleading 0% or 100%)."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


# ----- periods and filters ------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    """Local calendar days ``start`` … ``end`` (both included) in ``tz``."""

    start: date
    end: date
    tz: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def bounds(self) -> tuple[datetime, datetime]:
        """UTC instants [from, to) covering the local days."""
        start = datetime.combine(self.start, time(0), self.zone).astimezone(UTC)
        end = datetime.combine(self.end + timedelta(days=1), time(0), self.zone).astimezone(UTC)
        return start, end

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @classmethod
    def month_of(cls, day: date, tz: str = "Asia/Shanghai") -> Period:
        return cls(first_of_month(day), last_of_month(day), tz)

    @classmethod
    def week_of(cls, day: date, tz: str = "Asia/Shanghai") -> Period:
        monday = day - timedelta(days=day.weekday())
        return cls(monday, monday + timedelta(days=6), tz)

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m-%d} 至 {self.end:%Y-%m-%d}"


@dataclass(frozen=True)
class Filters:
    """Which cases count: the period plus optional hall / window / service item / channel codes.

    ``halls`` is also how a town-scoped member of staff is limited (``Principal.town_filter()``);
    ``windows`` are ``"hall:window"`` codes.
    """

    period: Period
    halls: tuple[str, ...] | None = None
    windows: tuple[str, ...] | None = None
    service_items: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None

    def split_dims(self) -> set[Dim]:
        """The dimensions besides hall and time that the filters restrict."""
        used = set()
        if self.windows is not None:
            used.add(Dim.WINDOW)
        if self.service_items is not None:
            used.add(Dim.SERVICE_ITEM)
        if self.channels is not None:
            used.add(Dim.CHANNEL)
        if self.sources is not None:
            used.add(Dim.SOURCE)
        return used


class Dim(StrEnum):
    """A grouping of the figures."""

    HALL = "hall"
    WINDOW = "window"
    STAFF = "staff"
    SERVICE_ITEM = "service_item"
    CHANNEL = "channel"
    SOURCE = "source"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def label(self) -> str:
        return DIM_LABELS[self]

    @property
    def is_time(self) -> bool:
        return self in (Dim.DAY, Dim.WEEK, Dim.MONTH)


DIM_LABELS = {Dim.HALL: "镇（街道）", Dim.WINDOW: "窗口", Dim.STAFF: "工作人员", Dim.SERVICE_ITEM: "服务事项",
              Dim.CHANNEL: "评价渠道", Dim.SOURCE: "评价来源",
              Dim.DAY: "日", Dim.WEEK: "周", Dim.MONTH: "月"}


def time_bucket(day: date, dim: Dim) -> str:
    if dim is Dim.DAY:
        return day.isoformat()
    if dim is Dim.WEEK:
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day:%Y-%m}"


def bucket_label(key: str, dim: Dim) -> str:
    if dim is Dim.WEEK:
        year, week = key.split("-W")
        return f"{year}年第{int(week)}周"
    if dim is Dim.MONTH:
        year, month = key.split("-")
        return f"{year}年{int(month)}月"
    return key


# ----- registry names -------------------------------------------------------------------------------

@dataclass
class Names:
    """Codes and Chinese names of halls, windows and service items, by id (small tables, read once)."""

    halls: dict[int, tuple[str, str]] = field(default_factory=dict)
    windows: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    items: dict[int, tuple[str, str, str | None]] = field(default_factory=dict)
    staff: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    # Village / community point id → its town's hall id: a point's figures are its town's.
    towns: dict[int, int] = field(default_factory=dict)

    @classmethod
    async def load(cls, session: AsyncSession) -> Names:
        names = cls()
        for h in (await session.execute(select(Hall.id, Hall.code, Hall.name, Hall.town_id))).all():
            names.halls[h.id] = (h.code, h.name)
            if h.town_id:
                names.towns[h.id] = h.town_id
        for w in (await session.execute(select(Window.id, Window.code, Window.name, Window.hall_id))).all():
            names.windows[w.id] = (w.code, w.name, w.hall_id)
        for i in (await session.execute(select(ServiceItem.id, ServiceItem.code, ServiceItem.name,
                                               ServiceItem.department))).all():
            names.items[i.id] = (i.code, i.name, i.department)
        for m in (await session.execute(select(StaffMember.id, StaffMember.employee_no, StaffMember.name,
                                               StaffMember.hall_id))).all():
            names.staff[m.id] = (m.employee_no, m.name, m.hall_id)
        return names

    def hall_ids(self, codes: Iterable[str]) -> list[int]:
        """The halls of ``codes`` and the village / community points under them."""
        wanted = set(codes)
        ids = {i for i, (code, _) in self.halls.items() if code in wanted}
        return sorted(ids | {point for point, town in self.towns.items() if town in ids})

    def town_of(self, hall_id: int | None) -> int | None:
        """The hall a figure counts in: a point's town, else the hall itself."""
        return self.towns.get(hall_id, hall_id) if hall_id else hall_id

    def town_halls(self) -> list[tuple[str, str]]:
        """(code, name) of the towns and streets (and county halls), points left out, by code."""
        return sorted(v for i, v in self.halls.items() if i not in self.towns)

    def window_ids(self, codes: Iterable[str]) -> list[int]:
        wanted = set(codes)
        return [i for i, (code, _, hall_id) in self.windows.items()
                if f"{self.halls.get(hall_id, ('?', ''))[0]}:{code}" in wanted]

    def item_ids(self, codes: Iterable[str]) -> list[int]:
        wanted = set(codes)
        return [i for i, (code, _, _) in self.items.items() if code in wanted]

    def key_of_hall(self, hall_id: int | None) -> tuple[str, str]:
        return self.key_of(Dim.HALL, hall_id)

    def key_of_window(self, window_id: int | None) -> tuple[str, str]:
        return self.key_of(Dim.WINDOW, window_id)

    def window_name(self, window_id: int | None) -> str:
        """The window's own name, for a row that names its hall beside it (the ranking label
        ``key_of_window`` carries the hall too: 金屯镇·综合受理窗口)."""
        return self.windows[window_id][1] if window_id in self.windows else ""

    def key_of(self, dim: Dim, value: Any) -> tuple[str, str]:
        """(code, label) of a group value."""
        if dim is Dim.HALL:
            return self.halls.get(value, ("", "未指明大厅")) if value else ("", "未指明大厅")
        if dim is Dim.WINDOW:
            if not value or value not in self.windows:
                return ("", "未指明窗口")
            code, name, hall_id = self.windows[value]
            hall_code, hall_name = self.halls.get(hall_id, ("", ""))
            return (f"{hall_code}:{code}", f"{hall_name}·{name}")
        if dim is Dim.STAFF:
            if not value or value not in self.staff:
                return ("", "未归属")
            number, name, hall_id = self.staff[value]
            return (f"{self.halls.get(hall_id, ('', ''))[0]}:{number}", f"{name}（{number}）")
        if dim is Dim.SERVICE_ITEM:
            if not value or value not in self.items:
                return ("", "未指明事项")
            code, name, _ = self.items[value]
            return (code, name)
        if dim is Dim.CHANNEL:
            return (value, CHANNEL_LABELS.get(value, value))
        if dim is Dim.SOURCE:
            return (value or "", SOURCE_LABELS.get(value, value) if value else "未知来源")
        return (value, bucket_label(value, dim))


# ----- computing ----------------------------------------------------------------------------------

@dataclass
class FigureRow:
    """One group: its key per dimension as (code, label), and its counts."""

    key: dict[Dim, tuple[str, str]]
    counts: Counts

    def label(self, dim: Dim) -> str:
        return self.key[dim][1]

    def code(self, dim: Dim) -> str:
        return self.key[dim][0]


CUBES: dict[Dim, str] = {Dim.CHANNEL: "channel", Dim.WINDOW: "window", Dim.SERVICE_ITEM: "item", Dim.STAFF: "staff",
                         Dim.SOURCE: "source"}
# The source of a case; a case stored before sources were recorded counts under its channel code.
SOURCE_SQL = func.coalesce(Case.source, Case.channel)


def cube_for(filters: Filters, by: Sequence[Dim]) -> str | None:
    """The roll-up cube that can answer ``filters`` grouped ``by``, or ``None`` (use ``cases``)."""
    needed = filters.split_dims() | {d for d in by if d in CUBES}
    if len(needed) > 1:
        return None
    return CUBES[needed.pop()] if needed else CUBES[Dim.CHANNEL]


def local_day_sql(dialect: str, tz: str) -> Any:
    """The local calendar day of ``received_at`` in SQL (raw path only).

    PostgreSQL converts with the zone database; SQLite has no zones, so the zone's current UTC
    offset is applied — exact for Asia/Shanghai, which has had no daylight saving since 1991.
    """
    if dialect == "postgresql":
        return func.date(func.timezone(tz, Case.received_at))
    offset = datetime.now(ZoneInfo(tz)).utcoffset() or timedelta(0)
    hours = offset.total_seconds() / 3600
    return func.date(Case.received_at, f"{hours:+g} hours")


def _case_filters(filters: Filters, names: Names) -> list[ColumnElement[bool]]:
    start, end = filters.period.bounds()
    where: list[ColumnElement[bool]] = [Case.received_at >= start, Case.received_at < end]
    if filters.halls is not None:
        where.append(Case.hall_id.in_(names.hall_ids(filters.halls)))
    if filters.windows is not None:
        where.append(Case.window_id.in_(names.window_ids(filters.windows)))
    if filters.service_items is not None:
        where.append(Case.service_item_id.in_(names.item_ids(filters.service_items)))
    if filters.channels is not None:
        where.append(Case.channel.in_(filters.channels))
    if filters.sources is not None:
        where.append(SOURCE_SQL.in_(filters.sources))
    return where


case_filters = _case_filters  # the WHERE of ``filters`` on ``cases``, for modules that list cases


def counter_columns() -> list[Any]:
    return [c.sql().label(c.name) for c in COUNTERS]


async def compute(session: AsyncSession, filters: Filters, by: Sequence[Dim] = (),
                  *, names: Names | None = None) -> list[FigureRow]:
    """The figures of ``filters`` grouped by ``by`` (at most one time dimension), ordered by key."""
    if sum(1 for d in by if d.is_time) > 1:
        raise ValueError("group by at most one of day, week and month")
    names = names or await Names.load(session)
    time_dim = next((d for d in by if d.is_time), None)
    plain = [d for d in by if not d.is_time]
    cube = cube_for(filters, by)
    if cube is not None:
        raw_rows = await _from_rollup(session, cube, filters, plain, time_dim, names)
    else:
        raw_rows = await _from_cases(session, filters, plain, time_dim is not None, names)
    grouped: dict[tuple[Any, ...], Counts] = {}
    hall_positions = [i for i, d in enumerate(plain) if d is Dim.HALL]
    for values, counts in raw_rows:
        key_values = list(values)
        for i in hall_positions:  # a village or community point counts in its town
            key_values[i] = names.town_of(key_values[i])
        if time_dim is not None:
            day = key_values.pop()
            if isinstance(day, str) and len(day) == 7:  # already a month ("2026-11"), grouped in SQL
                key_values.append(day)
            else:
                day = day if isinstance(day, date) else date.fromisoformat(str(day))
                key_values.append(time_bucket(day, time_dim))
        grouped.setdefault(tuple(key_values), Counts()).add(counts)
    dims = [*plain, *([time_dim] if time_dim else [])]
    rows = [FigureRow({d: names.key_of(d, v) for d, v in zip(dims, key, strict=True)}, counts)
            for key, counts in grouped.items()]
    rows.sort(key=lambda r: tuple(r.key[d][0] or "~" for d in by))
    return rows


# PostgreSQL's JIT compiles this many CASE expressions and sub-plans for about a second (measured:
# 1.1 s of a 1.2 s query over a month of a million cases) to save milliseconds; off for the
# counter queries, for the current transaction only.
NO_JIT = text("SET LOCAL jit = off")
CASE_COLUMNS = {Dim.HALL: Case.hall_id, Dim.WINDOW: Case.window_id, Dim.SERVICE_ITEM: Case.service_item_id,
                Dim.CHANNEL: Case.channel, Dim.STAFF: Case.staff_id, Dim.SOURCE: SOURCE_SQL}


def _members(filters: Filters, cube: str, names: Names) -> list[str] | None:
    if cube == "channel" and filters.channels is not None:
        return list(filters.channels)
    if cube == "source" and filters.sources is not None:
        return list(filters.sources)
    if cube == "window" and filters.windows is not None:
        return [str(i) for i in names.window_ids(filters.windows)]
    if cube == "item" and filters.service_items is not None:
        return [str(i) for i in names.item_ids(filters.service_items)]
    return None


def _member_value(dim: Dim, member: str) -> Any:
    return member if dim in (Dim.CHANNEL, Dim.SOURCE) else (int(member) or None)


def _rollup_month(dialect: str) -> Any:
    """``YYYY-MM`` of a roll-up day in SQL, so that a year by month sums to 12 rows per group."""
    if dialect == "postgresql":
        return func.to_char(ResultsDaily.day, "YYYY-MM")
    return func.substr(ResultsDaily.day, 1, 7)  # SQLite keeps dates as ISO text


async def _from_rollup(session: AsyncSession, cube: str, filters: Filters, plain: list[Dim], time_dim: Dim | None,
                       names: Names) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    columns: list[Any] = [ResultsDaily.hall_id if d is Dim.HALL else ResultsDaily.member for d in plain]
    if time_dim is Dim.MONTH:
        columns.append(_rollup_month(session.get_bind().dialect.name).label("month"))
    elif time_dim is not None:
        columns.append(ResultsDaily.day)
    sums = [func.coalesce(func.sum(getattr(ResultsDaily, n)), 0).label(n) for n in COUNTER_COLUMNS]
    where: list[ColumnElement[bool]] = [ResultsDaily.cube == cube, ResultsDaily.day >= filters.period.start,
                                        ResultsDaily.day <= filters.period.end]
    if filters.halls is not None:
        where.append(ResultsDaily.hall_id.in_(names.hall_ids(filters.halls) or [-1]))
    members = _members(filters, cube, names)
    if members is not None:
        where.append(ResultsDaily.member.in_(members or ["-"]))
    query = select(*columns, *sums).where(*where)
    if columns:
        query = query.group_by(*columns)
    result = []
    for row in (await session.execute(query)).all():
        mapping = row._mapping
        if not mapping["evaluations"]:
            continue
        values = list(row[: len(columns)])
        for i, dim in enumerate(plain):
            if dim is not Dim.HALL:
                values[i] = _member_value(dim, values[i])
            elif values[i] == 0:
                values[i] = None
        result.append((tuple(values), {n: mapping[n] for n in COUNTER_COLUMNS}))
    return result


async def _from_cases(session: AsyncSession, filters: Filters, plain: list[Dim], by_day: bool,
                      names: Names) -> list[tuple[tuple[Any, ...], dict[str, int]]]:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(NO_JIT)
    columns: list[Any] = [CASE_COLUMNS[d] for d in plain]
    if by_day:
        columns.append(local_day_sql(dialect, filters.period.tz).label("day"))
    query = select(*columns, *counter_columns()).where(*_case_filters(filters, names))
    if columns:
        query = query.group_by(*columns)
    rows = (await session.execute(query)).all()
    result = []
    for row in rows:
        mapping = row._mapping
        if not mapping["evaluations"]:
            continue
        result.append((tuple(row[: len(columns)]), {n: mapping[n] for n in COUNTER_COLUMNS}))
    return result


def _in_progress(now: datetime) -> ColumnElement[bool]:
    return and_(HANDLED, Case.category.in_([c.value for c in RECTIFY_CATEGORIES]), Case.result_at.is_(None),
                Case.closed_at.is_(None), ~result_missed(now))


async def in_progress_by(session: AsyncSession, filters: Filters, names: Names, now: datetime, column: Any, *,
                         towns: bool = False) -> dict[Any, dict[str, int]]:
    """The 整改中 count per track (see ``in_progress``) per value of ``column`` (a unit id; a point's
    cases under its town when ``towns``), for the 考核 of each unit (``Counts.pending``)."""
    rows = (await session.execute(select(column, Case.category, func.count()).where(
        *_case_filters(filters, names), _in_progress(now)).group_by(column, Case.category))).all()
    result: dict[Any, dict[str, int]] = {}
    for value, category, count in rows:
        pending = result.setdefault(names.town_of(value) if towns else value, {})
        pending[category] = pending.get(category, 0) + count
    return result


@dataclass
class Pending:
    """One 整改中 case: its group code in every dimension, its local day of receipt and its track."""

    codes: dict[Dim, str]
    day: date
    category: str

    def code(self, dim: Dim) -> str:
        """The case's key in ``dim``, as ``FigureRow.code`` spells it."""
        return time_bucket(self.day, dim) if dim.is_time else self.codes[dim]


async def in_progress(session: AsyncSession, filters: Filters, names: Names, now: datetime) -> list[Pending]:
    """Every 整改中 case of ``filters`` at ``now`` (``Pending``: its groups, day and track).

    整改中: an adopted 差评 on a rectification track with no result, not closed, whose result
    deadline has not passed on its clock (``gateway.core.overdue``; no deadline yet counts as not
    passed).  Such a case is not a failure to rectify — only a missed deadline is — so 差评整改率
    counts rectified against rectified + overdue-unrectified and shows these apart.  The cases are
    few (unfinished ones only), so they are read one by one and grouped by the caller.
    """
    tz = ZoneInfo(filters.period.tz)
    rows = (await session.execute(select(
        Case.hall_id, Case.window_id, Case.staff_id, Case.service_item_id, Case.channel, SOURCE_SQL,
        Case.received_at, Case.category).where(*_case_filters(filters, names), _in_progress(now)))).all()
    result = []
    for hall_id, window_id, staff_id, item_id, channel, source, received, category in rows:
        codes = {Dim.HALL: names.key_of(Dim.HALL, names.town_of(hall_id))[0],
                 Dim.WINDOW: names.key_of(Dim.WINDOW, window_id)[0],
                 Dim.STAFF: names.key_of(Dim.STAFF, staff_id)[0],
                 Dim.SERVICE_ITEM: names.key_of(Dim.SERVICE_ITEM, item_id)[0],
                 Dim.CHANNEL: names.key_of(Dim.CHANNEL, channel)[0],
                 Dim.SOURCE: names.key_of(Dim.SOURCE, source)[0]}
        day = (received if received.tzinfo else received.replace(tzinfo=UTC)).astimezone(tz).date()
        result.append(Pending(codes, day, category))
    return result


def _pending_of(cases: Iterable[Pending]) -> dict[str, int]:
    pending: dict[str, int] = {}
    for case_ in cases:
        pending[case_.category] = pending.get(case_.category, 0) + 1
    return pending


def attach_in_progress(cases: list[Pending], period: Period, rows: list[FigureRow]) -> Counts:
    """Give each row of ``rows`` (grouped by any dimensions) the 整改中 cases of ``period`` in its
    group, and return the total of ``rows`` with the period's 整改中: every 整改率 of any page or
    sheet is then the same rule over the same cases."""
    inside = [p for p in cases if period.start <= p.day <= period.end]
    for row in rows:
        row.counts.pending = _pending_of(p for p in inside if all(p.code(d) == row.code(d) for d in row.key))
    counts = total(rows)
    counts.pending = _pending_of(inside)
    return counts


def total(rows: Iterable[FigureRow]) -> Counts:
    counts = Counts()
    for row in rows:
        counts.add(row.counts)
    return counts


async def totals(session: AsyncSession, filters: Filters, *, names: Names | None = None) -> Counts:
    """The figures of the whole filtered period in one group."""
    return total(await compute(session, filters, (), names=names))


# ----- the return-visit questionnaire and unrated matters (一次一评 / 一事一评) ------------------------
#
# These come from their own tables (``return_visits``, ``matters``), not from ``cases`` counters, so
# they are computed directly rather than from the roll-up; both tables hold at most one row per
# 差评 or per 办件, which stays small next to ``cases``.
#
# * The **questionnaire** of a case is its latest *reached* return visit that carries any answer.
#   **回访整改满意率** = visits whose satisfaction with the rectification is 非常满意, 满意 or 基本满意
#   / visits that answered that question.  **问题解决** counts yes / partly / no.  **政策知悉度,
#   办事便利度, 服务满意度** are the averages (1–5) of the answers given; an unanswered question is
#   left out of its average, never counted as 0.  Cases count in the period they were received in,
#   like every other figure, and only adopted cases count.
# * **未评率** = 办件 finished in the period that were not rated in time (``matters.unrated_at``) /
#   办件 finished in the period.  It is reported whatever the unrated policy; under the ``basic``
#   policy those 办件 also appear among the evaluations as 基本满意 (flagged), as the province rule asks.


@dataclass
class Survey:
    """Questionnaire figures of one group."""

    visits: int = 0
    rectification_answered: int = 0
    rectification_good: int = 0
    solved: dict[str, int] = field(default_factory=lambda: {"yes": 0, "partly": 0, "no": 0})
    sums: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SURVEY_SCORES, 0))
    answers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SURVEY_SCORES, 0))

    @property
    def rectification_satisfaction_rate(self) -> float | None:
        return self.rectification_good / self.rectification_answered if self.rectification_answered else None

    def average(self, score: str) -> float | None:
        return self.sums[score] / self.answers[score] if self.answers[score] else None


SURVEY_SCORES = {"policy_awareness": "政策知悉度", "convenience": "办事便利度", "service_satisfaction": "服务满意度"}
GOOD_RECTIFICATION = frozenset(GOOD_RATINGS)


async def survey_figures(session: AsyncSession, filters: Filters, *, by_month: bool = False,
                         names: Names | None = None) -> dict[tuple[str | None, str | None], Survey]:
    """Questionnaire figures keyed by ``(hall code, month or None)``; the key ``(None, None)`` is the total."""
    from gateway.core.db.models_phone import ReturnVisit

    names = names or await Names.load(session)
    latest = (select(func.max(ReturnVisit.id)).where(ReturnVisit.reached.is_(True), or_(
        ReturnVisit.problem_solved.is_not(None), ReturnVisit.rectification_satisfaction.is_not(None),
        ReturnVisit.policy_awareness.is_not(None), ReturnVisit.convenience.is_not(None),
        ReturnVisit.service_satisfaction.is_not(None))).group_by(ReturnVisit.case_id))
    rows = (await session.execute(
        select(Case.hall_id, Case.received_at, ReturnVisit.problem_solved, ReturnVisit.rectification_satisfaction,
               ReturnVisit.policy_awareness, ReturnVisit.convenience, ReturnVisit.service_satisfaction)
        .join(Case, Case.id == ReturnVisit.case_id)
        .where(ReturnVisit.id.in_(latest), ADOPTED, *_case_filters(filters, names)))).all()
    zone = filters.period.zone
    result: dict[tuple[str | None, str | None], Survey] = {}
    for hall_id, received, solved, rectification, *scores in rows:
        town = names.town_of(hall_id)
        hall = names.halls[town][0] if town in names.halls else None
        month = received.astimezone(zone).strftime("%Y-%m") if by_month else None
        for key in {(None, None), (hall, month)}:
            figures = result.setdefault(key, Survey())
            figures.visits += 1
            if solved in figures.solved:
                figures.solved[solved] += 1
            if rectification is not None:
                figures.rectification_answered += 1
                figures.rectification_good += rectification in GOOD_RECTIFICATION
            for name, value in zip(SURVEY_SCORES, scores, strict=True):
                if value is not None:
                    figures.sums[name] += value
                    figures.answers[name] += 1
    return result


@dataclass
class Unrated:
    """办件 reported through the inbound API: finished, rated by the citizen, and left unrated."""

    finished: int = 0
    unrated: int = 0
    evaluated: int = 0

    @property
    def rate(self) -> float | None:
        return self.unrated / self.finished if self.finished else None

    @property
    def participation_rate(self) -> float | None:
        """参评率 = 办件 the citizen evaluated / 办件 finished (a default 基本满意 is not an evaluation)."""
        return self.evaluated / self.finished if self.finished else None


async def unrated_figures(session: AsyncSession, filters: Filters,
                          names: Names | None = None) -> dict[str | None, Unrated]:
    """未评 and 参评 per town code (``None`` = the total, and 办件 of no hall), by the day the 办件
    was finished; a village or community point's 办件 count in its town."""
    from gateway.core.db.models_matters import Matter

    names = names or await Names.load(session)
    start, end = filters.period.bounds()
    evaluated = case((and_(Matter.evaluated_case_id.is_not(None), Matter.unrated_at.is_(None)), 1), else_=0)
    query = (select(Matter.hall_id, func.count(), func.count(Matter.unrated_at), func.sum(evaluated))
             .where(Matter.finished_at >= start, Matter.finished_at < end).group_by(Matter.hall_id))
    if filters.halls is not None:
        query = query.where(Matter.hall_id.in_(names.hall_ids(filters.halls) or [-1]))
    result: dict[str | None, Unrated] = {None: Unrated()}
    for hall_id, finished, unrated, rated in (await session.execute(query)).all():
        town = names.town_of(hall_id)
        for key in {None, names.halls[town][0] if town in names.halls else None}:
            figures = result.setdefault(key, Unrated())
            figures.finished += finished
            figures.unrated += unrated
            figures.evaluated += int(rated or 0)
    return result
