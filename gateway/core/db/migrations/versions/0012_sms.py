"""SMS: cases.reply_delivered_at (an answer that reached the citizen)

Existing cases keep the figures they had: a case that had a first response, a result or an
outbound message counts as answered from the earliest of them.

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import gateway.core.db.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("reply_delivered_at", gateway.core.db.types.AwareDateTime(timezone=True),
                                   nullable=True))
    op.execute(
        "UPDATE cases SET reply_delivered_at = COALESCE(first_responded_at, result_at, "
        "(SELECT MIN(m.at) FROM case_messages m WHERE m.case_id = cases.id AND m.direction = 'out'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("reply_delivered_at")
