"""When retention removed a stored file (attachments, scanned pages, slip crops, uploaded scans),
and when it removed a case's personal data

The row of a file stays (name, size, type, page number) so a case or mailroom page can say the file
was removed by its retention time, and a download can answer 410 instead of a missing file.
``cases.personal_removed_at`` marks a case whose contact and typed personal numbers are gone, so the
hourly job does not read its texts again.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gateway.core.db.types import AwareDateTime

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("attachments", "paper_pages", "paper_drafts", "paper_scans")


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("personal_removed_at", AwareDateTime(timezone=True), nullable=True))
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("removed_at", AwareDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("removed_at")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("personal_removed_at")
