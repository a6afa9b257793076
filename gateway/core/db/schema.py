"""Every table module, imported once so ``Base.metadata`` is complete.

Each feature keeps its tables in its own ``models_<feature>.py`` beside the core ``models.py``;
Alembic, the store and the tests import this module so that no table is ever missing from the
metadata (foreign keys across modules resolve, ``TRUNCATE`` covers every table).
"""

from __future__ import annotations

from gateway.core.db import (  # noqa: F401  (imported for their tables)
    models,
    models_matters,
    models_paper,
    models_phone,
    models_results,
    models_rosters,
    models_staff,
    models_web,
    models_wechat,
)

Base = models.Base
metadata = models.Base.metadata
