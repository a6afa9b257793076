"""Vocabulary of a case: rectification categories, workflow states and verification verdicts."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """The rectification track, from the seed's 三类整改 (see ``shared/triage/RUBRIC.md``)."""

    IMMEDIATE = "immediate"
    TIME_LIMITED = "time_limited"
    COORDINATED = "coordinated"
    NONE = "none"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.IMMEDIATE: "立整立改",
    Category.TIME_LIMITED: "限时整改",
    Category.COORDINATED: "协调整改",
    Category.NONE: "无需整改",
}


class CaseStatus(StrEnum):
    """Where a case stands; ``gateway.workflow`` says which moves are legal."""

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
        return STATUS_LABELS[self]


STATUS_LABELS = {
    CaseStatus.RECEIVED: "已受理",
    CaseStatus.TRIAGED: "已分类",
    CaseStatus.NEEDS_REVIEW: "待复核分类",
    CaseStatus.VERIFYING: "核实中",
    CaseStatus.VALID: "核实属实",
    CaseStatus.NOT_VALID: "核实不属实",
    CaseStatus.MALICIOUS: "恶意评价",
    CaseStatus.RECTIFYING: "整改中",
    CaseStatus.REPLIED: "已答复",
    CaseStatus.RETURN_VISITED: "已回访",
    CaseStatus.CLOSED: "已办结",
}

OPEN_STATUSES = frozenset(CaseStatus) - {CaseStatus.CLOSED}
