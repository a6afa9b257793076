"""hardening: server-side staff sessions, sign-in back-off, shared rate limits, lookup per address

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    aware = gateway.core.db.types.AwareDateTime(timezone=True)
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", big_id, nullable=False),
        sa.Column("created_at", aware, nullable=False),
        sa.Column("ended_at", aware, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_staff_sessions_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    op.create_index(op.f("ix_staff_sessions_user_id"), "staff_sessions", ["user_id"], unique=False)
    op.create_table(
        "sign_in_failures",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", aware, nullable=False),
        sa.Column("blocked_until", aware, nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(op.f("ix_sign_in_failures_last_failed_at"), "sign_in_failures", ["last_failed_at"],
                    unique=False)
    op.create_table(
        "rate_hits",
        sa.Column("id", big_id, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", aware, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_hits")),
    )
    op.create_index("ix_rate_hits_key_at", "rate_hits", ["key", "at"], unique=False)
    op.create_index(op.f("ix_rate_hits_at"), "rate_hits", ["at"], unique=False)
    op.add_column("web_lookup_attempts", sa.Column("client", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_lookup_attempts") as batch:
        batch.drop_column("client")
    op.drop_table("rate_hits")
    op.drop_table("sign_in_failures")
    op.drop_table("staff_sessions")
