"""results: the daily roll-up of figure counters and the indexes the figure queries need

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = (
    "evaluations", "rated", "good", "bad_received", "bad_valid", "bad_not_valid", "bad_malicious", "bad",
    "bad_immediate", "rectified_immediate", "on_time_immediate",
    "bad_time_limited", "rectified_time_limited", "on_time_time_limited",
    "bad_coordinated", "rectified_coordinated", "on_time_coordinated",
    "replied", "rn_bad", "rn_visit_due", "rn_visited", "visited", "visit_answered", "satisfied",
)
OPEN_WHERE = "result_at IS NULL AND closed_at IS NULL"
RESULT_WHERE = "result_at IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "results_daily",
        sa.Column("cube", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hall_id", sa.Integer(), nullable=False),
        sa.Column("member", sa.String(length=32), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTERS],
        sa.PrimaryKeyConstraint("cube", "day", "hall_id", "member", name=op.f("pk_results_daily")),
    )
    op.create_index("ix_cases_triage_queue", "cases", ["status", "first_response_due", "confidence", "id"])
    op.create_index("ix_cases_updated", "cases", ["updated_at"])
    op.create_index("ix_cases_result", "cases", ["result_at"],
                    sqlite_where=sa.text(RESULT_WHERE), postgresql_where=sa.text(RESULT_WHERE))
    op.create_index("ix_cases_hall_result", "cases", ["hall_id", "result_at"],
                    sqlite_where=sa.text(RESULT_WHERE), postgresql_where=sa.text(RESULT_WHERE))
    op.create_index("ix_cases_open_first_due", "cases", ["first_response_due", "id"],
                    sqlite_where=sa.text(OPEN_WHERE), postgresql_where=sa.text(OPEN_WHERE))
    op.create_index("ix_cases_open_result_due", "cases", ["result_due", "id"],
                    sqlite_where=sa.text(OPEN_WHERE), postgresql_where=sa.text(OPEN_WHERE))
    op.create_index("ix_cases_real_name_received", "cases", ["real_name", "received_at"])


def downgrade() -> None:
    for name in ("ix_cases_real_name_received", "ix_cases_open_result_due", "ix_cases_open_first_due",
                 "ix_cases_hall_result", "ix_cases_result", "ix_cases_updated", "ix_cases_triage_queue"):
        op.drop_index(name, table_name="cases")
    op.drop_table("results_daily")
