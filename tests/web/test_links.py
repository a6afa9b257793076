"""Signed window links: stable, short, and refusing forgeries."""

from __future__ import annotations

import pytest

from channels.web.links import LinkError, verify_link, window_path, window_url

KEY = b"k" * 32


def test_a_link_verifies_and_a_changed_part_does_not() -> None:
    path = window_path(KEY, "jintun", "w01")
    _, _, hall, window, signature = path.split("/")
    assert (hall, window) == ("jintun", "w01") and len(signature) == 13
    assert verify_link(KEY, "jintun", "w01", signature)
    assert not verify_link(KEY, "jintun", "w02", signature)
    assert not verify_link(b"x" * 32, "jintun", "w01", signature)
    assert not verify_link(KEY, "jintun", "w01", signature[:-1] + ("a" if signature[-1] != "a" else "b"))
    assert not verify_link(KEY, "Bad Hall", "w01", signature)


def test_links_are_short_enough_for_a_clean_qr_code() -> None:
    url = window_url("https://hcp.jiaxiang.gov.cn/", KEY, "liangbaosi", "w04")
    assert url.startswith("https://hcp.jiaxiang.gov.cn/w/liangbaosi/w04/") and len(url) < 70


def test_codes_that_cannot_be_in_a_link_are_refused() -> None:
    with pytest.raises(LinkError, match="hall code"):
        window_path(KEY, "../x", "w01")
