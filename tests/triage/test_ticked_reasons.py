"""The citizen's ticked reasons and the decision: a decision below what they ticked goes to a person."""

from __future__ import annotations

import pytest

from triage import Triager


@pytest.fixture(scope="module")
def triager() -> Triager:
    return Triager.from_rules_file(None)


def test_a_ticked_problem_that_outranks_the_decision_sends_it_to_review(triager: Triager) -> None:
    # 部门推诿 ticked (协调整改) but the words read as a plain attitude problem (立整立改)
    text = "窗口没人，离岗"
    plain = triager.classify(text, channel="paper", rating="very_dissatisfied")
    assert plain.label == "immediate" and not plain.needs_review
    ticked = triager.classify(text, channel="paper", rating="very_dissatisfied", reasons=["coordination"])
    assert ticked.label == "immediate" and ticked.needs_review


def test_thanks_with_a_ticked_complaint_is_not_closed_as_praise_unseen(triager: Triager) -> None:
    result = triager.classify("谢谢", channel="paper", rating="very_dissatisfied", reasons=["attitude"])
    assert result.needs_review


def test_a_decision_of_higher_precedence_than_the_tick_stands(triager: Triager) -> None:
    # absent staff (立整立改) and half an hour's wait (限时整改): the rubric's precedence picks 限时整改
    result = triager.classify("工作人员离岗，等了半小时没人", channel="paper", rating="very_dissatisfied",
                              reasons=["attitude"])
    assert result.label == "time_limited" and not result.needs_review
