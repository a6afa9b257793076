"""Tables and indexes of the results feature (see gateway/core/db/schema.py for how feature tables are collected).

* ``results_daily`` is a roll-up of the figure counters (``gateway.results.figures.COUNTERS``) per
  Asia/Shanghai day of receipt and hall, in four *cubes*, each split by one more dimension:
  ``channel`` (member = channel code), ``window`` (member = window id), ``item`` (member = service
  item id) and ``staff`` (member = staff member id).  One wide cube (day × hall × window × item ×
  staff × channel) would hold about one row per case and save nothing; narrow ones hold ≈ 50–80
  rows per day each, so a year of a
  million cases sums ≈ 20,000 rows instead of scanning ≈ 500,000 cases.  It is derived data,
  rebuilt day by day from ``cases`` by ``gateway.results.rollup``.  Unknown hall or member is
  stored as 0 / ``"0"`` (not NULL) so that the primary key really is unique.
* The indexes on ``cases`` below serve the results queries (see ``benchmarks/reports.py``); they
  are declared here, against the core ``Case`` table, so that this feature owns them.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db.models import Base, Case

# Counter columns of results_daily, in the order of gateway.results.figures.COUNTERS (a test checks).
COUNTER_COLUMNS: tuple[str, ...] = (
    "evaluations", "rated", "good", "bad_received", "bad_valid", "bad_not_valid", "bad_malicious", "bad",
    "bad_immediate", "rectified_immediate", "on_time_immediate",
    "bad_time_limited", "rectified_time_limited", "on_time_time_limited",
    "bad_coordinated", "rectified_coordinated", "on_time_coordinated",
    "replied", "rn_bad", "rn_visit_due", "rn_visited", "visited", "visit_answered", "satisfied",
    "complaints",
)


class ResultsDaily(Base):
    """Figure counters of the cases received on one local day, per hall and one cube's member."""

    __tablename__ = "results_daily"

    cube: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hall_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member: Mapped[str] = mapped_column(String(32), primary_key=True)

    evaluations: Mapped[int] = mapped_column(Integer, default=0)
    rated: Mapped[int] = mapped_column(Integer, default=0)
    good: Mapped[int] = mapped_column(Integer, default=0)
    bad_received: Mapped[int] = mapped_column(Integer, default=0)
    bad_valid: Mapped[int] = mapped_column(Integer, default=0)
    bad_not_valid: Mapped[int] = mapped_column(Integer, default=0)
    bad_malicious: Mapped[int] = mapped_column(Integer, default=0)
    bad: Mapped[int] = mapped_column(Integer, default=0)
    bad_immediate: Mapped[int] = mapped_column(Integer, default=0)
    rectified_immediate: Mapped[int] = mapped_column(Integer, default=0)
    on_time_immediate: Mapped[int] = mapped_column(Integer, default=0)
    bad_time_limited: Mapped[int] = mapped_column(Integer, default=0)
    rectified_time_limited: Mapped[int] = mapped_column(Integer, default=0)
    on_time_time_limited: Mapped[int] = mapped_column(Integer, default=0)
    bad_coordinated: Mapped[int] = mapped_column(Integer, default=0)
    rectified_coordinated: Mapped[int] = mapped_column(Integer, default=0)
    on_time_coordinated: Mapped[int] = mapped_column(Integer, default=0)
    replied: Mapped[int] = mapped_column(Integer, default=0)
    rn_bad: Mapped[int] = mapped_column(Integer, default=0)
    rn_visit_due: Mapped[int] = mapped_column(Integer, default=0)
    rn_visited: Mapped[int] = mapped_column(Integer, default=0)
    visited: Mapped[int] = mapped_column(Integer, default=0)
    visit_answered: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)
    complaints: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


# The triage queue: status needs_review ordered by first-response deadline, then confidence.
ix_cases_triage_queue = Index("ix_cases_triage_queue", Case.status, Case.first_response_due, Case.confidence,
                              Case.id)
# Roll-up watermark: cases changed since the last roll-up.
ix_cases_updated = Index("ix_cases_updated", Case.updated_at)
# Latest rectified cases on the public page and the hall screen (county-wide and per hall).  Partial:
# a full index on result_at looks perfectly selective to SQLite's planner for "result_at IS NULL"
# (about one row per distinct value) and would be chosen for the overdue list, which it is not.
RESULT_WHERE = "result_at IS NOT NULL"
ix_cases_result = Index("ix_cases_result", Case.result_at, sqlite_where=text(RESULT_WHERE),
                        postgresql_where=text(RESULT_WHERE))
ix_cases_hall_result = Index("ix_cases_hall_result", Case.hall_id, Case.result_at, sqlite_where=text(RESULT_WHERE),
                             postgresql_where=text(RESULT_WHERE))
# The overdue list: unfinished cases by the deadline they missed.  Partial, so that the millions of
# finished cases are not in them at all.
OPEN_WHERE = "result_at IS NULL AND closed_at IS NULL"
ix_cases_open_first_due = Index("ix_cases_open_first_due", Case.first_response_due, Case.id,
                                sqlite_where=text(OPEN_WHERE), postgresql_where=text(OPEN_WHERE))
ix_cases_open_result_due = Index("ix_cases_open_result_due", Case.result_due, Case.id,
                                 sqlite_where=text(OPEN_WHERE), postgresql_where=text(OPEN_WHERE))
# Real-name cases by receipt: the return-visit exception list (实名差评回访率 100%).
ix_cases_real_name_received = Index("ix_cases_real_name_received", Case.real_name, Case.received_at)
