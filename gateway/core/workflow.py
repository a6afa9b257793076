"""The case state machine: which action moves a case from which state to which.

The table ``TRANSITIONS`` is the whole workflow; ``plan`` checks one move against it without
touching the database, and ``apply_transition`` performs it under a row lock and writes the
timeline event in the same transaction.  An illegal move raises ``WorkflowError`` and changes
nothing.

    received ─triage→ triaged | needs_review ─review→ triaged
    triaged ─start_verification→ verifying ─verify_*→ valid | not_valid | malicious
    triaged | verifying ─send_back (退回)→ needs_review
    valid ─rectify→ rectifying ─reply→ replied ─return_visit→ return_visited ─close→ closed
    replied ─visit_exception (回访未果, after the attempts)→ return_visited
    triaged (inquiry / suggestion) ─reply (答复)→ replied ─close→ closed
    triaged (praise, spam, empty; not a 差评) ─close→ closed
    not_valid | malicious ─reply (告知核实结果)→ replied     not_valid | malicious ─close→ closed
    closed ─reopen_closed (重新办理, supervisor, with a reason)→ triaged

Closing is decided here and nowhere else: ingest asks ``closes_on_arrival`` (the same guard as the
``close`` move from ``triaged``), and every person, command, API call or job that closes a case goes
through ``apply_transition``.  The rules' two duties that closing must not skip:

* every 差评 (rated 不满意 / 非常不满意, whatever the triage says of its text) and every unrated
  complaint on a rectification track is verified (核实), so it can never close straight from triage;
* a real-name one that was adopted (not found 不属实 / 恶意) has its return visit recorded —
  reached (``return_visit``), or ``visit_exception`` after ``max_visit_attempts`` unreached calls,
  with the reason — before it closes (实名差评回访率 100%).

Inquiries (咨询) and suggestions (建议) need a person's answer; only praise, spam and empty items
close on arrival.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from channels.ratings import Rating
from gateway.core.db.models import Case, CaseEvent
from gateway.core.db.models_phone import ReturnVisit
from gateway.core.domain import CaseStatus, Category
from gateway.core.labels import ACTION_LABELS

S = CaseStatus


class WorkflowError(ValueError):
    """A move the workflow does not allow from the case's current state."""


ANSWERED_REASONS = frozenset({"inquiry", "suggestion"})
NOT_ADOPTED = frozenset({"not_valid", "malicious"})


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the guards need to know about a case beyond its state."""

    status: CaseStatus
    category: Category | None = None
    rating: Rating | None = None
    real_name: bool = False
    reason: str | None = None
    verdict: str | None = None
    failed_visits: int = 0
    max_visit_attempts: int = 3

    @property
    def is_bad(self) -> bool:
        """差评: rated 不满意 or 非常不满意 (the rules' two lowest levels)."""
        return self.rating is not None and self.rating.is_bad

    @property
    def is_complaint(self) -> bool:
        """An unrated item that triage put on a rectification track (handled like a 差评)."""
        return self.rating is None and self.category not in (None, Category.NONE)

    @property
    def needs_verification(self) -> bool:
        """Verified (核实) before anything else: every 差评, and anything on a rectification track."""
        return self.is_bad or self.category not in (None, Category.NONE)

    @property
    def needs_answer(self) -> bool:
        """An inquiry or a suggestion that is no 差评: a person answers it, no verification."""
        return not self.needs_verification and self.reason in ANSWERED_REASONS

    @property
    def needs_return_visit(self) -> bool:
        """The seed requires a return visit for every real-name 差评 (实名差评回访率 100%); an unrated
        complaint is handled as one.  A verdict of 不属实 / 恶意 takes it out (不予采纳)."""
        return self.real_name and (self.is_bad or self.is_complaint) and self.verdict not in NOT_ADOPTED


_INSERT_EVENT = insert(CaseEvent.__table__)  # Core: no ORM bookkeeping for append-only rows
Guard = Callable[[CaseFacts], str | None]


def _closes_unattended(facts: CaseFacts) -> str | None:
    if facts.needs_verification:
        return "差评或投诉须先核实，才能办结（不论自动分类如何）"
    if facts.needs_answer:
        return "咨询或建议须先答复，才能办结"
    return None


def _needs_verification(facts: CaseFacts) -> str | None:
    if not facts.needs_verification:
        return "只有差评或需整改的投诉才需要核实"
    return None


def _answers_question(facts: CaseFacts) -> str | None:
    if not facts.needs_answer:
        return "只有咨询或建议可以在分类后直接答复"
    return None


def _return_visit_done(facts: CaseFacts) -> str | None:
    if facts.needs_return_visit:
        return "实名差评须先登记回访，才能办结"
    return None


def _visit_attempts_exhausted(facts: CaseFacts) -> str | None:
    if facts.failed_visits < facts.max_visit_attempts:
        return (f"回访 {facts.max_visit_attempts} 次未接通后才能登记回访未果"
                f"（目前 {facts.failed_visits} 次）")
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
    Transition("start_verification", frozenset({S.TRIAGED}), S.VERIFYING, "开始核实", _needs_verification),
    Transition("send_back", frozenset({S.TRIAGED, S.VERIFYING}), S.NEEDS_REVIEW, "退回分拣", note_required=True),
    Transition("verify_valid", frozenset({S.VERIFYING}), S.VALID, "核实属实", note_required=True),
    Transition("verify_not_valid", frozenset({S.VERIFYING}), S.NOT_VALID, "核实不属实", note_required=True),
    Transition("verify_malicious", frozenset({S.VERIFYING}), S.MALICIOUS, "认定恶意评价", note_required=True),
    Transition("rectify", frozenset({S.VALID}), S.RECTIFYING, "开始整改"),
    Transition("reply", frozenset({S.RECTIFYING}), S.REPLIED, "答复群众", note_required=True),
    Transition("reply", frozenset({S.NOT_VALID, S.MALICIOUS}), S.REPLIED, "告知核实结果", note_required=True),
    Transition("reply", frozenset({S.TRIAGED}), S.REPLIED, "答复咨询或建议", _answers_question, note_required=True),
    Transition("return_visit", frozenset({S.REPLIED}), S.RETURN_VISITED, "记录回访", note_required=True),
    Transition("visit_exception", frozenset({S.REPLIED}), S.RETURN_VISITED, "回访未果（说明原因）",
               _visit_attempts_exhausted, note_required=True),
    Transition("reopen", frozenset({S.REPLIED, S.RETURN_VISITED}), S.RECTIFYING, "重新整改", note_required=True),
    Transition("reopen_closed", frozenset({S.CLOSED}), S.TRIAGED, "重新办理", note_required=True),
    Transition("close", frozenset({S.TRIAGED}), S.CLOSED, "无需整改办结", _closes_unattended),
    Transition("close", frozenset({S.REPLIED}), S.CLOSED, "办结", _return_visit_done),
    Transition("close", frozenset({S.RETURN_VISITED, S.NOT_VALID, S.MALICIOUS}), S.CLOSED, "办结"),
)

ACTIONS: frozenset[str] = frozenset(t.action for t in TRANSITIONS)
VERDICTS = {"verify_valid": "valid", "verify_not_valid": "not_valid", "verify_malicious": "malicious"}


def _action_word(action: str) -> str:
    """The Chinese word of an action, for refusals staff read."""
    return ACTION_LABELS.get(action) or next((t.label for t in TRANSITIONS if t.action == action), action)


def plan(facts: CaseFacts, action: str, note: str | None = None) -> Transition:
    """The transition ``action`` takes from ``facts.status``, or ``WorkflowError`` saying why not."""
    if action not in ACTIONS:
        raise WorkflowError(f"未知的操作 {action!r}；可用的操作：{', '.join(sorted(ACTIONS))}")
    candidates = [t for t in TRANSITIONS if t.action == action and facts.status in t.sources]
    if not candidates:
        allowed = sorted({t.label for t in TRANSITIONS if facts.status in t.sources})
        raise WorkflowError(
            f"案件当前状态为“{facts.status.label}”，不能{_action_word(action)}；"
            f"现在可以：{'、'.join(allowed) or '无'}"
        )
    refusals = []
    for transition in candidates:
        refusal = transition.guard(facts) if transition.guard else None
        if refusal is None:
            if transition.note_required and not (note and note.strip()):
                raise WorkflowError(f"“{transition.label}”需要填写说明")
            return transition
        refusals.append(refusal)
    raise WorkflowError(f"不能{_action_word(action)}：{'；'.join(refusals)}")


def allowed_actions(facts: CaseFacts) -> list[Transition]:
    """Every move the case can make now, for the console's buttons."""
    result = []
    for transition in TRANSITIONS:
        if facts.status in transition.sources and (transition.guard is None or transition.guard(facts) is None):
            result.append(transition)
    return result


def closes_on_arrival(facts: CaseFacts) -> bool:
    """Whether a newly triaged item closes without a person (praise, spam, empty): the guard of
    the ``close`` move from ``triaged``, so ingest and the console can never disagree."""
    return _closes_unattended(replace(facts, status=S.TRIAGED)) is None


def facts_of(case: Case, *, failed_visits: int = 0, max_visit_attempts: int = 3) -> CaseFacts:
    return CaseFacts(
        status=CaseStatus(case.status),
        category=Category(case.category) if case.category else None,
        rating=Rating(case.rating) if case.rating else None,
        real_name=case.real_name,
        reason=case.reason,
        verdict=case.verdict,
        failed_visits=failed_visits,
        max_visit_attempts=max_visit_attempts,
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _failed_visits(session: AsyncSession, case_id: int) -> int:
    """Unreached return-visit calls on the case (the phone feature's ``return_visits`` rows)."""
    return int((await session.execute(
        select(func.count()).select_from(ReturnVisit).where(
            ReturnVisit.case_id == case_id, ReturnVisit.reached.is_(False)))).scalar_one())


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
    max_visit_attempts: int = 3,
) -> Case:
    """Perform ``action`` on the case inside the caller's transaction, or raise ``WorkflowError``.

    Every answer (``reply``) records the first response if none was recorded: whichever way a case
    is answered (console, ``hcp cases move``, a job), its first-response clock stops."""
    case = (await session.execute(select(Case).where(Case.id == case_id).with_for_update())).scalar_one_or_none()
    if case is None:
        raise WorkflowError(f"no case with id {case_id}")
    failed = await _failed_visits(session, case.id) if action == "visit_exception" else 0
    transition = plan(facts_of(case, failed_visits=failed, max_visit_attempts=max_visit_attempts), action, note)
    now = now or datetime.now(UTC)
    previous = case.status
    case.status = transition.target.value
    case.updated_at = now
    if action in VERDICTS:
        case.verdict = VERDICTS[action]
    if transition.target is S.CLOSED:
        case.closed_at = now
    if action == "reopen_closed":  # 重新办理: handled again from the start, one case all the same
        data = {**(data or {}), "previous": {"closed_at": _iso(case.closed_at), "result_at": _iso(case.result_at),
                                             "first_responded_at": _iso(case.first_responded_at)}}
        case.closed_at = case.result_at = case.first_responded_at = None
        case.reopened_at, case.reopen_count = now, (case.reopen_count or 0) + 1
    if action == "reply":
        if case.first_responded_at is None:
            case.first_responded_at = now
        if case.result_at is None and previous == S.RECTIFYING.value:
            case.result_at = now
    await session.run_sync(add_events, case.id, now, [
        EventSpec(kind=action, actor=actor, from_status=previous, to_status=case.status, note=note, data=data or {})
    ])
    return case
