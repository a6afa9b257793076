"""Vocabulary of a case: rectification categories and workflow states (their Chinese names are in
``gateway.core.labels``)."""

from __future__ import annotations

from enum import StrEnum

from gateway.core.labels import CATEGORY_LABELS, STATUS_LABELS


class Category(StrEnum):
    """The rectification track, from the seed's 三类整改 (see ``shared/triage/RUBRIC.md``)."""

    IMMEDIATE = "immediate"
    TIME_LIMITED = "time_limited"
    COORDINATED = "coordinated"
    NONE = "none"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self.value]



class CaseStatus(StrEnum):
    """Where a case stands; ``gateway.core.workflow`` says which moves are legal."""

    RECEIVED = "received"
    TRIAGED = "triaged"
    NEEDS_REVIEW = "needs_review"
    VERIFYING = "verifying"
    VALID = "valid"
    NOT_VALID = "not_valid"
    MALICIOUS = "malicious"
    RECTIFYING = "rectifying"
    REPLIED = "replied"
    RETURN_VISITED = "return_visited"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.value]


OPEN_STATUSES = frozenset(CaseStatus) - {CaseStatus.CLOSED}
