"""WeChat channel and 12345 work orders: OpenIDs on contacts, the shared access token, hotline orders

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    aware = gateway.core.db.types.AwareDateTime(timezone=True)
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("wechat_enc", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("wechat_hash", sa.String(length=64), nullable=True))
        batch.create_index(batch.f("ix_contacts_wechat_hash"), ["wechat_hash"], unique=False)
    op.create_table(
        "wechat_tokens",
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("token_enc", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", aware, nullable=False),
        sa.Column("fetched_at", aware, nullable=False),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_wechat_tokens")),
    )
    op.create_table(
        "hotline_orders",
        sa.Column("id", big_id, nullable=False),
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("case_id", big_id, nullable=True),
        sa.Column("called_at", aware, nullable=False),
        sa.Column("platform_due", aware, nullable=True),
        sa.Column("town", sa.String(length=64), nullable=True),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("source_file", sa.String(length=255), nullable=True),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("imported_at", aware, nullable=False),
        sa.Column("exported_at", aware, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_hotline_orders_case_id_cases"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_orders")),
        sa.UniqueConstraint("order_no", name=op.f("uq_hotline_orders_order_no")),
    )
    op.create_index(op.f("ix_hotline_orders_case_id"), "hotline_orders", ["case_id"], unique=False)
    op.create_index(op.f("ix_hotline_orders_platform_due"), "hotline_orders", ["platform_due"], unique=False)


def downgrade() -> None:
    op.drop_table("hotline_orders")
    op.drop_table("wechat_tokens")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_index(batch.f("ix_contacts_wechat_hash"))
        batch.drop_column("wechat_hash")
        batch.drop_column("wechat_enc")
