"""window staff, shifts, and the staff attribution of cases

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    aware = gateway.core.db.types.AwareDateTime(timezone=True)
    op.create_table(
        "staff_members",
        sa.Column("id", big_id, nullable=False),
        sa.Column("hall_id", big_id, nullable=False),
        sa.Column("employee_no", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("user_id", big_id, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"], name=op.f("fk_staff_members_hall_id_halls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_staff_members_user_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint("hall_id", "employee_no", name=op.f("uq_staff_members_hall_id_employee_no")),
    )
    op.create_index(op.f("ix_staff_members_user_id"), "staff_members", ["user_id"], unique=False)
    op.create_table(
        "window_shifts",
        sa.Column("id", big_id, nullable=False),
        sa.Column("window_id", big_id, nullable=False),
        sa.Column("staff_id", big_id, nullable=False),
        sa.Column("starts_at", aware, nullable=False),
        sa.Column("ends_at", aware, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", aware, nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"], name=op.f("fk_window_shifts_staff_id_staff_members"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["window_id"], ["windows.id"], name=op.f("fk_window_shifts_window_id_windows"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_window_shifts")),
        sa.UniqueConstraint("window_id", "staff_id", "starts_at", name=op.f("uq_window_shifts_window_id_staff_id_starts_at")),
    )
    op.create_index("ix_window_shifts_window_starts", "window_shifts", ["window_id", "starts_at"], unique=False)
    op.create_index(op.f("ix_window_shifts_staff_id"), "window_shifts", ["staff_id"], unique=False)
    # No batch (copy-and-rename) of ``cases``: SQLite adds a column with an inline REFERENCES
    # clause in place, so the table and its children are never rebuilt.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE cases ADD COLUMN staff_id INTEGER CONSTRAINT fk_cases_staff_id_staff_members "
                   "REFERENCES staff_members (id) ON DELETE SET NULL")
    else:
        op.add_column("cases", sa.Column("staff_id", big_id, nullable=True))
        op.create_foreign_key(op.f("fk_cases_staff_id_staff_members"), "cases", "staff_members", ["staff_id"], ["id"],
                              ondelete="SET NULL")
    op.add_column("cases", sa.Column("staff_attribution", sa.String(length=16), nullable=True))
    op.create_index(op.f("ix_cases_staff_id"), "cases", ["staff_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_cases_staff_id"), table_name="cases")
    with op.batch_alter_table("cases") as batch:  # run with foreign keys off (gateway/core/db/migrate.py)
        if op.get_bind().dialect.name != "sqlite":
            batch.drop_constraint(op.f("fk_cases_staff_id_staff_members"), type_="foreignkey")
        batch.drop_column("staff_attribution")
        batch.drop_column("staff_id")
    op.drop_table("window_shifts")
    op.drop_table("staff_members")
