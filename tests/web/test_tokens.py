"""One-time form tokens: bound to the form and the browser, checked by one HMAC, refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels.web.tokens import (
    TokenError,
    TokenProblem,
    derive_key,
    issue_token,
    new_client_id,
    status_pin,
    valid_client_id,
    verify_token,
)

KEY = derive_key(b"k" * 32)
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
CLIENT = new_client_id()


def verify(token: str | None, *, scope: str = "w:jintun:w01", client: str | None = CLIENT,
           now: datetime = NOW, key: bytes = KEY):  # type: ignore[no-untyped-def]
    return verify_token(key, token, scope=scope, client=client, now=now, max_age=DAY)


def refused(token: str | None, **kwargs) -> TokenProblem:  # type: ignore[no-untyped-def]
    with pytest.raises(TokenError) as caught:
        verify(token, **kwargs)
    return caught.value.problem


def test_a_fresh_token_verifies_and_is_unique() -> None:
    token = issue_token(KEY, scope="w:jintun:w01", client=CLIENT, now=NOW)
    checked = verify(token)
    assert checked.value == token and checked.issued_at == NOW and not checked.expired
    assert len(token) <= 64 and token != issue_token(KEY, scope="w:jintun:w01", client=CLIENT, now=NOW)


def test_a_token_is_bound_to_its_form_its_browser_and_the_key() -> None:
    token = issue_token(KEY, scope="w:jintun:w01", client=CLIENT, now=NOW)
    assert refused(token, scope="w:jintun:w02") is TokenProblem.FORGED
    assert refused(token, scope="f") is TokenProblem.FORGED
    assert refused(token, client=new_client_id()) is TokenProblem.FORGED
    assert refused(token, key=derive_key(b"x" * 32)) is TokenProblem.FORGED
    assert refused(token, client=None) is TokenProblem.NO_CLIENT
    assert refused(token, client="short") is TokenProblem.NO_CLIENT


def test_edited_missing_and_malformed_tokens_are_refused() -> None:
    token = issue_token(KEY, scope="f", client=CLIENT, now=NOW)
    flipped = token[:-1] + ("a" if token[-1] != "a" else "b")
    assert refused(flipped, scope="f") is TokenProblem.FORGED
    later = "1" + format(int(NOW.timestamp()) + 5, "x") + token[token.index("."):]
    assert refused(later, scope="f") is TokenProblem.FORGED  # the issue time is under the MAC too
    assert refused(None) is TokenProblem.MISSING
    assert refused("") is TokenProblem.MISSING
    assert refused("<script>") is TokenProblem.MALFORMED
    assert refused(token + "x" * 80, scope="f") is TokenProblem.MALFORMED


def test_old_tokens_come_back_marked_expired_and_future_ones_are_forged() -> None:
    token = issue_token(KEY, scope="f", client=CLIENT, now=NOW - DAY - timedelta(seconds=1))
    assert verify(token, scope="f").expired
    assert not verify(issue_token(KEY, scope="f", client=CLIENT, now=NOW - DAY + timedelta(minutes=1)),
                      scope="f").expired
    future = issue_token(KEY, scope="f", client=CLIENT, now=NOW + timedelta(hours=1))
    assert refused(future, scope="f") is TokenProblem.FORGED


def test_client_ids_and_status_pins() -> None:
    assert valid_client_id(new_client_id()) and not valid_client_id("a b") and not valid_client_id(None)
    pin = status_pin(b"k" * 32, "JX20261128-0007")
    assert len(pin) == 4 and pin.isdigit()
    assert pin == status_pin(b"k" * 32, "jx20261128-0007")
    pins = {status_pin(b"k" * 32, f"JX20261128-{n:04d}") for n in range(200)}
    assert len(pins) > 150, "pins spread over the 10,000 values"
    assert status_pin(b"y" * 32, "JX20261128-0007") != pin or status_pin(b"z" * 32, "JX20261128-0007") != pin
