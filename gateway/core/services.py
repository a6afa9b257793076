"""The wiring: one place that builds the store, cipher, calendar, triage and ingest from settings.

``gateway.app`` and ``gateway.cli`` both start from ``Services.create``; nothing opens a database
or loads jieba at import time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from gateway.core.db.migrate import upgrade_async
from gateway.core.db.store import Store
from gateway.core.ingest import Classifier, Ingestor
from gateway.core.personal import PersonalDataCipher
from gateway.core.registry import ensure_default_registry
from gateway.core.settings import Settings
from gateway.core.triage_service import TriageService, resolve_processes
from gateway.core.workdays import CalendarProvider

log = logging.getLogger(__name__)


def load_classifier(settings: Settings) -> TriageService:
    """The jieba keyword triage with the configured (or packaged) rules, in worker processes
    where the machine has the cores (``HCP_TRIAGE_PROCESSES``)."""
    return TriageService(settings.triage_rules, resolve_processes(settings.triage_processes))


@dataclass
class Services:
    settings: Settings
    store: Store
    cipher: PersonalDataCipher
    calendar: CalendarProvider
    _classifier: Classifier | None = None
    _ingestor: Ingestor | None = None

    @classmethod
    def create(cls, settings: Settings, *, classifier: Classifier | None = None) -> Services:
        store = Store(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
        cipher = PersonalDataCipher(settings.encryption_keys(), settings.signing_key())
        return cls(settings, store, cipher, CalendarProvider(store, settings), classifier)

    @property
    def classifier(self) -> Classifier:
        if self._classifier is None:
            self._classifier = load_classifier(self.settings)
        return self._classifier

    @property
    def ingestor(self) -> Ingestor:
        if self._ingestor is None:
            self._ingestor = Ingestor(self.store, self.settings, self.classifier, self.cipher, self.calendar.get)
        return self._ingestor

    async def prepare_database(self) -> None:
        """Migrate to the latest schema and load the default registry into an empty database."""
        await upgrade_async(self.store.write_engine)
        if await ensure_default_registry(self.store):
            log.info("imported the default registry of halls and service items")

    async def start_triage(self) -> None:
        """Load the triage now (workers or in-process), not on a citizen's first request."""
        classifier = self.classifier
        if isinstance(classifier, TriageService):
            await classifier.start()
        else:
            classifier.classify("预热")

    async def close(self) -> None:
        if isinstance(self._classifier, TriageService):
            await asyncio.to_thread(self._classifier.close)
        await self.store.dispose()

    def describe(self) -> dict[str, Any]:
        return {"database": self.store.dialect, "key_id": self.cipher.current_key_id}
