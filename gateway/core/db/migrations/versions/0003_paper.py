"""paper feature tables: print runs, scans, pages and the mailroom drafts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    aware = gateway.core.db.types.AwareDateTime(timezone=True)
    op.create_table(
        "paper_print_runs",
        sa.Column("id", big_id, nullable=False),
        sa.Column("hall_code", sa.String(length=32), nullable=False),
        sa.Column("window_code", sa.String(length=32), nullable=True),
        sa.Column("size", sa.String(length=4), nullable=False),
        sa.Column("first_serial", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("created_at", aware, nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_print_runs")),
        sa.UniqueConstraint("first_serial", name=op.f("uq_paper_print_runs_first_serial")),
    )
    op.create_table(
        "paper_scans",
        sa.Column("id", big_id, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_sha256", sa.String(length=64), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("error_kind", sa.String(length=20), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("hall_hint", sa.String(length=32), nullable=True),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", aware, nullable=False),
        sa.Column("finished_at", aware, nullable=True),
        sa.ForeignKeyConstraint(["blob_sha256"], ["blobs.sha256"], name=op.f("fk_paper_scans_blob_sha256_blobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_scans")),
        sa.UniqueConstraint("sha256", name=op.f("uq_paper_scans_sha256")),
    )
    op.create_index("ix_paper_scans_uploaded", "paper_scans", ["uploaded_at"], unique=False)
    op.create_table(
        "paper_pages",
        sa.Column("id", big_id, nullable=False),
        sa.Column("scan_id", big_id, nullable=False),
        sa.Column("page_no", sa.Integer(), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("slips", sa.Integer(), nullable=False),
        sa.Column("foreign_codes", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("created_at", aware, nullable=False),
        sa.ForeignKeyConstraint(["image_sha256"], ["blobs.sha256"], name=op.f("fk_paper_pages_image_sha256_blobs")),
        sa.ForeignKeyConstraint(["scan_id"], ["paper_scans.id"], name=op.f("fk_paper_pages_scan_id_paper_scans"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_pages")),
        sa.UniqueConstraint("scan_id", "page_no", name=op.f("uq_paper_pages_scan_id_page_no")),
    )
    op.create_index("ix_paper_pages_status", "paper_pages", ["status"], unique=False)
    op.create_table(
        "paper_drafts",
        sa.Column("id", big_id, nullable=False),
        sa.Column("page_id", big_id, nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=True),
        sa.Column("size", sa.String(length=4), nullable=True),
        sa.Column("hall_code", sa.String(length=32), nullable=True),
        sa.Column("window_code", sa.String(length=32), nullable=True),
        sa.Column("signature_ok", sa.Boolean(), nullable=True),
        sa.Column("issued", sa.Boolean(), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=True),
        sa.Column("rating_read", sa.String(length=20), nullable=True),
        sa.Column("rating_confidence", sa.Float(), nullable=True),
        sa.Column("reasons_read", sa.JSON(), nullable=False),
        sa.Column("reasons_confidence", sa.Float(), nullable=True),
        sa.Column("reply_read", sa.String(length=10), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("duplicate_of", sa.String(length=64), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("rating", sa.String(length=20), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("contact_enc", sa.LargeBinary(), nullable=True),
        sa.Column("tracking_code", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("case_id", big_id, nullable=True),
        sa.Column("case_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", aware, nullable=False),
        sa.Column("updated_at", aware, nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("confirmed_at", aware, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_paper_drafts_case_id_cases"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["image_sha256"], ["blobs.sha256"], name=op.f("fk_paper_drafts_image_sha256_blobs")),
        sa.ForeignKeyConstraint(["page_id"], ["paper_pages.id"], name=op.f("fk_paper_drafts_page_id_paper_pages"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_drafts")),
        sa.UniqueConstraint("page_id", "slot", name=op.f("uq_paper_drafts_page_id_slot")),
    )
    op.create_index("ix_paper_drafts_status_hall", "paper_drafts", ["status", "hall_code"], unique=False)
    op.create_index("ix_paper_drafts_serial", "paper_drafts", ["serial"], unique=False)


def downgrade() -> None:
    op.drop_table("paper_drafts")
    op.drop_table("paper_pages")
    op.drop_table("paper_scans")
    op.drop_table("paper_print_runs")
