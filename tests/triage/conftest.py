from __future__ import annotations

from pathlib import Path

import pytest

from triage import Triager

DATA = Path(__file__).with_name("data")


@pytest.fixture(scope="session")
def triager() -> Triager:
    """One Triager for the whole session (jieba's dictionary load costs ~0.6 s)."""
    return Triager.from_rules_file(None)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
