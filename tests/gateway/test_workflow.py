"""Every legal and every illegal (state, action) pair of the case workflow."""

from __future__ import annotations

import itertools

import pytest

from channels.ratings import Rating
from gateway.core.domain import CaseStatus, Category
from gateway.core.workflow import ACTIONS, CaseFacts, WorkflowError, allowed_actions, plan

S = CaseStatus
# The expected machine, written out independently of gateway.core.workflow.TRANSITIONS.
LEGAL = {
    (S.RECEIVED, "triage"): S.TRIAGED,
    (S.RECEIVED, "flag_for_review"): S.NEEDS_REVIEW,
    (S.TRIAGED, "flag_for_review"): S.NEEDS_REVIEW,
    (S.NEEDS_REVIEW, "review"): S.TRIAGED,
    (S.TRIAGED, "start_verification"): S.VERIFYING,
    (S.VERIFYING, "verify_valid"): S.VALID,
    (S.VERIFYING, "verify_not_valid"): S.NOT_VALID,
    (S.VERIFYING, "verify_malicious"): S.MALICIOUS,
    (S.VALID, "rectify"): S.RECTIFYING,
    (S.RECTIFYING, "reply"): S.REPLIED,
    (S.NOT_VALID, "reply"): S.REPLIED,
    (S.TRIAGED, "send_back"): S.NEEDS_REVIEW,
    (S.VERIFYING, "send_back"): S.NEEDS_REVIEW,
    (S.REPLIED, "return_visit"): S.RETURN_VISITED,
    (S.REPLIED, "reopen"): S.RECTIFYING,
    (S.RETURN_VISITED, "reopen"): S.RECTIFYING,
    (S.REPLIED, "close"): S.CLOSED,
    (S.RETURN_VISITED, "close"): S.CLOSED,
    (S.NOT_VALID, "close"): S.CLOSED,
    (S.MALICIOUS, "close"): S.CLOSED,
}
NOTE = "核实情况说明"


def facts(status: CaseStatus, category: Category = Category.IMMEDIATE, **kw: object) -> CaseFacts:
    return CaseFacts(status=status, category=category, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "action"), list(LEGAL))
def test_legal_moves(status: CaseStatus, action: str) -> None:
    assert plan(facts(status), action, NOTE).target is LEGAL[(status, action)]


ILLEGAL = [(s, a) for s, a in itertools.product(CaseStatus, sorted(ACTIONS)) if (s, a) not in LEGAL
           and not (s is S.TRIAGED and a == "close")]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_illegal_moves_are_refused_with_the_reason(status: CaseStatus, action: str) -> None:
    with pytest.raises(WorkflowError, match=f"cannot {action} a case that is {status.value}"):
        plan(facts(status), action, NOTE)


def test_only_a_no_rectification_item_closes_straight_after_triage() -> None:
    assert plan(facts(S.TRIAGED, Category.NONE), "close").target is S.CLOSED
    with pytest.raises(WorkflowError, match="only items that need no rectification"):
        plan(facts(S.TRIAGED, Category.TIME_LIMITED), "close")
    with pytest.raises(WorkflowError, match="closed, not verified"):
        plan(facts(S.TRIAGED, Category.NONE), "start_verification")


def test_a_real_name_bad_review_needs_its_return_visit_before_closing() -> None:
    real_bad = facts(S.REPLIED, rating=Rating.VERY_DISSATISFIED, real_name=True)
    with pytest.raises(WorkflowError, match="return visit"):
        plan(real_bad, "close")
    assert plan(facts(S.REPLIED, rating=Rating.VERY_DISSATISFIED, real_name=False), "close").target is S.CLOSED
    assert plan(facts(S.REPLIED, rating=Rating.SATISFIED, real_name=True), "close").target is S.CLOSED
    assert plan(facts(S.RETURN_VISITED, rating=Rating.VERY_DISSATISFIED, real_name=True), "close").target is S.CLOSED


@pytest.mark.parametrize("action", ["verify_valid", "verify_not_valid", "verify_malicious", "reply",
                                    "return_visit", "reopen"])
def test_verdicts_replies_and_visits_need_a_note(action: str) -> None:
    source = next(s for (s, a) in LEGAL if a == action)
    with pytest.raises(WorkflowError, match="needs a note"):
        plan(facts(source), action, "  ")


def test_unknown_action() -> None:
    with pytest.raises(WorkflowError, match="unknown action 'approve'"):
        plan(facts(S.TRIAGED), "approve")


def test_allowed_actions_lists_what_the_console_can_offer() -> None:
    assert {t.action for t in allowed_actions(facts(S.VERIFYING))} == {
        "verify_valid", "verify_not_valid", "verify_malicious", "send_back"}
    assert {t.action for t in allowed_actions(facts(S.TRIAGED, Category.NONE))} == {
        "flag_for_review", "close", "send_back"}
    assert allowed_actions(facts(S.CLOSED)) == []
