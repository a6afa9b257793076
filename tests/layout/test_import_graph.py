"""The house rules of the layout, checked on the real import graph (every import, including those
inside functions and under ``TYPE_CHECKING``), so a reader and a tool can follow every arrow."""

from __future__ import annotations

import graphlib
import importlib
import pkgutil

import grimp
import pytest

import gateway

FEATURES = ("api", "auth", "console", "email", "ops", "paper", "phone", "results", "sms", "web", "wechat")
WIRING = ("gateway.app", "gateway.cli", "gateway.worker")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("gateway", "channels", "triage")


def _imports(graph: grimp.ImportGraph, module: str) -> set[str]:
    return {m for m in graph.find_modules_directly_imported_by(module) if m.split(".")[0] in {"gateway", "channels",
                                                                                               "triage"}}


def test_no_import_cycle_anywhere(graph: grimp.ImportGraph) -> None:
    sorter = graphlib.TopologicalSorter({m: _imports(graph, m) for m in graph.modules})
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


def test_channels_and_triage_never_import_the_gateway(graph: grimp.ImportGraph) -> None:
    offenders = sorted((m, i) for m in graph.modules if m.split(".")[0] in {"channels", "triage"}
                       for i in _imports(graph, m) if i.startswith("gateway"))
    assert offenders == []


def test_the_core_imports_no_feature_and_no_wiring(graph: grimp.ImportGraph) -> None:
    outside = tuple(f"gateway.{name}" for name in (*FEATURES, "ui")) + WIRING
    offenders = sorted((m, i) for m in graph.modules if m.startswith("gateway.core")
                       for i in _imports(graph, m) if i in outside or i.startswith(tuple(o + "." for o in outside)))
    assert offenders == []


def test_only_the_wiring_imports_the_wiring(graph: grimp.ImportGraph) -> None:
    offenders = sorted((m, i) for m in graph.modules if m not in WIRING and not m.startswith("gateway.cli")
                       for i in _imports(graph, m) if i in WIRING)
    assert offenders == []


def test_every_module_imports_without_side_effects_on_its_own() -> None:
    """Each module can be imported first (no hidden order), and nothing is looked up by import string."""
    names = [m.name for m in pkgutil.walk_packages(gateway.__path__, "gateway.") if ".migrations" not in m.name]
    for name in names:
        importlib.import_module(name)
    from pathlib import Path

    for name in names:
        source = Path(importlib.import_module(name).__file__ or "").read_text(encoding="utf-8")
        assert "importlib.import_module" not in source, name


def test_every_feature_owns_its_folder() -> None:
    from pathlib import Path

    root = Path(gateway.__file__).parent
    for feature in FEATURES:
        assert (root / feature / "__init__.py").is_file(), feature
    assert not (root / "templates").exists() and not (root / "static").exists()
    loose = sorted(p.name for p in root.glob("*.py"))
    assert loose == ["__init__.py", "app.py", "cli.py", "worker.py"]
