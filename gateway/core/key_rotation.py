"""Re-encrypt personal data under the current data key (``hcp keys rotate``).

Every ``*_enc`` column in the schema holds values sealed by ``PersonalDataCipher``; a value sealed
under an older key stays readable as long as that key is configured, so rotation is: put the new
key first in ``HCP_DATA_KEYS``, run this, then drop the old key.  Tables are walked in primary-key
batches, each batch in its own transaction, so the job can stop and resume at any point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import LargeBinary, Table, select, update

from gateway.core.db.schema import metadata
from gateway.core.db.store import Store
from gateway.core.personal import PersonalDataCipher


def encrypted_tables() -> list[tuple[Table, list[str]]]:
    """Tables with personal-data columns (named ``*_enc``), found from the schema itself."""
    found = []
    for table in metadata.sorted_tables:
        columns = [c.name for c in table.columns if c.name.endswith("_enc") and isinstance(c.type, LargeBinary)]
        if columns and len(table.primary_key.columns) == 1:
            found.append((table, columns))
    return found


@dataclass
class RotationReport:
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


async def count_stale(store: Store, cipher: PersonalDataCipher) -> int:
    """How many rows still hold a value sealed under a key other than the current one."""
    stale = 0
    for table, columns in encrypted_tables():
        async with store.read() as session:
            for row in (await session.execute(select(*[table.c[c] for c in columns]))).all():
                if any(v is not None and cipher.key_id_of(v) != cipher.current_key_id for v in row):
                    stale += 1
    return stale


async def rotate(store: Store, cipher: PersonalDataCipher, *, batch: int = 500,
                 progress: Callable[[int], None] | None = None) -> RotationReport:
    """Reseal stale values table by table; ``progress`` hears how many rows each batch changed."""
    report = RotationReport()
    for table, columns in encrypted_tables():
        key = next(iter(table.primary_key.columns))
        has_key_id = "key_id" in table.c
        last = None
        changed = 0
        while True:
            async with store.write() as session:
                query = select(key, *[table.c[c] for c in columns]).order_by(key).limit(batch)
                if last is not None:
                    query = query.where(key > last)
                rows = (await session.execute(query)).all()
                before = changed
                for row in rows:
                    values = dict(zip(columns, row[1:], strict=True))
                    stale = {c: v for c, v in values.items()
                             if v is not None and cipher.key_id_of(v) != cipher.current_key_id}
                    if not stale:
                        continue
                    new_values = {c: cipher.reseal(v) for c, v in stale.items()}
                    if has_key_id:
                        new_values["key_id"] = cipher.current_key_id
                    await session.execute(update(table).where(key == row[0]).values(**new_values))
                    changed += 1
            if progress:
                progress(changed - before)
            if len(rows) < batch:
                break
            last = rows[-1][0]
        report.rows[table.name] = changed
    return report
