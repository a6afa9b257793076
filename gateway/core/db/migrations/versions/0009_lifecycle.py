"""case lifecycle: provisional due dates, reopening, imported calendar years, unrated complaints

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    aware = gateway.core.db.types.AwareDateTime(timezone=True)
    # Plain ADD COLUMN (no batch): SQLite adds columns in place, so ``cases`` is never rebuilt.
    op.add_column("cases", sa.Column("due_provisional", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("cases", sa.Column("reopened_at", aware, nullable=True))
    op.add_column("cases", sa.Column("reopen_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("results_daily", sa.Column("complaints", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "calendar_schedules",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("holidays", sa.Integer(), nullable=False),
        sa.Column("workdays", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.Column("imported_at", aware, nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_schedules")),
    )
    # The roll-up must be rebuilt so that the new counter is filled for the past: drop its state.
    op.execute("DELETE FROM worker_state WHERE key = 'results:rollup'")


def downgrade() -> None:
    op.drop_table("calendar_schedules")
    with op.batch_alter_table("results_daily") as batch:
        batch.drop_column("complaints")
    with op.batch_alter_table("cases") as batch:  # run with foreign keys off (gateway/core/db/migrate.py)
        batch.drop_column("reopen_count")
        batch.drop_column("reopened_at")
        batch.drop_column("due_provisional")
