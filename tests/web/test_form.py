"""The form's fields, checked without a server: every fault named in Chinese, typed text kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.web.form import NO_HALL, TEXT_MAX, FormError, build_intake, read_values

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
HALLS = {"jintun": "金屯镇", "macun": "马村镇"}


def posted(**fields: str | list[str]) -> dict[str, list[str]]:
    return {name: value if isinstance(value, list) else [value] for name, value in fields.items()}


def window(**fields: str | list[str]):  # type: ignore[no-untyped-def]
    return build_intake(read_values(posted(**fields)), source_ref="tok", received_at=NOW, hall="jintun",
                        window="w01")


def problems(**fields: str | list[str]) -> dict[str, str]:
    with pytest.raises(FormError) as caught:
        window(**fields)
    return caught.value.problems


def test_a_bad_rating_with_reasons_text_and_contact_becomes_an_intake() -> None:
    intake = window(rating="very_dissatisfied", reason=["attitude", "repeat_trips", "attitude"],
                    text="  窗口\r\n没人\x00  ", name="王小明", phone="138 1234 5678", reply="sms", consent="1")
    assert intake.channel == "web" and intake.source_ref == "tok" and intake.received_at == NOW
    assert intake.rating is not None and intake.rating.label == "非常不满意"
    assert intake.reasons == ("attitude", "repeat_trips")
    assert intake.text == "窗口\n没人"
    assert (intake.hall, intake.window) == ("jintun", "w01")
    assert intake.contact.name == "王小明" and intake.contact.phone == "13812345678"
    assert intake.contact.real_name and intake.contact.preferred_channel == "sms"
    assert intake.extra == {"form": "window", "entry": "web", "item": "unspecified"}


def test_anonymous_text_only_is_fine_and_reasons_are_dropped_for_a_good_rating() -> None:
    assert window(text="建议增加座椅").contact.is_empty
    intake = window(rating="satisfied", reason=["attitude"], text="")
    assert intake.reasons == () and intake.rating is not None and intake.rating.value == "satisfied"


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({}, "rating", "请选择满意程度"),
    ({"rating": "great"}, "rating", "五个选项"),
    ({"rating": "dissatisfied"}, "reason", "请勾选不满意的原因"),
    ({"rating": "dissatisfied", "reason": "bribery"}, "reason", "列出的选项"),
    ({"rating": "dissatisfied", "reason": ["attitude"] * 11}, "reason", "列出的选项"),
    ({"text": "字" * (TEXT_MAX + 1)}, "text", f"现在是 {TEXT_MAX + 1} 字"),
    ({"text": "x", "name": "王" * 31, "consent": "1"}, "name", "最多 30 个字"),
    ({"text": "x", "phone": "12345", "consent": "1"}, "phone", "11 位手机号码"),
    ({"text": "x", "phone": "1381234567a", "consent": "1"}, "phone", "11 位手机号码"),
    ({"text": "x", "phone": "4008123123", "consent": "1"}, "phone", "11 位手机号码"),
    ({"text": "x", "phone": "1" * 40, "consent": "1"}, "phone", "11 位手机号码"),
    ({"text": "x", "phone": "13812345678"}, "consent", "需要勾选同意"),
    ({"text": "x", "name": "王小明"}, "consent", "需要勾选同意"),
    ({"text": "x", "phone": "0537-6851890", "reply": "sms", "consent": "1"}, "reply", "短信答复需要手机号码"),
    ({"text": "x", "reply": "pigeon"}, "reply", "电话或短信"),
])
def test_each_fault_is_named_in_chinese(fields: dict, field: str, words: str) -> None:
    found = problems(**fields)
    assert words in found[field], found


def test_several_faults_are_reported_together() -> None:
    found = problems(rating="bad", text="字" * (TEXT_MAX + 5), phone="abc")
    assert set(found) == {"rating", "text", "phone", "consent"}


def test_typed_values_survive_for_the_re_rendered_page() -> None:
    values = read_values(posted(text="<script>alert(1)</script>", name="王", phone="138", consent="on",
                                rating="dissatisfied", reason=["attitude", "materials"], t="tok"))
    assert values.text == "<script>alert(1)</script>" and values.name == "王" and values.phone == "138"
    assert values.consent and values.rating_is_bad and values.reasons == ("attitude", "materials")
    assert values.token == "tok"


def test_the_general_form_needs_a_known_town_or_the_no_town_choice() -> None:
    def general(**fields: str):  # type: ignore[no-untyped-def]
        return build_intake(read_values(posted(**fields)), source_ref="tok", received_at=NOW, halls=HALLS)

    for hall, words in (("", "请选择您办事的乡镇"), ("atlantis", "从列表中选择")):
        with pytest.raises(FormError) as caught:
            general(text="x", hall=hall)
        assert words in caught.value.problems["hall"]
    assert general(text="x", hall="macun", src="supervision").hall == "macun"
    assert general(text="x", hall="macun", src="supervision").extra == {"form": "general", "entry": "supervision"}
    assert general(text="x", hall=NO_HALL, src="nonsense").hall is None
    assert general(text="x", hall=NO_HALL, src="nonsense").extra["entry"] == "web"
