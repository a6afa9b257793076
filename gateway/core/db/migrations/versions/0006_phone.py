"""phone feature tables: phone_calls, phone_callbacks, return_visits

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    aware = gateway.core.db.types.AwareDateTime(timezone=True)
    op.create_table(
        "phone_calls",
        sa.Column("id", big_id, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("caller_enc", sa.LargeBinary(), nullable=True),
        sa.Column("caller_hash", sa.String(length=64), nullable=True),
        sa.Column("started_at", aware, nullable=False),
        sa.Column("answered_at", aware, nullable=True),
        sa.Column("ended_at", aware, nullable=True),
        sa.Column("duration", sa.Integer(), nullable=False),
        sa.Column("talk_seconds", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("disposition", sa.String(length=32), nullable=True),
        sa.Column("agent", sa.String(length=64), nullable=True),
        sa.Column("case_id", big_id, nullable=True),
        sa.Column("message_id", big_id, nullable=True),
        sa.Column("imported_at", aware, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_phone_calls_case_id_cases"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["message_id"], ["case_messages.id"],
                                name=op.f("fk_phone_calls_message_id_case_messages"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_calls")),
        sa.UniqueConstraint("source", "call_id", name=op.f("uq_phone_calls_source_call_id")),
    )
    op.create_index(op.f("ix_phone_calls_case_id"), "phone_calls", ["case_id"], unique=False)
    op.create_index("ix_phone_calls_caller_started", "phone_calls", ["caller_hash", "started_at"], unique=False)
    op.create_index("ix_phone_calls_started", "phone_calls", ["started_at"], unique=False)
    op.create_index("ix_phone_calls_message", "phone_calls", ["message_id"], unique=False)

    op.create_table(
        "phone_callbacks",
        sa.Column("id", big_id, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.String(length=160), nullable=False),
        sa.Column("call_id", big_id, nullable=True),
        sa.Column("case_id", big_id, nullable=True),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("called_at", aware, nullable=False),
        sa.Column("created_at", aware, nullable=False),
        sa.Column("due_at", aware, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", aware, nullable=True),
        sa.Column("retry_at", aware, nullable=True),
        sa.Column("closed_at", aware, nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["phone_calls.id"], name=op.f("fk_phone_callbacks_call_id_phone_calls"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_phone_callbacks_case_id_cases"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_callbacks")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_phone_callbacks_dedup_key")),
    )
    op.create_index("ix_phone_callbacks_phone_status", "phone_callbacks", ["phone_hash", "status"], unique=False)
    op.create_index("ix_phone_callbacks_status_due", "phone_callbacks", ["status", "due_at"], unique=False)

    op.create_table(
        "return_visits",
        sa.Column("id", big_id, nullable=False),
        sa.Column("case_id", big_id, nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("at", aware, nullable=False),
        sa.Column("who", sa.String(length=64), nullable=False),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", aware, nullable=False),
        sa.Column("problem_solved", sa.String(length=8), nullable=True),
        sa.Column("rectification_satisfaction", sa.String(length=20), nullable=True),
        sa.Column("policy_awareness", sa.Integer(), nullable=True),
        sa.Column("convenience", sa.Integer(), nullable=True),
        sa.Column("service_satisfaction", sa.Integer(), nullable=True),
        sa.CheckConstraint("problem_solved IN ('yes', 'partly', 'no')", name=op.f("ck_return_visits_problem_solved")),
        sa.CheckConstraint("policy_awareness BETWEEN 1 AND 5", name=op.f("ck_return_visits_policy_awareness")),
        sa.CheckConstraint("convenience BETWEEN 1 AND 5", name=op.f("ck_return_visits_convenience")),
        sa.CheckConstraint("service_satisfaction BETWEEN 1 AND 5", name=op.f("ck_return_visits_service_satisfaction")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_return_visits_case_id_cases"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_visits")),
    )
    op.create_index("ix_return_visits_case_at", "return_visits", ["case_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_table("return_visits")
    op.drop_table("phone_callbacks")
    op.drop_table("phone_calls")
