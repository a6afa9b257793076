"""The case state machine: which action moves a case from which state to which.

The table ``TRANSITIONS`` is the whole workflow; ``plan`` checks one move against it without
touching the database, and ``apply_transition`` performs it under a row lock and writes the
timeline event in the same transaction.  An illegal move raises ``WorkflowError`` and changes
nothing.

    received ─triage→ triaged | needs_review ─review→ triaged
    triaged ─start_verification→ verifying ─verify_*→ valid | not_valid | malicious
    triaged | verifying ─send_back (退回)→ needs_review
    valid ─rectify→ rectifying ─reply→ replied ─return_visit→ return_visited ─close→ closed
    triaged (category none) ─close→ closed        not_valid | malicious ─close→ closed
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from channels.ratings import Rating
from gateway.core.db.models import Case, CaseEvent
from gateway.core.domain import CaseStatus, Category

S = CaseStatus


class WorkflowError(ValueError):
    """A move the workflow does not allow from the case's current state."""


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the guards need to know about a case beyond its state."""

    status: CaseStatus
    category: Category | None = None
    rating: Rating | None = None
    real_name: bool = False

    @property
    def needs_return_visit(self) -> bool:
        """The seed requires a return visit for every real-name 差评 (实名差评回访率 100%)."""
        return self.real_name and self.rating is not None and self.rating.is_bad


_INSERT_EVENT = insert(CaseEvent.__table__)  # Core: no ORM bookkeeping for append-only rows
Guard = Callable[[CaseFacts], str | None]


def _category_is_none(facts: CaseFacts) -> str | None:
    if facts.category is not Category.NONE:
        return "only items that need no rectification (无需整改) close straight after triage"
    return None


def _needs_rectification(facts: CaseFacts) -> str | None:
    if facts.category in (None, Category.NONE):
        return "an item that needs no rectification is closed, not verified"
    return None


def _return_visit_done(facts: CaseFacts) -> str | None:
    if facts.needs_return_visit:
        return "a real-name 差评 must have its return visit (回访) recorded before it closes"
    return None


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    sources: frozenset[CaseStatus]
    target: CaseStatus
    label: str
    guard: Guard | None = None
    note_required: bool = False


TRANSITIONS: tuple[Transition, ...] = (
    Transition("triage", frozenset({S.RECEIVED}), S.TRIAGED, "自动分类"),
    Transition("flag_for_review", frozenset({S.RECEIVED, S.TRIAGED}), S.NEEDS_REVIEW, "转人工复核"),
    Transition("review", frozenset({S.NEEDS_REVIEW}), S.TRIAGED, "复核分类"),
    Transition("start_verification", frozenset({S.TRIAGED}), S.VERIFYING, "开始核实", _needs_rectification),
    Transition("send_back", frozenset({S.TRIAGED, S.VERIFYING}), S.NEEDS_REVIEW, "退回分拣", note_required=True),
    Transition("verify_valid", frozenset({S.VERIFYING}), S.VALID, "核实属实", note_required=True),
    Transition("verify_not_valid", frozenset({S.VERIFYING}), S.NOT_VALID, "核实不属实", note_required=True),
    Transition("verify_malicious", frozenset({S.VERIFYING}), S.MALICIOUS, "认定恶意评价", note_required=True),
    Transition("rectify", frozenset({S.VALID}), S.RECTIFYING, "开始整改"),
    Transition("reply", frozenset({S.RECTIFYING, S.NOT_VALID}), S.REPLIED, "答复群众", note_required=True),
    Transition("return_visit", frozenset({S.REPLIED}), S.RETURN_VISITED, "记录回访", note_required=True),
    Transition("reopen", frozenset({S.REPLIED, S.RETURN_VISITED}), S.RECTIFYING, "重新整改", note_required=True),
    Transition("close", frozenset({S.TRIAGED}), S.CLOSED, "无需整改办结", _category_is_none),
    Transition("close", frozenset({S.REPLIED}), S.CLOSED, "办结", _return_visit_done),
    Transition("close", frozenset({S.RETURN_VISITED, S.NOT_VALID, S.MALICIOUS}), S.CLOSED, "办结"),
)

ACTIONS: frozenset[str] = frozenset(t.action for t in TRANSITIONS)
VERDICTS = {"verify_valid": "valid", "verify_not_valid": "not_valid", "verify_malicious": "malicious"}


def plan(facts: CaseFacts, action: str, note: str | None = None) -> Transition:
    """The transition ``action`` takes from ``facts.status``, or ``WorkflowError`` saying why not."""
    if action not in ACTIONS:
        raise WorkflowError(f"unknown action {action!r}; known: {', '.join(sorted(ACTIONS))}")
    candidates = [t for t in TRANSITIONS if t.action == action and facts.status in t.sources]
    if not candidates:
        allowed = sorted({t.action for t in TRANSITIONS if facts.status in t.sources})
        raise WorkflowError(
            f"cannot {action} a case that is {facts.status.value} ({facts.status.label}); "
            f"allowed: {', '.join(allowed) or 'nothing'}"
        )
    refusals = []
    for transition in candidates:
        refusal = transition.guard(facts) if transition.guard else None
        if refusal is None:
            if transition.note_required and not (note and note.strip()):
                raise WorkflowError(f"{action} ({transition.label}) needs a note")
            return transition
        refusals.append(refusal)
    raise WorkflowError(f"cannot {action}: {'; '.join(refusals)}")


def allowed_actions(facts: CaseFacts) -> list[Transition]:
    """Every move the case can make now, for the console's buttons."""
    result = []
    for transition in TRANSITIONS:
        if facts.status in transition.sources and (transition.guard is None or transition.guard(facts) is None):
            result.append(transition)
    return result


def facts_of(case: Case) -> CaseFacts:
    return CaseFacts(
        status=CaseStatus(case.status),
        category=Category(case.category) if case.category else None,
        rating=Rating(case.rating) if case.rating else None,
        real_name=case.real_name,
    )


@dataclass(frozen=True, slots=True)
class EventSpec:
    """A timeline line to write; ``gateway.core.ingest`` and ``apply_transition`` both use it."""

    kind: str
    actor: str
    from_status: str | None = None
    to_status: str | None = None
    note: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def add_events(session: Session, case_id: int, at: datetime, events: list[EventSpec]) -> None:
    """Write timeline lines in the caller's (synchronous) transaction; async code uses
    ``await session.run_sync(add_events, …)``."""
    if not events:
        return
    session.execute(
        _INSERT_EVENT,
        [
            {"case_id": case_id, "at": at, "actor": e.actor, "kind": e.kind, "from_status": e.from_status,
             "to_status": e.to_status, "note": e.note, "data": e.data}
            for e in events
        ],
    )


async def apply_transition(
    session: AsyncSession,
    case_id: int,
    action: str,
    *,
    actor: str,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Case:
    """Perform ``action`` on the case inside the caller's transaction, or raise ``WorkflowError``."""
    case = (await session.execute(select(Case).where(Case.id == case_id).with_for_update())).scalar_one_or_none()
    if case is None:
        raise WorkflowError(f"no case with id {case_id}")
    transition = plan(facts_of(case), action, note)
    now = now or datetime.now(UTC)
    previous = case.status
    case.status = transition.target.value
    case.updated_at = now
    if action in VERDICTS:
        case.verdict = VERDICTS[action]
    if transition.target is S.CLOSED:
        case.closed_at = now
    if action == "reply" and case.result_at is None:
        case.result_at = now
    await session.run_sync(add_events, case.id, now, [
        EventSpec(kind=action, actor=actor, from_status=previous, to_status=case.status, note=note, data=data or {})
    ])
    return case
