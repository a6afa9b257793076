"""The complaint model: every field's bad value is refused with the field's name and the reason."""

from __future__ import annotations

import hashlib
from datetime import datetime

import pytest

from channels.contact import mask_email, mask_name, mask_phone, normalize_phone
from channels.intake import Attachment, IntakeError
from channels.ratings import REASONS, Rating
from tests.helpers import local, make_intake


def problems_of(**overrides: object) -> dict[str, str]:
    with pytest.raises(IntakeError) as info:
        make_intake(**overrides)
    return info.value.problems


def test_a_valid_intake_is_normalised_and_immutable() -> None:
    intake = make_intake(reasons="attitude, efficiency")
    assert intake.rating is Rating.DISSATISFIED
    assert intake.reasons == ("attitude", "efficiency")
    assert intake.contact.phone == "13812345678"
    with pytest.raises(Exception, match="frozen"):
        intake.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(("overrides", "field", "reason"), [
    ({"channel": "fax"}, "channel", "'web', 'wechat' or 'hotline12345'"),
    ({"source_ref": ""}, "source_ref", "at least 1 character"),
    ({"source_ref": "x" * 256}, "source_ref", "at most 255"),
    ({"source_ref": "a\x00b"}, "source_ref", "control characters"),
    ({"received_at": datetime(2026, 11, 28, 9, 0)}, "received_at", "timezone-aware"),
    ({"received_at": "yesterday"}, "received_at", "valid datetime"),
    ({"subject": "题" * 301}, "subject", "at most 300"),
    ({"text": "字" * 50_001}, "text", "at most 50000"),
    ({"rating": "还行"}, "rating", "unknown rating"),
    ({"reasons": ["rude"]}, "reasons", "unknown reason code(s) rude"),
    ({"hall": "金屯镇"}, "hall", "should match pattern"),
    ({"window": "w 01"}, "window", "should match pattern"),
    ({"service_item": ""}, "service_item", "should match pattern"),
    ({"contact": {"phone": "138-abc"}}, "contact.phone", "characters other than digits"),
    ({"contact": {"phone": "12345678901234"}}, "contact.phone", "neither a mobile"),
    ({"contact": {"email": "not-an-address"}}, "contact.email", "name@domain"),
    ({"contact": {"name": "名" * 51}}, "contact.name", "at most 50"),
    ({"contact": {"preferred_channel": "fax", "phone": "13812345678"}}, "contact.preferred_channel", "'email'"),
    ({"contact": {"preferred_channel": "email"}}, "contact", "no e-mail address"),
    ({"contact": {"preferred_channel": "sms"}}, "contact", "no phone number"),
    ({"contact": {"real_name": True}}, "contact", "no name is given"),
    ({"contact": {"nickname": "x"}}, "contact.nickname", "Extra inputs"),
    ({"attachments": [{"name": "a.txt", "media_type": "text/plain", "size": 5, "content": b"hi"}]},
     "attachments.0", "does not match the content's 2 bytes"),
    ({"attachments": [{"name": "a.txt", "media_type": "text/plain", "size": 2, "content": b"hi",
                       "sha256": "0" * 64}]}, "attachments.0", "sha256 does not match"),
    ({"attachments": [{"name": "a.txt", "media_type": "text/plain", "size": 2}]},
     "attachments.0", "must say why it was rejected"),
    ({"attachments": [{"name": "a", "media_type": "no slash", "size": 1, "rejected": "x"}]},
     "attachments.0.media_type", "should match pattern"),
    ({"raw": {"media_type": "message/rfc822"}}, "raw.content", "Field required"),
    ({"references": [""]}, "references.0", "at least 1 character"),
    ({"unknown_field": 1}, "unknown_field", "Extra inputs are not permitted"),
])
def test_each_bad_field_is_named_with_its_reason(overrides: dict, field: str, reason: str) -> None:
    problems = problems_of(**overrides)
    assert field in problems, problems
    assert reason in problems[field]


def test_reasons_only_go_with_a_bad_rating() -> None:
    problems = problems_of(rating="满意", reasons=["attitude"])
    assert "only with 不满意 or 非常不满意" in problems["intake"]


def test_window_needs_its_hall() -> None:
    assert "window is given without its hall" in problems_of(hall=None)["intake"]


def test_an_empty_item_is_refused() -> None:
    problems = problems_of(text="   ", rating=None, reasons=[], subject=None)
    assert "no text, rating, subject or attachment" in problems["intake"]


def test_a_rating_alone_is_a_valid_evaluation() -> None:
    intake = make_intake(text="", rating="非常满意", reasons=[])
    assert intake.rating is Rating.VERY_SATISFIED and intake.text == ""


def test_ratings_parse_from_code_label_and_score() -> None:
    assert Rating.parse("基本满意") is Rating.BASIC
    assert Rating.parse("very_dissatisfied").is_bad
    assert Rating.parse("5") is Rating.VERY_SATISFIED
    assert [r.score for r in Rating] == [5, 4, 3, 2, 1]
    assert [r.is_bad for r in Rating] == [False, False, False, True, True]


def test_the_reason_table_has_ten_unique_options() -> None:
    assert len(REASONS) == 10
    assert len({r.code for r in REASONS}) == 10
    assert all(r.label and r.source for r in REASONS)


def test_attachment_hash_is_computed_from_content() -> None:
    attachment = Attachment.from_bytes("照片.jpg", "image/jpeg", b"\xff\xd8data")
    assert attachment.size == 6
    assert attachment.sha256 == hashlib.sha256(b"\xff\xd8data").hexdigest()


@pytest.mark.parametrize(("raw", "expected"), [
    ("+86 138 1234 5678", "13812345678"),
    ("0086-13812345678", "13812345678"),
    ("１３８１２３４５６７８", "13812345678"),
    ("(0537) 685-1890", "0537-6851890"),
    ("05376851890", "0537-6851890"),
    ("+86 537 6851890", "0537-6851890"),
    ("6851890", "6851890"),
])
def test_phone_numbers_normalise(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_masking_hides_personal_data() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0537-6851890") == "0537-***1890"
    assert mask_name("王小明") == "王**"
    assert mask_email("wang.xm@163.com") == "w***@163.com"
    assert mask_phone(None) == mask_name("") == ""


def test_received_time_keeps_its_zone() -> None:
    intake = make_intake(received_at="2026-11-28T09:30:00+08:00")
    assert intake.received_at == local(2026, 11, 28, 9, 30)
