"""Entry points for a process that does nothing but triage (see ``gateway.core.triage_service``).

Why a separate module: a worker process started with ``spawn`` imports the module
of the functions it runs.  This one imports only ``triage``, so a worker costs
the jieba dictionary and the rules, not the gateway.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from .engine import Triager
from .result import TriageResult

log = logging.getLogger(__name__)
_triager: Triager | None = None
PARENT_CHECK_SECONDS = 0.5


def _exit_with_parent(parent: int) -> None:
    """Exit as soon as the process that started this worker is gone.

    A gateway or ``hcp ingest`` killed with SIGKILL cannot shut its pool down; without this the
    worker (about 180 MB with jieba) and multiprocessing's resource tracker, which waits for the
    worker's end of its pipe, would run on under PID 1.  When the parent dies this process is
    re-parented, so ``os.getppid()`` changes.  (Linux's ``PR_SET_PDEATHSIG`` would be quicker but
    fires when the parent *thread* that spawned the worker ends, which in a thread pool is any time.)
    """
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


def start(rules_path: str | None) -> None:
    """Process initializer: watch the parent, load the dictionary and the rules once, warm every path."""
    global _triager
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    _triager = Triager.from_rules_file(rules_path)
    _triager.classify("大厅里排队排了两个小时，工作人员态度也不好", channel="email")


def classify(text: str, channel: str | None, rating: str | None, reasons: Sequence[str]) -> TriageResult:
    if _triager is None:  # pragma: no cover - the pool always runs ``start`` first
        raise RuntimeError("triage worker not started")
    return _triager.classify(text, channel=channel, rating=rating, reasons=reasons)


def classify_many(items: Sequence[tuple[str, str | None, str | None, Sequence[str]]]) -> list[tuple[bool, Any]]:
    """Several items in one round trip (the pool's messages cost more than a short item's triage).

    Each item's outcome is ``(True, result)`` or ``(False, exception)``: one bad item
    must not fail the others.  The batch is classified together (``Triager.classify_many``: the same
    results at a batch's cost); should that fail, item by item, so only the bad one fails."""
    if _triager is None:  # pragma: no cover - the pool always runs ``start`` first
        raise RuntimeError("triage worker not started")
    if all(isinstance(item[0], str) for item in items):
        try:
            return [(True, res) for res in _triager.classify_many(items)]
        except Exception as exc:  # each item again, alone: its own exception is its outcome
            # logged (the kind, never the texts): a fault only batches have would otherwise cost
            # twice the CPU unnoticed
            log.warning("triage worker: a batch of %d failed (%s); classified one by one", len(items),
                        type(exc).__name__)
    out: list[tuple[bool, Any]] = []
    for text, channel, rating, reasons in items:
        try:
            out.append((True, classify(text, channel, rating, reasons)))
        except Exception as exc:  # returned to the caller of that one item, who raises it
            out.append((False, exc))
    return out


def rules_digest() -> str:
    """Which rules this worker runs (the gateway checks a reload reached every worker)."""
    if _triager is None:  # pragma: no cover
        raise RuntimeError("triage worker not started")
    return _triager.rules.digest
