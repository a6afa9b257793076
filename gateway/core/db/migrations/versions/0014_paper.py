"""paper: background batches, OCR text and confidence, blank and voided drafts

Revision ID: 0014
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    aware = gateway.core.db.types.AwareDateTime(timezone=True)
    op.create_table(
        "paper_batches",
        sa.Column("id", big_id, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("hall_hint", sa.String(length=32), nullable=True),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", aware, nullable=False),
        sa.Column("started_at", aware, nullable=True),
        sa.Column("heartbeat_at", aware, nullable=True),
        sa.Column("finished_at", aware, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_batches")),
    )
    op.create_index("ix_paper_batches_status", "paper_batches", ["status"], unique=False)
    # As in 0007: SQLite adds a column with an inline REFERENCES clause in place (no table rebuild).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE paper_scans ADD COLUMN batch_id INTEGER CONSTRAINT fk_paper_scans_batch_id_paper_batches "
                   "REFERENCES paper_batches (id) ON DELETE SET NULL")
    else:
        op.add_column("paper_scans", sa.Column("batch_id", big_id, nullable=True))
        op.create_foreign_key(op.f("fk_paper_scans_batch_id_paper_batches"), "paper_scans", "paper_batches",
                              ["batch_id"], ["id"], ondelete="SET NULL")
    op.add_column("paper_scans", sa.Column("pages_total", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_paper_scans_batch_id"), "paper_scans", ["batch_id"], unique=False)
    # The server defaults fill existing rows; they stay (the model writes both columns anyway).
    op.add_column("paper_drafts", sa.Column("text_read", sa.Text(), nullable=True))
    op.add_column("paper_drafts", sa.Column("text_confidence", sa.Float(), nullable=True))
    op.add_column("paper_drafts", sa.Column("ocr_lines", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("paper_drafts", sa.Column("blank", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("paper_drafts", sa.Column("blank_reason", sa.Text(), nullable=True))
    op.add_column("paper_drafts", sa.Column("void_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("paper_drafts") as batch:
        for column in ("void_reason", "blank_reason", "blank", "ocr_lines", "text_confidence", "text_read"):
            batch.drop_column(column)
    op.drop_index(op.f("ix_paper_scans_batch_id"), table_name="paper_scans")
    with op.batch_alter_table("paper_scans") as batch:  # run with foreign keys off (gateway/core/db/migrate.py)
        if op.get_bind().dialect.name != "sqlite":
            batch.drop_constraint(op.f("fk_paper_scans_batch_id_paper_batches"), type_="foreignkey")
        batch.drop_column("pages_total")
        batch.drop_column("batch_id")
    op.drop_index("ix_paper_batches_status", table_name="paper_batches")
    op.drop_table("paper_batches")
