"""The supervisors' Excel report (通报) of a period, built with openpyxl.

Sheets: 通报 (the headline figures with the counts behind each rate, 差评 handling per track and
verdict), 镇街排名 (towns ranked by 好评率), 趋势 (by day for a period up to two months, else by
month), 渠道, 窗口, 工作人员 (the person on duty, from the window rosters; for staff assessment),
服务事项, 评价来源 (by source as the rules name them, 参评率, and the share of evaluations that name
their service item), 二级原因 (the ten reasons per town, window, service item and month), 考核
(the score of every town, window and staff member, its parts, and every deduction with the codes
of its cases), 超期案件 (every overdue case now), 未回访实名差评 (every exception
to the 100% rule) and 指标说明 (each formula in words).  Rates are written as numbers with a
percent format, so the workbook can be sorted and computed on; a rate without a denominator is an
empty cell, not 0%.  No sheet holds personal data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gateway.core.labels import CHANNEL_LABELS, IN_PROGRESS_LABEL, SURVEY_VISITS_LABEL, SURVEY_VISITS_NOTE
from gateway.core.safe_text import is_formula_like, printable
from gateway.core.services import Services
from gateway.results import rollup
from gateway.results.assessment import DEDUCTION_LABELS, NO_DATA_LABELS, AssessmentRules, Score, assess, parts_header
from gateway.results.figures import (
    COUNTER_LABELS,
    RATES,
    RATES_BY_NAME,
    RECTIFY_CATEGORIES,
    SURVEY_SCORES,
    Counts,
    Dim,
    FigureRow,
    Filters,
    Names,
    Survey,
    Unrated,
    attach_in_progress,
    compute,
    in_progress,
    survey_figures,
    unrated_figures,
)
from gateway.results.insights import ItemShare, sources_and_participation
from gateway.results.lists import overdue, return_visit_exceptions
from gateway.results.reasons import REASON_CODES, REASON_LABELS, ReasonRow, reason_figures

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="0B5CAD")
TITLE_FONT = Font(bold=True, size=14)
PERCENT = "0.0%"
TABLE_RATES = ("good_rate", "rectified_rate", "on_time_rate", "reply_rate", "return_visit_rate", "satisfaction_rate")
TABLE_COUNTS = ("evaluations", "rated", "good", "bad_received", "bad_not_valid", "bad_malicious", "bad")

DEFINITIONS = (
    ("评价总数", "期间内受理的全部评价与意见（按受理日，北京时间）。"),
    ("采纳", "核实结论为“属实”或尚未核实的评价；核实“不属实”和“恶意评价”不纳入统计。"),
    ("好评率", "（非常满意＋满意＋基本满意）÷ 有评价等级的采纳评价。"),
    ("差评", "评价等级为不满意、非常不满意的评价；未评等级但分拣为立整立改、限时整改、协调整改的意见为“未评级投诉”，"
            "不计入差评数、好评率和答复率，但按差评办理，计入各整改类别的差评、整改率、按时整改率、扣分和实名差评回访。"),
    ("差评整改率", "已整改（已答复整改结果）的采纳差评 ÷（已整改＋逾期未整改的采纳差评）；整改期限未到的为“整改中”，"
                  "单独列出，不计入分母。分类整改率与各分组（趋势、渠道、窗口、工作人员、服务事项、来源）的整改率口径相同，"
                  "各自不含其整改中的差评。"),
    ("按时整改率", "期限内完成的整改 ÷ 已整改：首次响应不晚于首次响应期限，整改结果不晚于办结期限；"
                   "协调整改未设期限的不计超期。"),
    ("差评答复率", "已首次响应、已答复结果或已向群众发出回复的采纳差评 ÷ 采纳差评。"),
    ("实名差评回访率", "已记录回访的实名差评（含实名的未评级投诉） ÷ 已答复或已办结的实名差评（应回访）。要求100%，"
                       "未回访的逐件列于“未回访实名差评”表。"),
    ("整改后满意率", "最近一次回访记录为满意的差评 ÷ 回访时记录了满意与否的差评。"),
    ("评价来源", "一次一评（窗口二维码）、一事一评（接口报送的办件）、找茬窗口、意见箱、热线、电子邮箱、监督平台。"),
    ("参评率", "期间内办结、经接口报送的办件中，群众作出评价的件数 ÷ 办件数（逾期按基本满意记录的不算参评）。"),
    ("二级原因占比", "勾选该原因的采纳差评 ÷ 采纳差评；一条差评可勾选多项，未勾选的列为“未选原因”。"),
    ("考核得分", "Σ 权重 × 指标 − 扣分（考核规则文件），扣分案件逐件列出受理编号。"),
    ("村（社区）便民服务点", "其评价计入所属镇（街道）。"),
)


def _put(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    """Set a cell; text is kept as text: never a formula, never a control character openpyxl refuses.

    Names and labels come from staff and imports; a value such as ``=HYPERLINK(…)`` is stored as an
    inline string with Excel's quote prefix (the workbook form of OWASP's leading ``'``).
    """
    if isinstance(value, str):
        value = printable(value)
        cell = sheet.cell(row=row, column=column, value=value)
        if is_formula_like(value):
            cell.data_type = "s"
            cell.quotePrefix = True
        return cell
    return sheet.cell(row=row, column=column, value=value)


def _header(sheet: Worksheet, row: int, titles: list[str]) -> None:
    for column, title in enumerate(titles, start=1):
        cell = _put(sheet, row, column, title)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _widths(sheet: Worksheet, widths: list[int]) -> None:
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width


def _print_setup(sheet: Worksheet) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def _rate_cell(sheet: Worksheet, row: int, column: int, value: float | None) -> None:
    cell = _put(sheet, row, column, value)
    cell.number_format = PERCENT


def _figure_table(sheet: Worksheet, rows: list[FigureRow], dims: list[Dim], *, start_row: int = 1,
                  rank: bool = False) -> None:
    titles = (["名次"] if rank else []) + [d.label for d in dims] + [COUNTER_LABELS[n] for n in TABLE_COUNTS] \
        + [IN_PROGRESS_LABEL] + [RATES_BY_NAME[n].label for n in TABLE_RATES]
    _header(sheet, start_row, titles)
    for offset, row in enumerate(rows, start=1):
        r = start_row + offset
        values: list[Any] = ([offset] if rank else []) + [row.label(d) for d in dims]
        values += [row.counts[n] for n in TABLE_COUNTS] + [row.counts.in_progress]
        for column, value in enumerate(values, start=1):
            _put(sheet, r, column, value)
        for i, name in enumerate(TABLE_RATES):
            _rate_cell(sheet, r, len(values) + 1 + i, row.counts.rate(name))
    sheet.freeze_panes = sheet.cell(row=start_row + 1, column=1 + len(dims) + (1 if rank else 0))
    _widths(sheet, ([6] if rank else []) + [22] * len(dims) + [11] * (len(TABLE_COUNTS) + 1 + len(TABLE_RATES)))
    _print_setup(sheet)


def _summary_sheet(sheet: Worksheet, filters: Filters, counts: Counts, generated: datetime) -> None:
    sheet.title = "通报"
    sheet["A1"] = "政务服务“好差评”情况通报"
    sheet["A1"].font = TITLE_FONT
    sheet["A2"] = f"统计期间：{filters.period.label}（按受理日，北京时间）"
    scope = "、".join(filters.halls) if filters.halls else "全县"
    _put(sheet, 3, 1, f"范围：{scope}；生成时间：{generated:%Y-%m-%d %H:%M}")
    _header(sheet, 5, ["指标", "数值", "分子", "分母"])
    row = 6
    for name in ("evaluations", "rated", "good", "bad_received", "bad_valid", "bad_not_valid", "bad_malicious",
                 "bad"):
        _put(sheet, row, 1, COUNTER_LABELS[name])
        _put(sheet, row, 2, counts[name])
        row += 1
    for rate in RATES:
        _put(sheet, row, 1, rate.label)
        _rate_cell(sheet, row, 2, counts.rate(rate.name))
        _put(sheet, row, 3, sum(counts[n] for n in rate.numerator))
        _put(sheet, row, 4, counts.denominator(rate.name))
        row += 1
    _put(sheet, row, 1, "整改中差评（期限未到，不计入整改率）")
    _put(sheet, row, 2, counts.in_progress)
    row += 1
    row += 1
    _header(sheet, row, ["整改类别", "采纳差评", "已整改", IN_PROGRESS_LABEL, "整改率", "按时整改", "按时整改率"])
    for category in RECTIFY_CATEGORIES:
        row += 1
        c = category.value
        _put(sheet, row, 1, category.label)
        _put(sheet, row, 2, counts[f"bad_{c}"])
        _put(sheet, row, 3, counts[f"rectified_{c}"])
        _put(sheet, row, 4, counts.pending.get(c, 0))
        _rate_cell(sheet, row, 5, counts.rate(f"rectified_rate_{c}"))
        _put(sheet, row, 6, counts[f"on_time_{c}"])
        _rate_cell(sheet, row, 7, counts.rate(f"on_time_rate_{c}"))
    _widths(sheet, [30, 14, 12, 14, 12, 12, 12])
    _print_setup(sheet)


def _case_sheet(sheet: Worksheet, rows: list[dict[str, Any]], tz: ZoneInfo, *, overdue_sheet: bool) -> None:
    titles = ["受理编号", "镇（街道）", "窗口", "评价渠道", "评价等级", "整改类别", "状态", "受理时间",
              "首次响应期限", "办结期限"] + (["超期时长（小时）", "超期环节"] if overdue_sheet else ["整改答复时间"])
    _header(sheet, 1, titles)

    def local(value: str | None) -> str:
        return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    for r, row in enumerate(rows, start=2):
        values: list[Any] = [row["code"], row["hall_name"], row["window_name"],
                             CHANNEL_LABELS.get(row["channel"], row["channel"]), row["rating_label"],
                             row["category_label"], row["status_label"], local(row["received_at"]),
                             local(row["first_response_due"]), local(row["result_due"])]
        if overdue_sheet:
            values += [round(row["overdue_seconds"] / 3600, 1),
                       "、".join({"first_response": "首次响应", "result": "整改办结"}[m] for m in row["missed"])]
        else:
            values.append(local(row["result_at"]))
        for column, value in enumerate(values, start=1):
            _put(sheet, r, column, value)
    if not rows:
        _put(sheet, 2, 1, "无")
    sheet.freeze_panes = "B2"
    _widths(sheet, [22, 12, 16, 10, 10, 10, 10, 17, 17, 17, 14, 16])
    _print_setup(sheet)


def _survey_sheet(sheet: Worksheet, survey: dict[tuple[str | None, str | None], Survey],
                  unrated: dict[str | None, Unrated], names: Names) -> None:
    """回访整改满意率, the three questionnaire averages and 未评率, per town and for the county."""
    _header(sheet, 1, ["镇（街道）", SURVEY_VISITS_LABEL, "回访整改满意率", "问题已解决", "部分解决", "未解决",
                       *[f"{label}（均分）" for label in SURVEY_SCORES.values()], "办结办件", "未评", "未评率"])
    hall_names = dict(names.halls.values())
    halls = sorted({hall for hall, _ in survey if hall} | {hall for hall in unrated if hall})
    for row, hall in enumerate([*halls, None], start=2):
        figures = survey.get((hall, None), Survey())
        matters = unrated.get(hall, Unrated())
        _put(sheet, row, 1, hall_names.get(hall, hall) if hall else "全县合计")
        _put(sheet, row, 2, figures.visits)
        _rate_cell(sheet, row, 3, figures.rectification_satisfaction_rate)
        for column, answer in enumerate(("yes", "partly", "no"), start=4):
            _put(sheet, row, column, figures.solved[answer])
        for column, score in enumerate(SURVEY_SCORES, start=7):
            average = figures.average(score)
            _put(sheet, row, column, round(average, 2) if average is not None else "—")
        _put(sheet, row, 10, matters.finished)
        _put(sheet, row, 11, matters.unrated)
        _rate_cell(sheet, row, 12, matters.rate)
    _put(sheet, len(halls) + 4, 1, SURVEY_VISITS_NOTE)
    _widths(sheet, [16, 12, 14, 10, 10, 10, 14, 14, 14, 10, 8, 10])


def _sources_sheet(sheet: Worksheet, by_source: list[FigureRow], matters: Unrated, share: ItemShare) -> None:
    _figure_table(sheet, by_source, [Dim.SOURCE])
    row = len(by_source) + 3
    _header(sheet, row, ["指标", "数值", "分子", "分母"])
    lines = [("参评率（群众评价的办件 ÷ 接口报送的办结办件）", matters.participation_rate, matters.evaluated,
              matters.finished),
             ("已关联服务事项的评价占比", share.linked_rate, share.linked, share.total),
             ("未指明事项的评价占比", share.unspecified_rate, share.unspecified, share.total)]
    for offset, (label, rate, numerator, denominator) in enumerate(lines, start=1):
        _put(sheet, row + offset, 1, label)
        _rate_cell(sheet, row + offset, 2, rate)
        _put(sheet, row + offset, 3, numerator)
        _put(sheet, row + offset, 4, denominator)


def _reasons_block(sheet: Worksheet, row: int, title: str, rows: list[ReasonRow]) -> int:
    _put(sheet, row, 1, title).font = Font(bold=True)
    _header(sheet, row + 1, [title, "采纳差评", "未选原因", *[f"{REASON_LABELS[c]}" for c in REASON_CODES],
                             *[f"{REASON_LABELS[c]}占比" for c in REASON_CODES]])
    for offset, group in enumerate(rows, start=2):
        r = row + offset
        for column, value in enumerate([group.label, group.bad, group.none,
                                        *[group.counts[c] for c in REASON_CODES]], start=1):
            _put(sheet, r, column, value)
        for i, code in enumerate(REASON_CODES):
            _rate_cell(sheet, r, 4 + len(REASON_CODES) + i, group.rate(code))
    return row + len(rows) + 3


def _reasons_sheet(sheet: Worksheet, blocks: list[tuple[str, list[ReasonRow]]]) -> None:
    row = 1
    for title, rows in blocks:
        row = _reasons_block(sheet, row, title, rows)
    _widths(sheet, [26, 10, 10] + [11] * (2 * len(REASON_CODES)))
    _print_setup(sheet)


def _assessment_sheet(sheet: Worksheet, rules: AssessmentRules | None, error: str | None,
                      blocks: list[tuple[str, list[Score]]]) -> None:
    """Every score with its parts and deductions; each deduction lists the codes of its cases."""
    if rules is None:
        sheet["A1"] = "考核规则文件有误，未计算考核分："
        _put(sheet, 2, 1, error or "")
        return
    parts = parts_header(rules)
    policy = NO_DATA_LABELS[rules.no_data.policy]
    cap = f"，扣分合计最多 {rules.deductions.cap:g} 分" if rules.deductions.cap else ""
    sheet["A1"] = f"考核得分 = Σ 权重 × 指标（满分 {rules.full_marks:g}）− 扣分{cap}；无数据的指标{policy}"
    row = 3
    for title, scores in blocks:
        _put(sheet, row, 1, title).font = Font(bold=True)
        titles = ["名次", title, "评价数", "总分", "指标得分"]
        for _, label, weight in parts:
            titles += [f"{label}", f"{label}得分（权重{weight:g}）"]
        for name, label in DEDUCTION_LABELS.items():
            titles += [f"{label}（件）", f"{label}扣分（每件{getattr(rules.deductions, name):g}）", f"{label}案件编号"]
        _header(sheet, row + 1, titles)
        for offset, score in enumerate(scores, start=2):
            r = row + offset
            values: list[Any] = [score.rank, score.label, score.evaluations, score.total, round(score.earned, 2)]
            for column, value in enumerate(values, start=1):
                _put(sheet, r, column, value)
            column = len(values) + 1
            for part in score.parts:
                _rate_cell(sheet, r, column, part.rate)
                _put(sheet, r, column + 1, part.points)
                column += 2
            for deduction in score.deductions:
                _put(sheet, r, column, len(deduction.codes))
                _put(sheet, r, column + 1, round(deduction.points, 2))
                _put(sheet, r, column + 2, "、".join(deduction.codes))
                column += 3
        if not scores:
            _put(sheet, row + 2, 1, "期间内无数据")
        row += len(scores) + 4
    _widths(sheet, [6, 24, 8, 8, 9] + [9] * (2 * len(parts)) + [8, 8, 40] * len(DEDUCTION_LABELS))
    _print_setup(sheet)


async def build_workbook(services: Services, filters: Filters, rules: AssessmentRules | None = None, *,
                         rules_error: str | None = None) -> tuple[Workbook, dict[str, int]]:
    """The workbook of ``filters`` and a summary (evaluations, overdue, unvisited).

    Without ``rules`` the 考核 sheet says why (``rules_error``) instead of a score."""
    tz = ZoneInfo(filters.period.tz)
    await rollup.refresh(services.store, filters.period.tz)
    trend_dim = Dim.DAY if (filters.period.end - filters.period.start).days <= 62 else Dim.MONTH
    async with services.store.read() as session:
        names = await Names.load(session)
        by_hall = await compute(session, filters, [Dim.HALL], names=names)
        trend = await compute(session, filters, [trend_dim], names=names)
        by_channel = await compute(session, filters, [Dim.CHANNEL], names=names)
        by_window = await compute(session, filters, [Dim.WINDOW], names=names)
        by_staff = await compute(session, filters, [Dim.STAFF], names=names)
        by_item = await compute(session, filters, [Dim.SERVICE_ITEM], names=names)
        survey = await survey_figures(session, filters, names=names)
        unrated = await unrated_figures(session, filters, names)
        extra = await sources_and_participation(session, filters, names)
        reasons = [(Dim.HALL.label, await reason_figures(session, filters, Dim.HALL, names=names)),
                   (Dim.WINDOW.label, await reason_figures(session, filters, Dim.WINDOW, names=names)),
                   (Dim.SERVICE_ITEM.label, await reason_figures(session, filters, Dim.SERVICE_ITEM, names=names)),
                   ("月份", await reason_figures(session, filters, Dim.MONTH, names=names))]
        now = datetime.now(UTC)
        scores = [(unit.label, await assess(session, filters, unit, rules, names=names, now=now))
                  for unit in (Dim.HALL, Dim.WINDOW, Dim.STAFF)] if rules else []
        late: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await overdue(session, names, halls=filters.halls, cursor=cursor, limit=1000)
            late += page.rows
            if not (cursor := page.cursor):
                break
        unvisited: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await return_visit_exceptions(session, names, filters, cursor=cursor, limit=1000)
            unvisited += page.rows
            if not (cursor := page.cursor):
                break
        pending = await in_progress(session, filters, names, now)
    counts = attach_in_progress(pending, filters.period, by_hall)
    for rows in (trend, by_channel, by_window, by_staff, by_item, extra["by_source"]):
        attach_in_progress(pending, filters.period, rows)  # every sheet's 整改率 by the one rule
    workbook = Workbook()
    _summary_sheet(workbook.active, filters, counts, datetime.now(UTC).astimezone(tz))
    ranking = sorted(by_hall, key=lambda r: (-(r.counts.rate("good_rate") or -1), r.code(Dim.HALL)))
    _figure_table(workbook.create_sheet("镇街排名"), ranking, [Dim.HALL], rank=True)
    _figure_table(workbook.create_sheet("趋势"), trend, [trend_dim])
    _figure_table(workbook.create_sheet("渠道"), by_channel, [Dim.CHANNEL])
    _figure_table(workbook.create_sheet("窗口"), by_window, [Dim.WINDOW])
    _figure_table(workbook.create_sheet("工作人员"), by_staff, [Dim.STAFF])
    _figure_table(workbook.create_sheet("服务事项"), by_item, [Dim.SERVICE_ITEM])
    _sources_sheet(workbook.create_sheet("评价来源"), extra["by_source"], extra["participation"],
                   extra["item_share"])
    _reasons_sheet(workbook.create_sheet("二级原因"), reasons)
    _assessment_sheet(workbook.create_sheet("考核"), rules, rules_error, scores)
    _survey_sheet(workbook.create_sheet("回访问卷与未评"), survey, unrated, names)
    _case_sheet(workbook.create_sheet("超期案件"), late, tz, overdue_sheet=True)
    _case_sheet(workbook.create_sheet("未回访实名差评"), unvisited, tz, overdue_sheet=False)
    notes = workbook.create_sheet("指标说明")
    _header(notes, 1, ["指标", "口径"])
    for r, (label, text) in enumerate(DEFINITIONS, start=2):
        _put(notes, r, 1, label)
        _put(notes, r, 2, text).alignment = Alignment(wrap_text=True)
    _widths(notes, [18, 100])
    workbook.properties.title = f"好差评通报 {filters.period.label}"
    workbook.properties.creator = "hcp"
    return workbook, {"evaluations": counts["evaluations"], "overdue": len(late), "unvisited": len(unvisited)}


async def write_workbook(services: Services, filters: Filters, path: Path,
                         rules: AssessmentRules | None = None) -> dict[str, int]:
    workbook, summary = await build_workbook(services, filters, rules)
    workbook.save(path)
    return summary
