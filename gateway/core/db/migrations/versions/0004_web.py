"""web feature tables: status lookup attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    aware = gateway.core.db.types.AwareDateTime(timezone=True)
    op.create_table(
        "web_lookup_attempts",
        sa.Column("id", big_id, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("at", aware, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_lookup_attempts")),
    )
    op.create_index(op.f("ix_web_lookup_attempts_at"), "web_lookup_attempts", ["at"], unique=False)
    op.create_index("ix_web_lookup_attempts_code_at", "web_lookup_attempts", ["code", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_web_lookup_attempts_code_at", table_name="web_lookup_attempts")
    op.drop_index(op.f("ix_web_lookup_attempts_at"), table_name="web_lookup_attempts")
    op.drop_table("web_lookup_attempts")
