"""inbound API: client systems, keys, nonces and matters (办件)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    aware = gateway.core.db.types.AwareDateTime(timezone=True)
    op.create_table(
        "api_clients",
        sa.Column("id", big_id, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", aware, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("code", name=op.f("uq_api_clients_code")),
    )
    op.create_table(
        "api_client_keys",
        sa.Column("id", big_id, nullable=False),
        sa.Column("client_id", big_id, nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", aware, nullable=False),
        sa.Column("revoked_at", aware, nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"], name=op.f("fk_api_client_keys_client_id_api_clients"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_client_keys")),
        sa.UniqueConstraint("client_id", "key_id", name=op.f("uq_api_client_keys_client_id_key_id")),
    )
    op.create_table(
        "api_nonces",
        sa.Column("id", big_id, nullable=False),
        sa.Column("client_id", big_id, nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", aware, nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"], name=op.f("fk_api_nonces_client_id_api_clients"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_nonces")),
        sa.UniqueConstraint("client_id", "nonce", name=op.f("uq_api_nonces_client_id_nonce")),
    )
    op.create_index(op.f("ix_api_nonces_seen_at"), "api_nonces", ["seen_at"], unique=False)
    op.create_table(
        "matters",
        sa.Column("id", big_id, nullable=False),
        sa.Column("client_id", big_id, nullable=False),
        sa.Column("matter_no", sa.String(length=64), nullable=False),
        sa.Column("hall_id", big_id, nullable=True),
        sa.Column("window_id", big_id, nullable=True),
        sa.Column("service_item_id", big_id, nullable=False),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("staff_no", sa.String(length=32), nullable=True),
        sa.Column("applicant_type", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=True),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("email_enc", sa.LargeBinary(), nullable=True),
        sa.Column("finished_at", aware, nullable=False),
        sa.Column("created_at", aware, nullable=False),
        sa.Column("link_expires_at", aware, nullable=False),
        sa.Column("evaluated_case_id", big_id, nullable=True),
        sa.Column("evaluation_digest", sa.String(length=64), nullable=True),
        sa.Column("unrated_at", aware, nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["api_clients.id"], name=op.f("fk_matters_client_id_api_clients")),
        sa.ForeignKeyConstraint(["evaluated_case_id"], ["cases.id"], name=op.f("fk_matters_evaluated_case_id_cases"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["hall_id"], ["halls.id"], name=op.f("fk_matters_hall_id_halls")),
        sa.ForeignKeyConstraint(["service_item_id"], ["service_items.id"],
                                name=op.f("fk_matters_service_item_id_service_items")),
        sa.ForeignKeyConstraint(["window_id"], ["windows.id"], name=op.f("fk_matters_window_id_windows")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matters")),
        sa.UniqueConstraint("client_id", "matter_no", name=op.f("uq_matters_client_id_matter_no")),
    )
    op.create_index(op.f("ix_matters_finished_at"), "matters", ["finished_at"], unique=False)
    op.create_index("ix_matters_unrated", "matters", ["evaluated_case_id", "unrated_at", "finished_at"], unique=False)


def downgrade() -> None:
    op.drop_table("matters")
    op.drop_table("api_nonces")
    op.drop_table("api_client_keys")
    op.drop_table("api_clients")
