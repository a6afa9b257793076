"""Every legal and every illegal (state, action) pair of the case workflow."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    (S.MALICIOUS, "reply"): S.REPLIED,
    (S.CLOSED, "reopen_closed"): S.TRIAGED,
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


# Legal only with the right facts (guards), tested below.
GUARDED = {(S.TRIAGED, "close"), (S.TRIAGED, "reply"), (S.REPLIED, "visit_exception")}
ILLEGAL = [(s, a) for s, a in itertools.product(CaseStatus, sorted(ACTIONS)) if (s, a) not in LEGAL
           and (s, a) not in GUARDED]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_illegal_moves_are_refused_with_the_reason(status: CaseStatus, action: str) -> None:
    with pytest.raises(WorkflowError, match=f"案件当前状态为“{status.label}”"):
        plan(facts(status), action, NOTE)


def test_only_praise_spam_and_empty_items_close_straight_after_triage() -> None:
    for reason in ("praise", "spam", None):
        assert plan(facts(S.TRIAGED, Category.NONE, reason=reason), "close").target is S.CLOSED
        assert plan(facts(S.TRIAGED, Category.NONE, reason=reason, rating=Rating.SATISFIED), "close").target \
            is S.CLOSED
    with pytest.raises(WorkflowError, match="差评或投诉须先核实"):
        plan(facts(S.TRIAGED, Category.TIME_LIMITED), "close")
    with pytest.raises(WorkflowError, match="只有差评或需整改的投诉才需要核实"):
        plan(facts(S.TRIAGED, Category.NONE, reason="praise"), "start_verification")


@pytest.mark.parametrize("rating", [Rating.DISSATISFIED, Rating.VERY_DISSATISFIED])
@pytest.mark.parametrize("reason", ["inquiry", "suggestion", "praise", "spam", None])
def test_every_bad_rating_is_verified_whatever_the_text(rating: Rating, reason: str | None) -> None:
    """Issue 16: 非常不满意 with "请问办残疾证要带什么材料？" was closed on arrival."""
    bad = facts(S.TRIAGED, Category.NONE, rating=rating, reason=reason, real_name=True)
    with pytest.raises(WorkflowError, match="差评或投诉须先核实"):
        plan(bad, "close")
    with pytest.raises(WorkflowError, match="只有咨询或建议"):
        plan(bad, "reply", NOTE)
    assert plan(bad, "start_verification").target is S.VERIFYING


@pytest.mark.parametrize("reason", ["inquiry", "suggestion"])
def test_inquiries_and_suggestions_are_answered_before_they_close(reason: str) -> None:
    question = facts(S.TRIAGED, Category.NONE, reason=reason)
    with pytest.raises(WorkflowError, match="咨询或建议须先答复"):
        plan(question, "close")
    with pytest.raises(WorkflowError, match="需要填写说明"):
        plan(question, "reply", " ")
    assert plan(question, "reply", "材料清单已电话告知").target is S.REPLIED
    assert plan(facts(S.REPLIED, Category.NONE, reason=reason), "close").target is S.CLOSED


def test_an_unrated_real_name_complaint_needs_its_return_visit() -> None:
    """Issue 16: an unrated real-name phone complaint closed from 已答复 without its visit."""
    complaint = facts(S.REPLIED, Category.TIME_LIMITED, real_name=True)
    with pytest.raises(WorkflowError, match="实名差评须先登记回访"):
        plan(complaint, "close")
    assert plan(facts(S.REPLIED, Category.TIME_LIMITED, real_name=False), "close").target is S.CLOSED


def test_a_visit_exception_needs_the_attempts_and_a_reason() -> None:
    waiting = facts(S.REPLIED, rating=Rating.DISSATISFIED, real_name=True, failed_visits=2, max_visit_attempts=3)
    with pytest.raises(WorkflowError, match="回访 3 次未接通后才能登记回访未果"):
        plan(waiting, "visit_exception", "电话停机")
    exhausted = facts(S.REPLIED, rating=Rating.DISSATISFIED, real_name=True, failed_visits=3)
    with pytest.raises(WorkflowError, match="需要填写说明"):
        plan(exhausted, "visit_exception")
    assert plan(exhausted, "visit_exception", "三次未接通，号码已停机").target is S.RETURN_VISITED


@pytest.mark.parametrize("verdict", ["not_valid", "malicious"])
def test_a_rejected_bad_review_can_be_told_and_closes_without_a_visit(verdict: str) -> None:
    told = facts(S(verdict), rating=Rating.VERY_DISSATISFIED, real_name=True, verdict=verdict)
    assert plan(told, "reply", "经核实，情况不属实").target is S.REPLIED
    assert plan(facts(S.REPLIED, rating=Rating.VERY_DISSATISFIED, real_name=True, verdict=verdict),
                "close").target is S.CLOSED


def test_a_real_name_bad_review_needs_its_return_visit_before_closing() -> None:
    real_bad = facts(S.REPLIED, rating=Rating.VERY_DISSATISFIED, real_name=True)
    with pytest.raises(WorkflowError, match="实名差评须先登记回访"):
        plan(real_bad, "close")
    assert plan(facts(S.REPLIED, rating=Rating.VERY_DISSATISFIED, real_name=False), "close").target is S.CLOSED
    assert plan(facts(S.REPLIED, rating=Rating.SATISFIED, real_name=True), "close").target is S.CLOSED
    assert plan(facts(S.RETURN_VISITED, rating=Rating.VERY_DISSATISFIED, real_name=True), "close").target is S.CLOSED


@pytest.mark.parametrize("action", ["verify_valid", "verify_not_valid", "verify_malicious", "reply",
                                    "return_visit", "reopen"])
def test_verdicts_replies_and_visits_need_a_note(action: str) -> None:
    source = next(s for (s, a) in LEGAL if a == action)
    with pytest.raises(WorkflowError, match="需要填写说明"):
        plan(facts(source), action, "  ")


def test_unknown_action() -> None:
    with pytest.raises(WorkflowError, match="未知的操作 'approve'"):
        plan(facts(S.TRIAGED), "approve")


def test_allowed_actions_lists_what_the_console_can_offer() -> None:
    assert {t.action for t in allowed_actions(facts(S.VERIFYING))} == {
        "verify_valid", "verify_not_valid", "verify_malicious", "send_back"}
    assert {t.action for t in allowed_actions(facts(S.TRIAGED, Category.NONE))} == {
        "flag_for_review", "close", "send_back"}
    assert {t.action for t in allowed_actions(facts(S.TRIAGED, Category.NONE, reason="inquiry"))} == {
        "flag_for_review", "reply", "send_back"}
    assert {t.action for t in allowed_actions(facts(S.CLOSED))} == {"reopen_closed"}


# ----- property: random action sequences ---------------------------------------------------------

VERDICT_OF = {"verify_valid": "valid", "verify_not_valid": "not_valid", "verify_malicious": "malicious"}


@settings(max_examples=300, deadline=None)
@given(
    category=st.sampled_from(list(Category)),
    rating=st.none() | st.sampled_from(list(Rating)),
    real_name=st.booleans(),
    reason=st.sampled_from([None, "praise", "spam", "inquiry", "suggestion", "attitude"]),
    steps=st.lists(st.tuples(st.sampled_from(sorted(ACTIONS)), st.integers(0, 4)), max_size=40),
)
def test_random_action_sequences_never_close_a_real_name_bad_review_unvisited(
        category: Category, rating: Rating | None, real_name: bool, reason: str | None,
        steps: list[tuple[str, int]]) -> None:
    """Whatever a person, a command or a job tries, in any order: a real-name 差评 (or unrated
    complaint) that was adopted reaches 办结 only after its return visit (or 回访未果 after the
    attempts), and a 差评 is never closed without a verdict."""
    current = CaseFacts(status=S.TRIAGED, category=category, rating=rating, real_name=real_name, reason=reason)
    visited = verified = False
    for action, failed in steps:
        current = replace(current, failed_visits=failed)
        try:
            target = plan(current, action, NOTE).target
        except WorkflowError:
            continue
        if action in ("return_visit", "visit_exception"):
            visited = True
        if action in ("reopen", "reopen_closed"):
            visited = False
        if action in VERDICT_OF:
            verified = True
            current = replace(current, verdict=VERDICT_OF[action])
        current = replace(current, status=target)
        if target is S.CLOSED:
            if current.needs_return_visit:
                assert visited, f"closed unvisited after {steps}"
            if current.is_bad:
                assert verified, f"a 差评 closed without 核实 after {steps}"
