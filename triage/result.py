"""Result types returned by the triage step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

LABELS: tuple[str, ...] = ("immediate", "time_limited", "coordinated", "none")

#: The rubric's finer reasons and the label each belongs to.
REASONS: dict[str, str] = {
    "environment": "immediate",
    "facilities": "immediate",
    "attitude": "immediate",
    "procedure": "time_limited",
    "steps": "time_limited",
    "efficiency": "time_limited",
    "complex": "coordinated",
    "cross_department": "coordinated",
    "praise": "none",
    "inquiry": "none",
    "suggestion": "none",
    "spam": "none",
}


class MatchedTerm(NamedTuple):
    """One piece of evidence found in the text (immutable).

    ``start``/``end`` are character offsets into the *original* text passed to
    :meth:`Triager.classify`, so a UI can highlight ``text[start:end]``.
    Evidence that is not in the text (the rating, ticked reason codes) has a
    bracketed ``term`` such as ``[rating:very_satisfied]`` and an empty span.
    ``source`` is ``"rules"`` for the rules file's terms, patterns and combos and
    ``"model"`` for the n-grams and words the learned model weighed most (see ``triage.linear``;
    ``weight`` is the feature's push towards the chosen reason against the best other label).
    """

    term: str
    start: int
    end: int
    reason: str | None
    weight: float
    negated: bool = False
    source: str = "rules"

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "start": self.start,
            "end": self.end,
            "reason": self.reason,
            "weight": round(self.weight, 3),
            "negated": self.negated,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class TriageResult:
    label: str
    reason: str | None
    confidence: float
    terms: tuple[MatchedTerm, ...] = ()
    needs_review: bool = False
    #: Per-label evidence totals, for explanations (not part of the contract).
    scores: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def deciding_terms(self) -> tuple[MatchedTerm, ...]:
        """Non-negated terms that support the chosen reason (or label)."""
        out = []
        for t in self.terms:
            if t.negated:
                continue
            if t.reason == self.reason or (t.reason and REASONS.get(t.reason) == self.label):
                out.append(t)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "reason": self.reason,
            "confidence": round(self.confidence, 4),
            "needs_review": self.needs_review,
            "terms": [t.to_dict() for t in self.terms],
            "scores": {k: round(v, 3) for k, v in self.scores.items()},
        }
