"""results: evaluation source per case, village/community points under a town, window service items

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-07
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of gateway.core.sources.source_of as it was when this migration was written
# (a migration must not change meaning when the application code moves on).
_BY_CHANNEL = {"paper": "box", "phone": "hotline", "email": "email"}
_BY_ENTRY = {"box": "box", "supervision": "supervision"}


def _source(channel: str, extra: dict) -> str:
    if channel == "web":
        if extra.get("matter_no"):
            return "matter"
        if extra.get("form") == "window":
            return "once"
        return _BY_ENTRY.get(str(extra.get("entry") or ""), "complaint")
    return _BY_CHANNEL.get(channel, channel)


def upgrade() -> None:
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=True))
    with op.batch_alter_table("halls") as batch:
        batch.add_column(sa.Column("town_id", big_id, nullable=True))
        batch.create_foreign_key(op.f("fk_halls_town_id_halls"), "halls", ["town_id"], ["id"])
    op.create_table(
        "window_service_items",
        sa.Column("window_id", big_id, nullable=False),
        sa.Column("service_item_id", big_id, nullable=False),
        sa.ForeignKeyConstraint(["service_item_id"], ["service_items.id"],
                                name=op.f("fk_window_service_items_service_item_id_service_items"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["window_id"], ["windows.id"], name=op.f("fk_window_service_items_window_id_windows"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("window_id", "service_item_id", name=op.f("pk_window_service_items")),
    )
    # Backfill the source of existing cases from their channel and first message's extra.
    bind = op.get_bind()
    for channel, source in _BY_CHANNEL.items():
        bind.execute(sa.text("UPDATE cases SET source = :s WHERE channel = :c"), {"s": source, "c": channel})
    rows = bind.execute(sa.text(
        "SELECT c.id, m.extra FROM cases c JOIN case_messages m ON m.case_id = c.id AND m.direction = 'in' "
        "WHERE c.channel = 'web' AND m.id = (SELECT min(id) FROM case_messages x WHERE x.case_id = c.id "
        "AND x.direction = 'in')")).all()
    for case_id, extra in rows:
        value = json.loads(extra) if isinstance(extra, str) else (extra or {})
        bind.execute(sa.text("UPDATE cases SET source = :s WHERE id = :i"), {"s": _source("web", value), "i": case_id})
    bind.execute(sa.text("UPDATE cases SET source = channel WHERE source IS NULL"))


def downgrade() -> None:
    op.drop_table("window_service_items")
    with op.batch_alter_table("halls") as batch:
        batch.drop_constraint(op.f("fk_halls_town_id_halls"), type_="foreignkey")
        batch.drop_column("town_id")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("source")
