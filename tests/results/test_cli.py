"""``hcp demo seed`` and ``hcp report xlsx|csv`` as real processes on SQLite."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.helpers import upgrade_once

HCP = [sys.executable, "-m", "gateway.cli"]


def hcp(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HCP_DATA_DIR": str(workdir / "var"), "PYTHONPATH": str(Path(__file__).parents[2])}
    env.pop("HCP_DATABASE_URL", None)
    if args[:2] != ("db", "upgrade"):
        upgrade_once(env, workdir)
    return subprocess.run([*HCP, *args], capture_output=True, text=True, env=env, timeout=300, cwd=workdir)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("demo")
    result = hcp(workdir, "demo", "seed", "--cases", "1500", "--seed", "5", "--until", "2026-11-28", "--days", "90")
    assert result.returncode == 0, result.stderr
    assert "seeded 1500 demo cases" in result.stdout and "from 2026-08-31 to 2026-11-28" in result.stdout
    return workdir


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_demo_data_covers_every_town_channel_category_and_state(seeded: Path) -> None:
    assert hcp(seeded, "report", "csv", "--from", "2026-08-31", "--to", "2026-11-28", "-o", "all.csv").returncode == 0
    rows = read_csv(seeded / "all.csv")
    header, body = rows[0], rows[1:]
    assert len(body) == 1500
    column = {name: i for i, name in enumerate(header)}
    assert all(r[column["受理编号"]].startswith("DEMO2026") for r in body)
    assert len({r[column["镇（街道）"]] for r in body}) == 13
    assert {r[column["评价渠道"]] for r in body} == {"电子邮箱", "热线电话", "意见箱", "找茬窗口"}
    assert {r[column["评价来源"]] for r in body} == {"一次一评", "一事一评", "找茬窗口", "监督平台", "意见箱", "热线",
                                                  "电子邮箱"}
    assert hcp(seeded, "report", "csv", "--from", "2026-08-31", "--to", "2026-11-28", "--source", "matter,supervision",
               "-o", "online.csv").returncode == 0
    online = read_csv(seeded / "online.csv")[1:]
    assert len(online) == sum(1 for r in body if r[column["评价来源"]] in ("一事一评", "监督平台"))
    assert {r[column["整改类别"]] for r in body} == {"立整立改", "限时整改", "协调整改", "无需整改"}
    states = {r[column["状态"]] for r in body}
    assert {"已办结", "已答复", "核实中", "待复核分类", "整改中"} <= states, states
    assert {r[column["核实结论"]] for r in body} >= {"属实", "不属实", "恶意评价"}
    assert {"是", "否"} <= {r[column["是否超期"]] for r in body}
    assert {"满意", "不满意"} <= {r[column["回访满意"]] for r in body}
    masked = [r[column["电话"]] for r in body if r[column["电话"]]]
    assert masked and all("****" in phone for phone in masked), "phones are masked"
    assert all(len(r[column["评价人"]]) <= 1 or r[column["评价人"]][1:].strip("*") == "" for r in body)


def test_the_same_seed_gives_the_same_cases(seeded: Path, tmp_path: Path) -> None:
    again = hcp(tmp_path, "demo", "seed", "--cases", "1500", "--seed", "5", "--until", "2026-11-28", "--days", "90")
    assert again.returncode == 0, again.stderr
    for workdir in (seeded, tmp_path):
        hcp(workdir, "report", "csv", "--from", "2026-08-31", "--to", "2026-11-28", "-o", "same.csv")
    first, second = read_csv(seeded / "same.csv"), read_csv(tmp_path / "same.csv")
    late = first[0].index("是否超期")
    strip = lambda rows: [r[:late] + r[late + 1:] for r in rows]  # noqa: E731  (depends on the clock)
    assert strip(first) == strip(second)


def test_check_assessment_rules(tmp_path: Path) -> None:
    shipped = hcp(tmp_path, "report", "check-assessment")
    assert shipped.returncode == 0 and "full marks 100 (好评率 40" in shipped.stdout
    (tmp_path / "bad.toml").write_text("[weights]\ngood_rate = -1\n", "utf-8")
    bad = hcp(tmp_path, "report", "check-assessment", "bad.toml")
    assert bad.returncode == 1 and "bad.toml:2: weights.good_rate: Input should be greater than or equal to 0" \
        in bad.stderr and "Traceback" not in bad.stderr


def test_a_seed_is_used_once(seeded: Path) -> None:
    repeated = hcp(seeded, "demo", "seed", "--cases", "10", "--seed", "5", "--until", "2026-11-28")
    assert repeated.returncode == 1
    assert "demo data with --seed 5 is already in this database" in repeated.stderr


def test_xlsx_report_of_a_period(seeded: Path) -> None:
    result = hcp(seeded, "report", "xlsx", "--from", "2026-11-01", "--to", "2026-11-28", "-o", "nov.xlsx")
    assert result.returncode == 0, result.stderr
    book = load_workbook(seeded / "nov.xlsx")
    assert book.sheetnames == ["通报", "镇街排名", "趋势", "渠道", "窗口", "工作人员", "服务事项", "评价来源",
                               "二级原因", "考核", "回访问卷与未评", "超期案件", "未回访实名差评", "指标说明"]
    assessment = book["考核"]
    assert assessment["A1"].value.startswith("考核得分 = Σ 权重 × 指标（满分 100）− 扣分，扣分合计最多 30 分")
    assert assessment["B4"].value == "镇（街道）" and [assessment.cell(row=r, column=1).value
                                                     for r in range(5, 18)] == list(range(1, 14))
    summary = book["通报"]
    assert summary["A1"].value == "政务服务“好差评”情况通报"
    assert "2026-11-01 至 2026-11-28" in summary["A2"].value
    figures = {summary.cell(row=r, column=1).value: summary.cell(row=r, column=2).value for r in range(6, 40)}
    evaluations = figures["评价总数"]
    assert evaluations > 300 and f"{evaluations} evaluations" in result.stdout
    good_rate = figures["好评率"]
    assert 0.5 < good_rate < 1 and summary.cell(row=14, column=2).number_format == "0.0%"
    ranking = book["镇街排名"]
    towns = [ranking.cell(row=r, column=2).value for r in range(2, 15)]
    assert len(set(towns)) == 13
    good_column = next(c for c in range(1, 30) if ranking.cell(row=1, column=c).value == "好评率")
    rates = [ranking.cell(row=r, column=good_column).value for r in range(2, 15)]
    assert rates == sorted(rates, reverse=True), "ranked by 好评率"
    assert sum(ranking.cell(row=r, column=3).value for r in range(2, 15)) == evaluations
    trend = book["趋势"]
    assert trend["A1"].value == "日" and trend["A2"].value == "2026-11-01"
    overdue = book["超期案件"]
    assert overdue["A2"].value.startswith("DEMO") and overdue["K1"].value == "超期时长（小时）"
    notes = [c.value for c in book["指标说明"]["A"]]
    assert "好评率" in notes and "实名差评回访率" in notes


def test_bad_dates_are_refused(seeded: Path) -> None:
    result = hcp(seeded, "report", "xlsx", "--from", "2026-13-01", "--to", "2026-11-28", "-o", "x.xlsx")
    assert result.returncode == 2 and "is not a date like 2026-11-01" in result.stderr
    backwards = hcp(seeded, "report", "csv", "--from", "2026-11-28", "--to", "2026-11-01", "-o", "x.csv")
    assert backwards.returncode == 1 and "ends (2026-11-01) before it starts" in backwards.stderr
