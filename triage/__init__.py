"""Keyword triage of 好差评 feedback: category, reason, confidence, review routing.

Importing this package has no side effects; jieba and the rules load on the first
:class:`Triager` construction (or the first call to :func:`classify`).
"""

from __future__ import annotations

from typing import Any

from .engine import Triager, default_triager
from .result import LABELS, REASONS, MatchedTerm, TriageResult
from .rules import Rules, RulesError, load_rules

__all__ = [
    "LABELS",
    "REASONS",
    "MatchedTerm",
    "Rules",
    "RulesError",
    "TriageResult",
    "Triager",
    "classify",
    "default_triager",
    "load_rules",
]


def classify(text: str, **kw: Any) -> TriageResult:
    """Classify ``text`` with a shared default :class:`Triager` (created lazily)."""
    return default_triager().classify(text, **kw)
