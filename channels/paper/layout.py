"""Where everything sits on a printed slip, in millimetres from the slip's top-left corner.

The renderer draws from these numbers and the mark reader looks for ticks at the same numbers,
measured from the QR code it decoded: one table, so a layout change can never leave the reader
looking at the wrong boxes.  Both sizes print the QR symbol at ``QR_SIZE_MM`` (2.0 cm).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from channels.paper.codes import QR_SIZE_MM
from channels.ratings import REASONS, Rating


class SlipSize(StrEnum):
    A5 = "a5"
    A6 = "a6"


@dataclass(frozen=True, slots=True)
class Box:
    """A tick box: ``key`` is the rating value, reason code or reply channel it stands for."""

    key: str
    label: str
    x: float
    y: float
    size: float

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.size / 2, self.y + self.size / 2


@dataclass(frozen=True, slots=True)
class Field:
    """A handwritten contact field: the blank after its printed label, in mm (``y`` is the baseline).

    ``x1`` stops before the next printed label on the same line, so OCR of the field never sees
    the form's own words."""

    key: str
    x0: float
    x1: float
    y: float


def _after(margin: float, pt: float, before: int, blanks: int) -> tuple[float, float]:
    """Where a blank of ``blanks`` full-width characters starts and ends after ``before`` of them.

    Every character of the contact lines is full width (CJK, '：', '　', '＿'), one em = ``pt``."""
    em = pt * 25.4 / 72
    return margin + before * em, margin + (before + blanks) * em


@dataclass(frozen=True, slots=True)
class SlipLayout:
    size: SlipSize
    width: float
    height: float
    margin: float
    qr_x: float
    qr_y: float
    ratings: tuple[Box, ...]
    reasons: tuple[Box, ...]
    replies: tuple[Box, ...]
    # Baselines (mm from the top) and font sizes (pt) of the printed text.
    title_y: float
    title_pt: float
    hall_y: float
    window_y: float
    hall_pt: float
    serial_y: float
    serial_pt: float
    rule_y: float
    section_pt: float
    rating_heading_y: float
    rating_label_y: float
    rating_label_pt: float
    reason_heading_y: float
    reason_label_pt: float
    writing_heading_y: float
    writing_top: float
    writing_bottom: float
    writing_lines: int
    contact_heading_y: float
    contact_lines_y: tuple[float, ...]
    contact_pt: float
    privacy_top: float
    privacy_pt: float
    fields: tuple[Field, ...] = ()

    qr_size: float = QR_SIZE_MM

    @property
    def qr_corners(self) -> tuple[tuple[float, float], ...]:
        """Top-left, top-right, bottom-right, bottom-left of the QR symbol (quiet zone excluded)."""
        x, y, s = self.qr_x, self.qr_y, self.qr_size
        return (x, y), (x + s, y), (x + s, y + s), (x, y + s)


def _a5() -> SlipLayout:
    width, height, margin = 148.0, 210.0, 10.0
    column = (width - 2 * margin) / 5
    ratings = tuple(Box(r.value, r.label, margin + (i + 0.5) * column - 3.0, 49.0, 6.0)
                    for i, r in enumerate(Rating))
    # "姓名：＿×6　　联系电话：＿×10" / "希望的答复方式：…" / "已有查询码（补充意见时填写）：＿×8" at 9.5 pt;
    # the phone and tracking-code blanks end their line, so writing may run on to the margin.
    fields = (Field("name", *_after(margin, 9.5, 3, 6), 177.0),
              Field("phone", _after(margin, 9.5, 16, 10)[0], width - margin, 177.0),
              Field("tracking_code", _after(margin, 9.5, 15, 8)[0], width - margin, 191.0))
    reasons = tuple(Box(o.code, o.label, margin + (i % 5) * column, 72.0 + (i // 5) * 8.0, 4.5)
                    for i, o in enumerate(REASONS))
    replies = (Box("sms", "短信", 39.0, 180.6, 4.0), Box("phone", "电话", 55.0, 180.6, 4.0),
               Box("none", "不需要回复", 71.0, 180.6, 4.0))
    return SlipLayout(
        size=SlipSize.A5, width=width, height=height, margin=margin, qr_x=width - margin - QR_SIZE_MM, qr_y=10.0,
        ratings=ratings, reasons=reasons, replies=replies,
        title_y=17.0, title_pt=15.5, hall_y=25.0, window_y=31.0, hall_pt=11.0, serial_y=36.2, serial_pt=8.0,
        rule_y=38.5, section_pt=10.0, rating_heading_y=45.0, rating_label_y=60.5, rating_label_pt=9.5,
        reason_heading_y=68.0, reason_label_pt=8.5, writing_heading_y=94.0, writing_top=97.0, writing_bottom=163.0,
        writing_lines=8, contact_heading_y=170.0, contact_lines_y=(177.0, 184.0, 191.0), contact_pt=9.5,
        privacy_top=195.0, privacy_pt=7.0, fields=fields,
    )


def _a6() -> SlipLayout:
    width, height, margin = 105.0, 148.0, 6.0
    column = (width - 2 * margin) / 5
    ratings = tuple(Box(r.value, r.label, margin + (i + 0.5) * column - 2.5, 40.0, 5.0)
                    for i, r in enumerate(Rating))
    # "电话：＿×9　查询码：＿×6" / "姓名：＿×4　答复方式：…" at 7 pt.
    fields = (Field("phone", *_after(margin, 7.0, 3, 9), 128.5),
              Field("tracking_code", _after(margin, 7.0, 17, 6)[0], width - margin, 128.5),
              Field("name", *_after(margin, 7.0, 3, 4), 134.3))
    half = (width - 2 * margin) / 2
    reasons = tuple(Box(o.code, o.label, margin + (i % 2) * half, 56.5 + (i // 2) * 5.2, 3.8)
                    for i, o in enumerate(REASONS))
    replies = (Box("sms", "短信", 40.0, 131.3, 3.5), Box("phone", "电话", 53.0, 131.3, 3.5),
               Box("none", "不需要回复", 66.0, 131.3, 3.5))
    return SlipLayout(
        size=SlipSize.A6, width=width, height=height, margin=margin, qr_x=width - margin - QR_SIZE_MM, qr_y=6.0,
        ratings=ratings, reasons=reasons, replies=replies,
        title_y=11.5, title_pt=11.5, hall_y=18.0, window_y=23.0, hall_pt=8.5, serial_y=31.0, serial_pt=6.5,
        rule_y=33.0, section_pt=7.5, rating_heading_y=37.8, rating_label_y=49.0, rating_label_pt=7.0,
        reason_heading_y=54.5, reason_label_pt=7.0, writing_heading_y=86.0, writing_top=88.0, writing_bottom=119.0,
        writing_lines=4, contact_heading_y=123.5, contact_lines_y=(128.5, 134.3), contact_pt=7.0,
        privacy_top=137.0, privacy_pt=5.6, fields=fields,
    )


LAYOUTS: dict[SlipSize, SlipLayout] = {SlipSize.A5: _a5(), SlipSize.A6: _a6()}


def layout_for(size: str | SlipSize) -> SlipLayout:
    try:
        return LAYOUTS[SlipSize(str(size).lower())]
    except ValueError:
        raise ValueError(f"unknown slip size {size!r}; expected a5 or a6") from None
