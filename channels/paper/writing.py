"""What the citizen wrote on a slip: the writing area and the contact blanks, cut out by the layout.

Every region is cut from the page through the same map that finds the tick boxes (slip
millimetres → page pixels, fitted to the QR code), upright and at a fixed resolution, and stops
short of the printed words around it: the heading above the writing area, the labels before each
contact blank.  So whatever OCR reads is the citizen's, never the form's.

Ink is measured before any OCR runs: a region with no pen strokes is not sent to the recogniser
(most contact blanks are empty), and a slip with no strokes and no ticks is *blank* — known even
where the OCR package is not installed.  The writing area's dotted guide lines and the blanks'
underlines are left out of that measurement, and a median filter drops scanner speckle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

from channels.paper import geometry, ocr
from channels.paper.layout import SlipLayout

PX_PER_MM = 8.0  # ≈ 200 dpi: enough for 4 mm handwriting, small enough for a quick OCR pass
INK_MM2 = 1.5  # pen strokes covering less than this (in mm²) are specks, not writing
EDGE_MM = 1.0  # left out along the writing area's printed border
GUIDE_BAND_MM = 0.9  # half-height of the band left out around each dotted guide line
# Printed words that only the form carries: a page without a slip code that shows them is a slip
# whose code could not be read, not a letter.
FORM_WORDS = ("好差评", "意见卡", "具体意见和建议", "联系方式", "个人信息保护", "意见箱")
_PHONE = re.compile(r"[^0-9]")
_TRACKING = re.compile(r"[^0-9A-Za-z-]")


@dataclass(frozen=True, slots=True)
class Region:
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True, slots=True)
class SlipText:
    """The writing read from one slip: ``text`` is ``None`` when OCR did not run (not installed)."""

    text: ocr.OcrText | None
    contact: dict[str, ocr.OcrLine] = field(default_factory=dict)
    writing_ink: float = 0.0  # mm² of pen strokes in the writing area
    contact_ink: float = 0.0  # mm² of pen strokes in the contact blanks

    @property
    def has_writing(self) -> bool:
        return self.writing_ink >= INK_MM2 or self.contact_ink >= INK_MM2 or bool(self.text and self.text.lines)


def writing_region(lay: SlipLayout) -> Region:
    return Region(lay.margin + EDGE_MM, lay.writing_top + EDGE_MM, lay.width - lay.margin - EDGE_MM,
                  lay.writing_bottom - EDGE_MM)


def field_regions(lay: SlipLayout) -> dict[str, tuple[Region, float]]:
    """Each contact blank's crop and, in crop millimetres, where its underline starts (left out of the ink)."""
    lines = lay.contact_lines_y
    pitch = lines[1] - lines[0]
    above, below = 0.8 * pitch, 0.3
    return {f.key: (Region(f.x0 + 0.3, f.y - above, f.x1, f.y + below), above - 0.5) for f in lay.fields}


def crop(array: np.ndarray, matrix: np.ndarray, region: Region, px_per_mm: float = PX_PER_MM) -> np.ndarray:
    """The region of the slip, upright, at ``px_per_mm`` (white where it falls off the scan)."""
    mm_per_px = 1 / px_per_mm
    to_slip = np.array([[mm_per_px, 0.0, region.x0], [0.0, mm_per_px, region.y0]])
    combined = geometry.compose(matrix, to_slip)
    size = (max(1, round((region.x1 - region.x0) * px_per_mm)), max(1, round((region.y1 - region.y0) * px_per_mm)))
    image = Image.fromarray(array).transform(size, Image.Transform.AFFINE, tuple(combined.ravel()),
                                             resample=Image.Resampling.BILINEAR, fillcolor=255)
    return np.asarray(image)


def ink_mm2(image: np.ndarray, threshold: float, *, skip_rows: list[tuple[int, int]] = (),  # type: ignore[assignment]
            px_per_mm: float = PX_PER_MM) -> float:
    """Area of pen strokes (mm²): pixels darker than ``threshold`` after a 3×3 median, skipped rows left out."""
    cleaned = np.asarray(Image.fromarray(image).filter(ImageFilter.MedianFilter(3)))
    dark = cleaned < threshold
    for start, stop in skip_rows:
        dark[max(0, start):max(0, stop)] = False
    return float(dark.sum()) / (px_per_mm * px_per_mm)


def tighten(image: np.ndarray, threshold: float, underline_row: int, pad_mm: float = 1.0) -> np.ndarray | None:
    """A contact blank cut down to its pen strokes, the printed underline whitened: the recogniser
    reads a run of empty underline as letters ("El0") when it is left in."""
    cleaned = np.array(image)
    cleaned[max(0, underline_row):] = 255
    dark = np.asarray(Image.fromarray(cleaned).filter(ImageFilter.MedianFilter(3))) < threshold
    columns, rows = np.flatnonzero(dark.any(axis=0)), np.flatnonzero(dark.any(axis=1))
    if not len(columns):
        return None
    pad = round(pad_mm * PX_PER_MM)
    return cleaned[max(0, rows[0] - pad):rows[-1] + pad + 1, max(0, columns[0] - pad):columns[-1] + pad + 1]


def pen_threshold(paper: float, ink: float) -> float:
    """Halfway from printed ink to paper: pen strokes count, the light grey guide lines do not."""
    if paper - ink < 20:
        ink = max(0.0, paper - 120)
    return ink + 0.5 * (paper - ink)


def _guide_rows(lay: SlipLayout, region: Region) -> list[tuple[int, int]]:
    pitch = (lay.writing_bottom - lay.writing_top) / lay.writing_lines
    rows = []
    for index in range(1, lay.writing_lines):
        y = lay.writing_top + index * pitch - region.y0
        rows.append((round((y - GUIDE_BAND_MM) * PX_PER_MM), round((y + GUIDE_BAND_MM) * PX_PER_MM)))
    return rows


def normalise_contact(key: str, text: str) -> str:
    """What a contact field's recognised text means: digits of a phone, an upper-case tracking code."""
    if key == "phone":
        return _PHONE.sub("", text.translate(_FULLWIDTH))
    if key == "tracking_code":
        return _TRACKING.sub("", text.translate(_FULLWIDTH)).upper()
    return text.replace(" ", "")


_FULLWIDTH = str.maketrans({chr(0xFF10 + i): str(i) for i in range(10)} | {"—": "-", "－": "-", "一": "-"})


def read_slip_text(array: np.ndarray, matrix: np.ndarray, lay: SlipLayout, *, paper: float, ink: float,
                   use_ocr: bool = True) -> SlipText:
    """Measure and (when OCR is installed and ``use_ocr``) read the writing area and the contact blanks."""
    threshold = pen_threshold(paper, ink)
    run_ocr = use_ocr and ocr.unavailable() is None
    region = writing_region(lay)
    area = crop(array, matrix, region)
    writing_ink = ink_mm2(area, threshold, skip_rows=_guide_rows(lay, region))
    text = None
    if run_ocr:
        # Slips are upright once cut out through the QR map: the angle classifier is not needed.
        text = ocr.read_block(area, upright=True) if writing_ink >= INK_MM2 else ocr.OcrText()
    contact: dict[str, ocr.OcrLine] = {}
    contact_ink = 0.0
    for key, (field_region, underline_mm) in field_regions(lay).items():
        image = crop(array, matrix, field_region)
        underline = round(underline_mm * PX_PER_MM)
        amount = ink_mm2(image, threshold, skip_rows=[(underline, image.shape[0])])
        contact_ink += amount
        strokes = tighten(image, threshold, underline) if run_ocr and amount >= INK_MM2 else None
        if strokes is not None:
            line = ocr.read_line(strokes)
            if line is not None:
                value = normalise_contact(key, line.text)
                if value:
                    contact[key] = ocr.OcrLine(value, line.confidence)
    return SlipText(text, contact, writing_ink, contact_ink)


def read_letter(image: np.ndarray) -> ocr.OcrText:
    """A whole page (a letter put in the box) read as text, lines in reading order."""
    return ocr.read_block(image)


def looks_like_slip(text: str) -> bool:
    """Whether recognised page text carries the slip form's printed words."""
    compact = re.sub(r"\s", "", text)
    return sum(word in compact for word in FORM_WORDS) >= 2
