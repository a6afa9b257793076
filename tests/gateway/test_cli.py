"""The ``hcp`` command, run as a real process against a SQLite database in a temporary directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import upgrade_once

HCP = [sys.executable, "-m", "gateway.cli"]


def hcp(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HCP_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": str(Path(__file__).parents[2])}
    env.pop("HCP_DATABASE_URL", None)
    if args[:2] != ("db", "upgrade"):
        upgrade_once(env, tmp_path)
    return subprocess.run([*HCP, *args], capture_output=True, text=True, env=env, input=stdin, timeout=120,
                          cwd=tmp_path)


INTAKES = [
    {"channel": "web", "source_ref": "tok-1", "received_at": "2026-11-27T22:10:00+08:00",
     "text": "窗口工作人员态度很差，一直玩手机不理人", "rating": "非常不满意", "reasons": ["attitude"],
     "hall": "jintun", "window": "w01",
     "contact": {"name": "王小明", "phone": "13812345678", "real_name": True, "preferred_channel": "sms"}},
    {"channel": "email", "source_ref": "<m1@qq.com>", "received_at": "2026-11-28T09:00:00+08:00",
     "subject": "表扬", "text": "工作人员非常耐心，一次就办好了，谢谢！", "contact": {"email": "Zhang@QQ.com"}},
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli")
    lines = [json.dumps(i, ensure_ascii=False) for i in INTAKES]
    lines += [json.dumps(INTAKES[0], ensure_ascii=False), '{"channel": "fax"}', "not json"]
    (path / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ingest_reports_bad_lines_and_keeps_good_ones(workdir: Path) -> None:
    result = hcp(workdir, "ingest", "in.jsonl")
    assert result.returncode == 1
    assert "2 new cases, 1 already stored, 2 rejected" in result.stdout
    assert "in.jsonl:4: channel: Input should be" in result.stderr
    assert "in.jsonl:5: not JSON" in result.stderr
    again = hcp(workdir, "ingest", "in.jsonl")
    assert "0 new cases, 3 already stored, 2 rejected" in again.stdout


def test_cases_list_and_show_mask_personal_data(workdir: Path) -> None:
    hcp(workdir, "ingest", "in.jsonl")
    listed = json.loads(hcp(workdir, "cases", "list", "--json").stdout)
    by_ref = {row["source_ref"]: row for row in listed}
    web = by_ref["tok-1"]
    assert web["code"] == "JX20261127-0001" and web["channel"] == "web"
    assert web["category"] == "immediate" and web["reason"] == "attitude"
    assert web["rating"] == "very_dissatisfied" and web["reasons"] == ["attitude"]
    assert web["contact"]["phone"] == "138****5678" and web["contact"]["name"] == "王**"
    assert web["deadlines"]["first_response_due"] == "2026-11-30T01:30:00+00:00", "Friday night → Monday 09:30"
    praise = by_ref["<m1@qq.com>"]
    assert praise["category"] == "none" and praise["status"] == "closed"
    assert praise["contact"]["email"] == "z***@qq.com"
    shown = hcp(workdir, "cases", "show", "JX20261127-0001", "--json")
    case = json.loads(shown.stdout)
    assert [e["kind"] for e in case["events"]][:2] == ["received", "triage"]
    assert "13812345678" not in shown.stdout and "王小明" not in shown.stdout
    missing = hcp(workdir, "cases", "show", "JX20000101-0001")
    assert missing.returncode == 1 and "no case with tracking code 'JX20000101-0001'" in missing.stderr


def test_workflow_moves_from_the_command_line(workdir: Path) -> None:
    hcp(workdir, "ingest", "in.jsonl")
    code = "JX20261127-0001"
    bad = hcp(workdir, "cases", "move", code, "close")
    assert bad.returncode == 1 and "须先核实，才能办结" in bad.stderr
    assert hcp(workdir, "cases", "move", code, "start_verification").stdout.strip() == f"{code}: verifying"
    no_note = hcp(workdir, "cases", "move", code, "verify_valid")
    assert no_note.returncode == 1 and "需要填写说明" in no_note.stderr


def test_reclassify_needs_a_reason_of_the_chosen_category(tmp_path: Path) -> None:
    """``hcp cases reclassify CODE LABEL`` used to store a correction without a reason: the rule of
    the /triage page (a reason of that category, chosen by a person) now holds here too."""
    (tmp_path / "in.jsonl").write_text(json.dumps(INTAKES[0], ensure_ascii=False) + "\n", encoding="utf-8")
    assert hcp(tmp_path, "ingest", "in.jsonl").returncode == 0
    code = "JX20261127-0001"
    allowed = "procedure（办事流程）、steps（办理环节）、efficiency（办事效率）"
    missing = hcp(tmp_path, "cases", "reclassify", code, "time_limited")
    assert missing.returncode == 1, missing.stdout
    assert f"请为“限时整改”选择原因：{allowed}。案件的分类没有改动。" in missing.stderr
    wrong = hcp(tmp_path, "cases", "reclassify", code, "time_limited", "attitude")
    assert wrong.returncode == 1
    assert f"原因“attitude（服务态度）”不属于“限时整改”，请从该类别的原因中选择：{allowed}" in wrong.stderr
    unknown = hcp(tmp_path, "cases", "reclassify", code, "none", "praised")
    assert unknown.returncode == 1 and "原因“praised”不属于“无需整改”" in unknown.stderr
    assert "praise（表扬）、inquiry（咨询）、suggestion（建议）、spam（无效信息）" in unknown.stderr
    case = json.loads(hcp(tmp_path, "cases", "show", code, "--json").stdout)
    assert (case["category"], case["reason"]) == ("immediate", "attitude")
    assert "reclassify" not in [event["kind"] for event in case["events"]], "nothing was stored"
    done = hcp(tmp_path, "cases", "reclassify", code, "time_limited", "procedure")
    assert done.returncode == 0, done.stderr
    case = json.loads(hcp(tmp_path, "cases", "show", code, "--json").stdout)
    assert (case["category"], case["reason"]) == ("time_limited", "procedure")
    usage = " ".join(hcp(tmp_path, "cases", "reclassify", "--help").stdout.split())  # as wrapped for a terminal
    assert "time_limited: procedure, steps, efficiency" in usage and "[REASON]" not in usage


def test_halls_list_and_import(workdir: Path) -> None:
    listed = hcp(workdir, "halls", "list", "--json")
    halls = json.loads(listed.stdout)
    assert len(halls) == 13
    assert "warning: 13 active hall(s) have no 12-digit region_code" in listed.stderr, "no code is shipped unchecked"
    assert {h["name"] for h in halls} >= {"嘉祥街道", "梁宝寺镇", "马村镇"}
    (workdir / "more.toml").write_text(
        '[[halls]]\ncode = "macun"\nname = "马村镇"\nkind = "town"\n'
        'windows = [{ code = "w09", name = "新窗口" }]\n', encoding="utf-8")
    out = hcp(workdir, "halls", "import", "more.toml")
    assert "halls: 0 added, 0 updated; windows: 1 added" in out.stdout
    assert "windows: 0 added" in hcp(workdir, "halls", "import", "more.toml").stdout
    (workdir / "bad.toml").write_text('[[halls]]\ncode = "马村"\nname = ""\n\n[[halls]]\ncode = "cun01"\n'
                                      'name = "某社区便民服务点"\nkind = "community"\n', encoding="utf-8")
    bad = hcp(workdir, "halls", "import", "bad.toml")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "bad.toml:2: halls[0] (马村).code: must be 1-32 letters, digits" in bad.stderr
    assert "bad.toml:3: halls[0] (马村).name: must not be empty" in bad.stderr
    assert "bad.toml:5: halls[1] (cun01): a community service point needs `town" in bad.stderr
    assert "no such file" in hcp(workdir, "halls", "import", "nope.toml").stderr
    (workdir / "codes.toml").write_text('[[halls]]\ncode = "macun"\nname = "马村镇"\nregion_code = "370829000000"\n',
                                        encoding="utf-8")
    hcp(workdir, "halls", "import", "codes.toml")
    assert "warning: 12 active hall(s)" in hcp(workdir, "halls", "list").stderr


def test_calendar_overrides(workdir: Path) -> None:
    assert "assumed from the weekday" in hcp(workdir, "calendar", "check", "2027-01-01").stdout
    assert hcp(workdir, "calendar", "set", "2027-01-01", "--holiday", "--note", "元旦").returncode == 0
    assert hcp(workdir, "calendar", "check", "2027-01-01").stdout.strip() == "2027-01-01: day off"
    assert "元旦" in hcp(workdir, "calendar", "list").stdout
    bad = hcp(workdir, "calendar", "set", "2027-13-01", "--workday")
    assert bad.returncode == 2 and "is not a date" in bad.stderr
    assert hcp(workdir, "calendar", "unset", "2027-01-01").returncode == 0
    assert hcp(workdir, "calendar", "unset", "2027-01-01").returncode == 1


def test_config_hides_secrets(tmp_path: Path) -> None:
    env_secret = "super-secret-value-123"
    os.environ["HCP_SMTP_PASSWORD"] = env_secret
    try:
        out = hcp(tmp_path, "config")
    finally:
        del os.environ["HCP_SMTP_PASSWORD"]
    assert out.returncode == 0 and env_secret not in out.stdout
    assert json.loads(out.stdout)["smtp_password"] == "***"


def test_a_bad_setting_is_a_clear_error(tmp_path: Path) -> None:
    os.environ["HCP_OFFICE_HOURS"] = "9-5"
    try:
        out = hcp(tmp_path, "config")
    finally:
        del os.environ["HCP_OFFICE_HOURS"]
    assert out.returncode == 1 and "HCP_OFFICE_HOURS" in out.stderr and "HH:MM-HH:MM" in out.stderr


def test_triage_is_mounted(workdir: Path) -> None:
    assert "check-rules" in hcp(workdir, "triage", "--help").stdout


def test_cases_show_prints_shanghai_times_and_words(workdir: Path) -> None:
    hcp(workdir, "ingest", "in.jsonl")
    shown = hcp(workdir, "cases", "show", "JX20261127-0001")
    assert shown.returncode == 0, shown.stderr
    # received 2026-11-27T22:10+08:00 is 14:10 UTC; staff read Beijing time.
    assert "受理 2026-11-27 22:10" in shown.stdout and "14:10" not in shown.stdout
    assert "群众（找茬窗口）" in shown.stdout and "citizen:web" not in shown.stdout
    assert "系统自动分类" in shown.stdout and "system:triage" not in shown.stdout


def _bare(cwd: Path, data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HCP_DATA_DIR": str(data_dir), "PYTHONPATH": str(Path(__file__).parents[2]), **extra}
    for name in ("HCP_DATABASE_URL", "HCP_CONFIG", "HCP_PUBLIC_URL"):
        if name not in extra:
            env.pop(name, None)
    return subprocess.run([*HCP, *args], capture_output=True, text=True, env=env, timeout=120, cwd=cwd)


def test_no_command_but_db_upgrade_creates_a_database_or_keys(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for args in (("outbox", "list"), ("halls", "list"),
                 ("slips", "print", "--hall", "jintun", "--count", "1", "-o", "s.pdf")):
        refused = _bare(tmp_path, data, *args)
        assert refused.returncode == 1 and "找不到数据库" in refused.stderr and "hcp db upgrade" in refused.stderr
    assert not data.exists()
    created = _bare(tmp_path, data, "db", "upgrade")
    assert created.returncode == 0 and "created" in created.stdout
    assert f"数据目录 {data}" in created.stderr
    listed = _bare(tmp_path, data, "halls", "list")
    assert listed.returncode == 0 and "jintun" in listed.stdout
    assert f"数据库 sqlite+aiosqlite:///{data}" in listed.stderr
    # The keys are part of the data: a database without its key files is refused, never re-keyed.
    (data / "secret.key").unlink()
    (data / "data.key").unlink()
    rekeyed = _bare(tmp_path, data, "web", "link", "--hall", "jintun", HCP_PUBLIC_URL="https://hcp.example.cn")
    assert rekeyed.returncode == 1 and ".key 不存在" in rekeyed.stderr
    assert not (data / "secret.key").exists()


def test_configuration_is_found_the_same_way_from_any_folder(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "hcp.toml").write_text('data_dir = "var"\npublic_url = "https://hcp.example.cn"\n', encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "HCP_CONFIG": str(site / "hcp.toml")}
    for name in ("HCP_DATA_DIR", "HCP_DATABASE_URL", "HCP_PUBLIC_URL"):
        env.pop(name, None)
    here = json.loads(subprocess.run([*HCP, "config"], capture_output=True, text=True, env=env, cwd=site).stdout)
    there = json.loads(subprocess.run([*HCP, "config"], capture_output=True, text=True, env=env,
                                      cwd=elsewhere).stdout)
    # data_dir in the file is relative to the file, not to the folder hcp is run from.
    assert here["data_dir"] == there["data_dir"] == str(site / "var")
    env.pop("HCP_CONFIG")
    found = json.loads(subprocess.run([*HCP, "config"], capture_output=True, text=True, env=env, cwd=site).stdout)
    assert found["data_dir"] == str(site / "var") and found["public_url"] == "https://hcp.example.cn"
    default = json.loads(subprocess.run([*HCP, "config"], capture_output=True, text=True,
                                        env={**env, "XDG_DATA_HOME": str(tmp_path / "xdg")}, cwd=elsewhere).stdout)
    assert default["data_dir"] == str(tmp_path / "xdg" / "hcp")


def test_links_and_posters_refuse_without_a_public_url(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _bare(tmp_path, data, "db", "upgrade").returncode == 0
    link = _bare(tmp_path, data, "web", "link", "--hall", "jintun")
    assert link.returncode == 1 and "HCP_PUBLIC_URL 未设置" in link.stderr and "http" not in link.stdout
    poster = _bare(tmp_path, data, "slips", "posters", "--hall", "jintun", "-o", "p.pdf")
    assert poster.returncode == 1 and "HCP_PUBLIC_URL 未设置" in poster.stderr
    assert not (tmp_path / "p.pdf").exists()
