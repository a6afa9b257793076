"""Printable PDFs: suggestion slips (A5 or A6, optionally several to an A4 sheet) and window posters.

Everything is vector: the QR modules are drawn as rectangles, so a slip prints sharp on any office
printer, and the Chinese text uses the PDF viewer's built-in CID font (``STSong-Light``), so no
font file has to ship.  Positions come from ``channels.paper.layout`` — the same numbers the mark
reader uses.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import segno
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from channels.paper.codes import SlipCode, poster_qr, slip_qr
from channels.paper.layout import Box, SlipLayout, SlipSize, layout_for

FONT = "STSong-Light"
TITLE = "政务服务“好差评”意见卡"
INSTRUCTIONS = "填好后投入大厅意见箱。一张卡请只写一件事。"
PRIVACY = ("个人信息保护：您留下的姓名、电话仅用于核实和答复本次评价，依法保密，不公开，"
           "不提供给被评价的窗口和个人。不留联系方式也可以评价。")
NO_LINE_START = frozenset("，。、；：？！）》”’")
POSTER_TITLE = "政务服务“好差评”"
POSTER_LINES = ("微信或手机相机扫一扫，即可评价本窗口的服务", "可不留姓名；留下电话的，我们会在规定时限内答复您",
                "也可以填写意见卡，投入大厅意见箱")


@dataclass(frozen=True, slots=True)
class SlipSpec:
    """One slip to print: its signed code and the names printed beside it."""

    code: SlipCode
    hall_name: str
    window_name: str | None = None


@dataclass(frozen=True, slots=True)
class PosterSpec:
    """One window poster: the signed 找茬窗口 link and the names printed around it."""

    hall_name: str
    window_name: str
    url: str


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def draw_qr(canvas: Canvas, qr: segno.QRCode, x: float, y_top: float, size: float) -> None:
    """Draw ``qr`` (dark modules as merged horizontal runs) with its top-left at (x, y_top) in points."""
    matrix = [list(row) for row in qr.matrix]
    modules = len(matrix)
    pitch = size / modules
    path = canvas.beginPath()
    for row_index, row in enumerate(matrix):
        y = y_top - (row_index + 1) * pitch
        column = 0
        while column < modules:
            if row[column]:
                start = column
                while column < modules and row[column]:
                    column += 1
                # A hair of overlap between rows keeps viewers from showing white seams.
                path.rect(x + start * pitch, y - 0.01, (column - start) * pitch, pitch + 0.02)
            else:
                column += 1
    canvas.setFillGray(0)
    canvas.drawPath(path, stroke=0, fill=1)


class _SlipPainter:
    """Draws one slip with its top-left corner at an offset (points) on the canvas."""

    def __init__(self, canvas: Canvas, layout: SlipLayout, left: float, top: float,
                 reply_methods: Collection[str] | None = None) -> None:
        self.c, self.l, self.left, self.top = canvas, layout, left, top
        self.reply_methods = reply_methods

    def x(self, mm_x: float) -> float:
        return self.left + mm_x * mm

    def y(self, mm_y: float) -> float:
        return self.top - mm_y * mm

    def text(self, mm_x: float, mm_y: float, text: str, size: float, *, anchor: str = "left") -> None:
        self.c.setFont(FONT, size)
        draw = {"left": self.c.drawString, "center": self.c.drawCentredString, "right": self.c.drawRightString}
        draw[anchor](self.x(mm_x), self.y(mm_y), text)

    def wrapped(self, mm_x: float, mm_y: float, text: str, size: float, width_mm: float, leading: float) -> float:
        """Draw ``text`` wrapped at ``width_mm`` (Chinese wraps between any characters); return the next y."""
        line = ""
        for char in text:
            # Chinese wraps between any two characters, but a line never starts with closing punctuation.
            if pdfmetrics.stringWidth(line + char, FONT, size) > width_mm * mm and char not in NO_LINE_START:
                self.text(mm_x, mm_y, line, size)
                mm_y += leading
                line = char
            else:
                line += char
        if line:
            self.text(mm_x, mm_y, line, size)
            mm_y += leading
        return mm_y

    def box(self, box: Box, *, label: str = "right", label_pt: float = 9.0) -> None:
        self.c.setLineWidth(0.9)
        self.c.setStrokeGray(0)
        self.c.rect(self.x(box.x), self.y(box.y + box.size), box.size * mm, box.size * mm, stroke=1, fill=0)
        if label == "below":
            return
        self.text(box.x + box.size + 1.2, box.y + box.size * 0.5 + label_pt * 0.35 / 2.83 * 1.0, box.label, label_pt)

    def paint(self, slip: SlipSpec) -> None:
        lay, c = self.l, self.c
        inner = lay.width - 2 * lay.margin
        self.text(lay.margin, lay.title_y, TITLE, lay.title_pt)
        self.text(lay.margin, lay.hall_y, slip.hall_name, lay.hall_pt)
        self.text(lay.margin, lay.window_y, f"窗口：{slip.window_name or '＿＿＿＿＿＿'}", lay.hall_pt)
        draw_qr(c, slip_qr(slip.code), self.x(lay.qr_x), self.y(lay.qr_y), lay.qr_size * mm)
        self.text(lay.qr_x + lay.qr_size / 2, lay.serial_y, f"No. {slip.code.serial_text}", lay.serial_pt,
                  anchor="center")
        c.setLineWidth(0.6)
        c.line(self.x(lay.margin), self.y(lay.rule_y), self.x(lay.width - lay.margin), self.y(lay.rule_y))

        self.text(lay.margin, lay.rating_heading_y, "一、您对本次服务的评价（只选一项，在方框内打“√”）", lay.section_pt)
        for box in lay.ratings:
            self.box(box, label="below")
            self.text(box.x + box.size / 2, lay.rating_label_y, box.label, lay.rating_label_pt, anchor="center")

        self.text(lay.margin, lay.reason_heading_y, "二、如不满意，主要原因是（可多选）", lay.section_pt)
        for box in lay.reasons:
            self.box(box, label_pt=lay.reason_label_pt)

        self.text(lay.margin, lay.writing_heading_y, "三、具体意见和建议（请写明事情经过，便于核实整改）",
                  lay.section_pt)
        c.setLineWidth(0.5)
        c.setStrokeGray(0.55)
        c.rect(self.x(lay.margin), self.y(lay.writing_bottom), inner * mm, (lay.writing_bottom - lay.writing_top) * mm)
        pitch = (lay.writing_bottom - lay.writing_top) / lay.writing_lines
        c.setDash(1, 2)
        for index in range(1, lay.writing_lines):
            y = lay.writing_top + index * pitch
            c.line(self.x(lay.margin + 2), self.y(y), self.x(lay.width - lay.margin - 2), self.y(y))
        c.setDash()
        c.setStrokeGray(0)

        self.text(lay.margin, lay.contact_heading_y, "四、联系方式（选填，仅用于答复您）", lay.section_pt)
        lines = lay.contact_lines_y
        blank = "＿" * (8 if lay.size is SlipSize.A5 else 6)
        if lay.size is SlipSize.A5:
            self.text(lay.margin, lines[0], f"姓名：{'＿' * 6}　　联系电话：{'＿' * 10}", lay.contact_pt)
            self.text(lay.margin, lines[1], "希望的答复方式：", lay.contact_pt)
            self.text(lay.margin, lines[2], f"已有受理编号（补充意见时填写）：{blank}", lay.contact_pt)
        else:
            self.text(lay.margin, lines[0], f"电话：{'＿' * 9}　受理编号：{blank}", lay.contact_pt)
            self.text(lay.margin, lines[1], f"姓名：{'＿' * 4}　答复方式：", lay.contact_pt)
        for box in lay.replies:
            # A reply way the gateway cannot use is not printed (its place stays blank: the reader
            # finds every box at a fixed position).
            if self.reply_methods is None or box.key in self.reply_methods:
                self.box(box, label_pt=lay.contact_pt)

        y = self.wrapped(lay.margin, lay.privacy_top + lay.privacy_pt * 0.4, PRIVACY, lay.privacy_pt, inner,
                         lay.privacy_pt * 0.45)
        self.text(lay.margin, y + lay.privacy_pt * 0.05, INSTRUCTIONS, lay.privacy_pt)


def _sheet_slots(layout: SlipLayout, sheet: str | None) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """Page size and the top-left offsets (points) of the slips on one sheet."""
    if sheet is None:
        return (layout.width * mm, layout.height * mm), [(0.0, layout.height * mm)]
    if sheet != "a4":
        raise ValueError(f"unknown sheet {sheet!r}; expected a4")
    if layout.size is SlipSize.A5:  # two A5 side by side on A4 landscape
        width, height = landscape(A4)
        return (width, height), [(0.0, height), (layout.width * mm, height)]
    width, height = A4  # four A6 on A4 portrait
    return (width, height), [(0.0, height), (layout.width * mm, height),
                             (0.0, height - layout.height * mm), (layout.width * mm, height - layout.height * mm)]


def _cut_marks(canvas: Canvas, page: tuple[float, float], layout: SlipLayout, count: int) -> None:
    canvas.setLineWidth(0.3)
    canvas.setStrokeGray(0.6)
    canvas.setDash(3, 3)
    width, height = page
    if count > 1:
        canvas.line(layout.width * mm, 0, layout.width * mm, height)
    if layout.size is SlipSize.A6:
        canvas.line(0, height - layout.height * mm, width, height - layout.height * mm)
    canvas.setDash()
    canvas.setStrokeGray(0)


def render_slips(slips: Iterable[SlipSpec], size: str | SlipSize = SlipSize.A5, *, sheet: str | None = None,
                 reply_methods: Collection[str] | None = None) -> bytes:
    """A PDF with one slip per page (``sheet=None``) or several slips per A4 sheet with cut marks.

    ``reply_methods``: the reply boxes to print (codes of ``SlipLayout.replies``; None: all), so a
    slip never offers a reply by SMS where no SMS provider is configured."""
    layout = layout_for(size)
    _font()
    page, slots = _sheet_slots(layout, sheet)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=page, pageCompression=1)
    canvas.setTitle("好差评意见卡")
    canvas.setCreator("hcp")
    used = 0
    for slip in slips:
        if slip.code.size != layout.size.value:
            raise ValueError(f"slip {slip.code.serial_text} is signed for size {slip.code.size}, not {layout.size}")
        left, top = slots[used]
        _SlipPainter(canvas, layout, left, top, reply_methods).paint(slip)
        used += 1
        if used == len(slots):
            if sheet:
                _cut_marks(canvas, page, layout, used)
            canvas.showPage()
            used = 0
    if used:
        if sheet:
            _cut_marks(canvas, page, layout, used)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_posters(posters: Iterable[PosterSpec]) -> bytes:
    """A4 posters, one per window: names, the signed web-form link as a 12 cm QR code, and the link in text."""
    _font()
    width, height = A4
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    canvas.setTitle("找茬窗口二维码")
    canvas.setCreator("hcp")
    for poster in posters:
        canvas.setFont(FONT, 30)
        canvas.drawCentredString(width / 2, height - 35 * mm, POSTER_TITLE)
        canvas.setFont(FONT, 44)
        canvas.drawCentredString(width / 2, height - 56 * mm, "扫码评价  找茬窗口")
        canvas.setFont(FONT, 22)
        canvas.drawCentredString(width / 2, height - 74 * mm, f"{poster.hall_name} · {poster.window_name}")
        qr_size = 120 * mm
        draw_qr(canvas, poster_qr(poster.url), (width - qr_size) / 2, height - 88 * mm, qr_size)
        canvas.setFont(FONT, 16)
        y = height - 222 * mm
        for line in POSTER_LINES:
            canvas.drawCentredString(width / 2, y, line)
            y -= 9 * mm
        canvas.setFont("Helvetica", 10)
        canvas.drawCentredString(width / 2, 18 * mm, poster.url)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()
