"""``hcp web link`` prints the links the form accepts, and refuses halls and windows it does not know."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from channels.web.links import verify_link
from gateway.cli import main
from gateway.core.settings import Settings


def run(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    env = {"HCP_DATA_DIR": str(tmp_path / "var"), "HCP_PUBLIC_URL": "https://hcp.example.gov.cn/",
           "HCP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hcp.db'}"}
    runner = CliRunner(env=env)
    if not (tmp_path / "hcp.db").exists():
        assert runner.invoke(main, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    return runner.invoke(main, ["web", "link", *args], catch_exceptions=False)


def test_links_of_one_window_and_of_a_whole_hall(tmp_path: Path) -> None:
    one = run(tmp_path, "--hall", "jintun", "--window", "w02")
    assert one.exit_code == 0, one.output
    url = one.stdout.strip()
    assert url.startswith("https://hcp.example.gov.cn/w/jintun/w02/")
    key = Settings(data_dir=tmp_path / "var").signing_key()
    assert verify_link(key, "jintun", "w02", url.rsplit("/", 1)[1])
    every = run(tmp_path, "--hall", "jintun", "--json")
    rows = json.loads(every.stdout)
    assert [row["window"] for row in rows] == ["w01", "w02", "w03", "w04", "zc", None]
    assert rows[1]["url"] == url and rows[1]["name"] == "金屯镇 社保医保窗口"
    assert rows[-1]["url"] == "https://hcp.example.gov.cn/f?hall=jintun&src=box"
    text = run(tmp_path, "--hall", "jintun")
    assert text.exit_code == 0 and f"w02    {url}  金屯镇 社保医保窗口" in text.output


def test_unknown_halls_and_windows_fail_with_the_known_ones(tmp_path: Path) -> None:
    hall = run(tmp_path, "--hall", "atlantis")
    assert hall.exit_code == 1 and "unknown or inactive hall 'atlantis'" in hall.output and "jintun" in hall.output
    window = run(tmp_path, "--hall", "jintun", "--window", "w99")
    assert window.exit_code == 1 and "has no active window 'w99'; its windows: w01, w02" in window.output
    assert run(tmp_path).exit_code == 2
