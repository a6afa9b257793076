"""Slip codes: signatures catch forged or altered codes, payloads parse back, QR codes are never Micro QR."""

from __future__ import annotations

import pytest

from channels.paper.codes import (
    QR_SIZE_MM,
    SlipCodeError,
    format_serial,
    make_qr,
    parse_payload,
    parse_serial,
    poster_qr,
    poster_url,
    sign_slip,
    slip_qr,
    verify,
)
from channels.web.links import verify_link

KEY = b"k" * 32


def test_payload_round_trip_and_signature() -> None:
    code = sign_slip(KEY, "a5", "liangbaosi", "w01", 12345678)
    assert code.payload.startswith("S5:liangbaosi:w01:12345678:")
    parsed = parse_payload(code.payload)
    assert parsed == code
    assert verify(KEY, parsed)
    assert not verify(b"another key", parsed)
    assert code.serial_text == "12345678"


@pytest.mark.parametrize("change", [
    lambda p: p.replace(":w01:", ":w02:"),
    lambda p: p.replace(":12345:", ":12346:"),
    lambda p: p.replace("S5:", "S6:"),
    lambda p: p.replace(":jintun:", ":huji:"),
])
def test_altered_codes_fail_the_signature(change) -> None:  # type: ignore[no-untyped-def]
    code = sign_slip(KEY, "a5", "jintun", "w01", 12345)
    altered = parse_payload(change(code.payload))
    assert altered is not None and altered != code
    assert not verify(KEY, altered)


def test_hall_only_slip_and_foreign_payloads() -> None:
    code = sign_slip(KEY, "a6", "jintun", None, 7)
    assert code.payload.startswith("S6:jintun::7:")
    assert parse_payload(code.payload) == code
    for foreign in ("https://example.com/w/jintun/w01/abc", "S5:jintun:w01:0:abcdefghij", "S5:Jintun:w01:1:abcdefghij",
                    "S7:jintun:w01:1:abcdefghij", "hello"):
        assert parse_payload(foreign) is None


def test_bad_codes_are_refused() -> None:
    with pytest.raises(SlipCodeError, match="hall code"):
        sign_slip(KEY, "a5", "Bad Hall", "w01", 1)
    with pytest.raises(SlipCodeError, match="serial 0"):
        sign_slip(KEY, "a5", "jintun", "w01", 0)
    with pytest.raises(SlipCodeError, match="slip size"):
        sign_slip(KEY, "a4", "jintun", "w01", 1)


def test_serials_as_staff_type_them() -> None:
    assert format_serial(42) == "00000042"
    for typed in ("42", "00000042", "No.00000042", "  no. 42 ", "编号：00000042"):
        assert parse_serial(typed) == 42
    for bad in ("", "0", "abc", "12a"):
        with pytest.raises(SlipCodeError):
            parse_serial(bad)


def test_codes_are_full_qr_even_for_short_data() -> None:
    assert make_qr("1").is_micro is False
    assert make_qr("1").version >= 3
    qr = slip_qr(sign_slip(KEY, "a5", "liangbaosi", "w01", 99_999_999))
    assert not qr.is_micro and qr.version == 3 and qr.error == "M"
    assert QR_SIZE_MM == 20.0


def test_poster_links_are_the_web_forms_signed_links() -> None:
    url = poster_url("https://hcp.example.cn/", KEY, "jintun", "w01")
    assert url.startswith("https://hcp.example.cn/w/jintun/w01/")
    assert verify_link(KEY, "jintun", "w01", url.rsplit("/", 1)[1])
    assert not poster_qr(url).is_micro
