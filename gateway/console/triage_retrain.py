"""Retraining the triage's learned model from the triage team's corrections, without a developer.

Why a job: every correction on ``/triage`` is a labelled item of the text the gateway really
receives; the learned model should learn from them (nightly by default,
``HCP_TRIAGE_RETRAIN_HOURS``).  The job runs ``hcp triage train`` in a child process (training
is seconds to minutes of CPU that must not hold up the event loop), which reads the corrections
from the database, scores the whole pipeline by cross-validation on everything labelled so far,
and replaces the model file only when that figure does not drop.  The running gateway then picks
the new file up like an edited rules file.  Nothing runs when no correction came in since the
model in use was trained.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select

from gateway.core.db.models import TriageCorrection
from gateway.core.jobs import Job
from gateway.core.services import Services

log = logging.getLogger(__name__)


def _model_corrections(services: Services) -> int | None:
    """How many corrections the model in use was trained on; None without a readable model."""
    from triage.linear import ModelError, read_meta
    from triage.rules import RulesError, load_rules

    try:
        learned = load_rules(services.settings.triage_rules, check_model=False).learned
        if learned is None or not learned.enabled:
            return None
        return int(read_meta(learned.model_path).get("corrections", 0))
    except (RulesError, ModelError, ValueError):
        return None


async def count_corrections(services: Services) -> int:
    async with services.store.read() as session:
        return int((await session.execute(select(func.count(TriageCorrection.id)))).scalar_one())


async def retrain(services: Services) -> Mapping[str, Any]:
    count = await count_corrections(services)
    known = await asyncio.to_thread(_model_corrections, services)
    if known is None:
        return {"skipped": "the rules use no learned model"}
    if count == known:
        return {"skipped": "no new corrections", "corrections": count}
    args = [sys.executable, "-m", "gateway.cli", "triage", "train", "--json"]
    if services.settings.triage_rules is not None:
        args += ["--rules", str(services.settings.triage_rules)]
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    lines = out.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode not in (0, 3) or not lines:
        raise RuntimeError(f"hcp triage train exited {proc.returncode}: {err.decode('utf-8', 'replace')[-300:]}")
    report = json.loads(lines[-1])
    result = {"corrections": count, "adopted": bool(report.get("adopted")), "items": report.get("items"),
              "cv_macro_f1": (report.get("cv") or {}).get("macro_f1"),
              "previous_cv_macro_f1": report.get("previous_cv_macro_f1")}
    log.info("triage retrain: %s", result)
    return result


def jobs(services: Services) -> list[Job]:
    hours = services.settings.triage_retrain_hours
    if hours <= 0:
        return []

    async def run() -> Mapping[str, Any]:
        return await retrain(services)

    return [Job("triage-retrain", run, interval=hours * 3600.0, singleton=True)]
