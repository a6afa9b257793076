"""12345 work-order exports shaped as the city platform writes them: a title row above Chinese
headers, GBK from Chinese Windows (or UTF-8 with a BOM), Excel date cells, and the usual bad rows."""

from __future__ import annotations

import contextlib
import io
from datetime import datetime

HEADER = ["工单编号", "来电时间", "来电号码", "诉求人", "诉求标题", "诉求内容", "所属镇街", "承办单位", "办理时限",
          "诉求类型"]
ROWS = [
    # row 3: a good order about 金屯镇's hall, the deadline as a date and time
    ["JN12345-20261127-0001", "2026-11-27 09:12:33", "138 1234 5678", "王建国", "大厅窗口无人",
     "金屯镇为民服务大厅社保窗口上午九点还没有人上班，群众排队等了半小时", "金屯镇", "金屯镇人民政府",
     "2026-12-02 17:00:00", "投诉"],
    # row 4: deadline as working days, a town written with its hall's full name, a landline without area code
    ["JN12345-20261127-0002", "2026/11/27 10:05", "6851890", "李**", "",
     "办理不动产登记时工作人员态度生硬，说话很冲", "嘉祥街道为民服务大厅", "嘉祥街道办事处", "3个工作日", "投诉"],
    # row 5: no 诉求内容 → bad row
    ["JN12345-20261127-0003", "2026-11-27 11:00:00", "13900001111", "赵六", "", "", "金屯镇", "", "", ""],
    # row 6: a time that is not a time → bad row
    ["JN12345-20261127-0004", "昨天上午", "13900002222", "孙七", "", "窗口服务很好，表扬一下", "金屯镇", "", "",
     "表扬"],
    # row 7: the first order again (the platform exports a re-assigned order twice) → duplicate
    ["JN12345-20261127-0001", "2026-11-27 09:12:33", "13812345678", "王建国", "", "重复", "金屯镇", "", "", ""],
    # row 8: a withheld number and an unknown town: kept, without a hall
    ["JN12345-20261127-0005", "2026-11-27 15:30:00", "", "匿名", "", "为民服务大厅门口的台阶坏了，老人上下很不方便",
     "某某乡", "", "5天", "建议"],
    # row 9: a caller id that is no number → bad row
    ["JN12345-20261127-0006", "2026-11-27 16:00:00", "8001", "周八", "", "窗口少", "金屯镇", "", "", ""],
]


def csv_bytes(encoding: str) -> bytes:
    import csv

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["济宁市12345政务服务便民热线工单导出（2026-11-27）"])
    writer.writerow(HEADER)
    writer.writerows(ROWS)
    text = buffer.getvalue()
    return text.encode("utf-8-sig") if encoding == "utf-8" else text.encode(encoding)


def xlsx_bytes() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["济宁市12345政务服务便民热线工单导出"])
    sheet.append(HEADER)
    for row in ROWS:
        cells = list(row)
        for index in (1, 8):  # Excel keeps times as date cells, not text
            with contextlib.suppress(ValueError):
                cells[index] = datetime.strptime(str(cells[index]), "%Y-%m-%d %H:%M:%S")
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
