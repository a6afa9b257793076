"""The nightly retraining job: runs `hcp triage train` only when corrections came in, reports what it did."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.console import triage_retrain
from gateway.core.services import Services
from gateway.core.settings import Settings


def _services(tmp_path: Path, database_url: str, **kw) -> Services:
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url, run_workers=False,
                        triage_processes=0, _env_file=None, **kw)  # type: ignore[call-arg]
    return Services.create(settings)


def test_the_job_is_scheduled_unless_switched_off(tmp_path: Path) -> None:
    on = _services(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/db.sqlite")
    assert [(j.name, j.interval, j.singleton) for j in triage_retrain.jobs(on)] == [("triage-retrain", 86400.0, True)]
    off = _services(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/db.sqlite", triage_retrain_hours=0)
    assert triage_retrain.jobs(off) == []


class _FakeProcess:
    def __init__(self, code: int, report: dict) -> None:
        self.returncode = code
        self._out = (json.dumps(report) + "\n").encode()

    async def communicate(self) -> tuple[bytes, bytes]:
        return self._out, b""


async def test_retrain_runs_only_on_new_corrections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    services = _services(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/db.sqlite")
    calls: list[tuple[str, ...]] = []
    count = 0

    async def corrections(_services: Services) -> int:
        return count

    async def spawn(*args: str, **_kw: object) -> _FakeProcess:
        calls.append(args)
        return _FakeProcess(3, {"adopted": False, "items": 707, "cv": {"macro_f1": 0.97},
                                "previous_cv_macro_f1": 0.975})

    monkeypatch.setattr(triage_retrain, "count_corrections", corrections)
    monkeypatch.setattr(asyncio, "create_subprocess_exec", spawn)
    # the packaged model was trained on no corrections
    assert await triage_retrain.retrain(services) == {"skipped": "no new corrections", "corrections": 0}
    assert calls == []
    count = 1
    result = await triage_retrain.retrain(services)
    assert calls and calls[0][-4:] == ("gateway.cli", "triage", "train", "--json")
    assert result == {"corrections": 1, "adopted": False, "items": 707, "cv_macro_f1": 0.97,
                      "previous_cv_macro_f1": 0.975}

    async def crash(*args: str, **_kw: object) -> _FakeProcess:
        return _FakeProcess(1, {})

    monkeypatch.setattr(asyncio, "create_subprocess_exec", crash)
    with pytest.raises(RuntimeError, match="exited 1"):
        await triage_retrain.retrain(services)
