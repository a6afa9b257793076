"""What an SMS says, per message kind (pure): approved templates with their variables, Twilio's free
text, and an answer that never loses a character — it fits, or it goes as a notice with the link."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.sms.content import TWILIO_MAX, ContentError, build, notice_text

TEMPLATES = {"acknowledgement": "SMS_1", "reply_notice": "SMS_2", "reply": "SMS_3"}
URL = "https://hcp.example.gov.cn/status"
CODE = "JX20261127-0001"


def body_of(answer: str) -> str:
    return f"您好！关于您反映的问题（受理编号 {CODE}），答复如下：\n{answer}\n\n如有疑问请回复或致电服务大厅。"


@given(answer=st.text(min_size=1, max_size=3000).map(str.strip).filter(bool),
       param_max=st.integers(min_value=20, max_value=500))
def test_an_answer_is_sent_whole_or_as_a_notice_never_cut(answer: str, param_max: int) -> None:
    payload = {"tracking_code": CODE, "answer": answer}
    free = build("reply", body_of(answer), payload, templates=None, lookup_url=URL, param_max=param_max,
                 signature="【嘉祥县政务服务】")
    assert len(free.text) <= TWILIO_MAX
    if free.kind == "reply":
        assert answer in free.text and free.text.startswith("【嘉祥县政务服务】")
    else:
        assert free.text == "【嘉祥县政务服务】" + notice_text(CODE, URL)
    templated = build("reply", body_of(answer), payload, templates=TEMPLATES, lookup_url=URL, param_max=param_max)
    if len(answer) <= param_max:
        assert (templated.kind, templated.template, templated.params) == ("reply", "SMS_3",
                                                                          (("code", CODE), ("text", answer)))
    else:
        assert (templated.kind, templated.template, templated.params) == ("reply_notice", "SMS_2", (("code", CODE),))


def test_without_a_reply_template_every_answer_is_a_notice() -> None:
    content = build("reply", body_of("好"), {"tracking_code": CODE, "answer": "好"},
                    templates={k: v for k, v in TEMPLATES.items() if k != "reply"}, lookup_url=URL, param_max=35)
    assert content.kind == "reply_notice" and content.param_map == {"code": CODE}


def test_kinds_without_a_template_or_with_values_too_long_are_refused_not_cut() -> None:
    with pytest.raises(ContentError, match="no template configured for return_visit"):
        build("return_visit", "x", {"tracking_code": CODE}, templates=TEMPLATES, lookup_url=URL, param_max=35)
    with pytest.raises(ContentError, match="variable link of evaluation_request is 40 characters"):
        build("evaluation_request", "x", {"item": "户籍", "days": "7", "url": "https://h.cn/e/" + "a" * 40},
              templates={"evaluation_request": "SMS_5"}, lookup_url=URL, param_max=35)
    with pytest.raises(ContentError, match="variable link of evaluation_request is empty"):
        build("evaluation_request", "x", {"item": "户籍", "days": "7", "url": "https://h.cn/somewhere"},
              templates={"evaluation_request": "SMS_5"}, lookup_url=URL, param_max=35)


def test_a_long_service_name_is_shortened_visibly() -> None:
    item = "不动产登记（抵押权首次登记、变更登记、注销登记）及相关查询打印服务"
    content = build("evaluation_request", "x", {"item": item, "days": "7", "url": "https://h.cn/e/AAAAAAAAAAAAAAAA.abc"},
                    templates={"evaluation_request": "SMS_5"}, lookup_url=URL, param_max=20)
    shortened = content.param_map["item"]
    assert len(shortened) == 20 and shortened.endswith("…") and item.startswith(shortened[:-1])
    assert content.param_map["link"] == "AAAAAAAAAAAAAAAA.abc"
