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


# The triage step's second-level reasons (``triage/data/rules.toml``), as the console shows them.
TRIAGE_REASON_LABELS = {
    "environment": "环境卫生",
    "facilities": "设施设备",
    "attitude": "服务态度",
    "procedure": "办事流程",
    "steps": "办理环节",
    "efficiency": "办事效率",
    "complex": "复杂问题",
    "cross_department": "跨部门协调",
    "praise": "表扬",
    "inquiry": "咨询",
    "suggestion": "建议",
    "spam": "无效信息",
}

CHANNEL_LABELS = {"email": "电子邮件", "phone": "热线电话", "paper": "意见箱", "web": "找茬窗口"}
VERDICT_LABELS = {"valid": "属实", "not_valid": "不属实", "malicious": "恶意"}
