"""Synthetic scans of printed slips for the tests and benchmarks/paper_scan.py.

Slips are printed by the real renderer, rasterised with pdfium at scanner resolutions, ticked by
drawing a pen stroke into a box, laid on an A4 glass (one slip, or two A5 slips turned sideways),
then degraded the way office scanners degrade pages: skew, upside down, noise, blur, JPEG
artefacts, black-and-white thresholding.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from channels.paper.codes import SlipCode, sign_slip
from channels.paper.layout import layout_for
from channels.paper.render import SlipSpec, render_slips

KEY = b"test-signing-key"
A4_MM = (210.0, 297.0)


def codes(count: int, *, size: str = "a5", hall: str = "jintun", window: str | None = "w01", first: int = 1,
          key: bytes = KEY) -> list[SlipCode]:
    return [sign_slip(key, size, hall, window, serial) for serial in range(first, first + count)]


def slip_pdf(slip_codes: Sequence[SlipCode], size: str = "a5") -> bytes:
    return render_slips([SlipSpec(code, "金屯镇为民服务大厅", "综合受理窗口") for code in slip_codes], size)


def rasterize(pdf: bytes, dpi: int) -> list[Image.Image]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [document[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for i in range(len(document))]
    finally:
        document.close()


def mm_to_px(value: float, dpi: int) -> float:
    return value / 25.4 * dpi


def tick(image: Image.Image, size: str, key: str, dpi: int, *, group: str = "ratings", cross: bool = False,
         width_mm: float = 0.5, grey: int = 30) -> Image.Image:
    """Draw a pen tick (or cross) into the box ``key`` of a rendered slip image (slip at the image's origin)."""
    lay = layout_for(size)
    box = next(b for b in getattr(lay, group) if b.key == key)
    out = image.copy()
    draw = ImageDraw.Draw(out)

    def p(fx: float, fy: float) -> tuple[float, float]:
        return mm_to_px(box.x + fx * box.size, dpi), mm_to_px(box.y + fy * box.size, dpi)

    stroke = max(1, round(mm_to_px(width_mm, dpi)))
    if cross:
        draw.line([p(0.15, 0.15), p(0.85, 0.85)], fill=grey, width=stroke)
        draw.line([p(0.85, 0.15), p(0.15, 0.85)], fill=grey, width=stroke)
    else:
        draw.line([p(0.15, 0.5), p(0.4, 0.85), p(1.05, -0.1)], fill=grey, width=stroke, joint="curve")
    return out


def write_text(image: Image.Image, size: str, dpi: int, seed: int = 0) -> Image.Image:
    """Scribble 'handwriting' strokes in the writing area, so pages are not unrealistically clean."""
    lay = layout_for(size)
    rng = random.Random(seed)
    out = image.copy()
    draw = ImageDraw.Draw(out)
    pitch = (lay.writing_bottom - lay.writing_top) / lay.writing_lines
    for line in range(lay.writing_lines - 1):
        y = lay.writing_top + (line + 0.6) * pitch
        x = lay.margin + 3
        while x < lay.width - lay.margin - 8:
            points = [(mm_to_px(x + rng.uniform(0, 4), dpi), mm_to_px(y + rng.uniform(-2.5, 2.5), dpi))
                      for _ in range(5)]
            draw.line(points, fill=rng.randint(20, 80), width=max(1, round(mm_to_px(0.4, dpi))))
            x += rng.uniform(4.5, 6.5)
    return out


KAI_FONT = "/usr/share/fonts/truetype/arphic/ukai.ttc"  # Debian's fonts-arphic-ukai, a handwriting-like Kai


def kai(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(KAI_FONT, size_px)


def writing_lines(text: str, size: str, *, char_mm: float = 5.0) -> list[str]:
    """``text`` wrapped as a citizen fills the writing area: one line per guide line, left to right."""
    lay = layout_for(size)
    per_line = int((lay.width - 2 * lay.margin - 6) / (char_mm * 1.05))
    lines = [text[i:i + per_line] for i in range(0, len(text), per_line)]
    return lines[:lay.writing_lines]


def write_kai(image: Image.Image, size: str, dpi: int, text: str, *, contact: dict[str, str] | None = None,
              char_mm: float = 5.0, grey: int = 25, seed: int = 0) -> Image.Image:
    """Write ``text`` into the writing area (and ``contact`` values into their blanks) in the Kai font,
    each line a little off its guide line and slanted, as a hand would."""
    lay = layout_for(size)
    rng = random.Random(seed)
    out = image.copy()
    draw = ImageDraw.Draw(out)
    font = kai(round(mm_to_px(char_mm, dpi)))
    pitch = (lay.writing_bottom - lay.writing_top) / lay.writing_lines
    for index, line in enumerate(writing_lines(text, size, char_mm=char_mm)):
        x = lay.margin + 3 + rng.uniform(-1, 2)
        y = lay.writing_top + index * pitch + (pitch - char_mm) / 2 + rng.uniform(-0.8, 0.4)
        draw.text((mm_to_px(x, dpi), mm_to_px(y, dpi)), line, font=font, fill=grey)
    small = kai(round(mm_to_px(min(char_mm, 4.2 if size == "a5" else 3.4), dpi)))
    for item in lay.fields:
        value = (contact or {}).get(item.key)
        if value:
            height = 4.2 if size == "a5" else 3.4
            draw.text((mm_to_px(item.x0 + 1, dpi), mm_to_px(item.y - height - 0.6, dpi)), value, font=small,
                      fill=grey)
    return out


def letter_page(lines: Sequence[str], dpi: int, *, char_mm: float = 6.0) -> Image.Image:
    """An A4 letter written in the Kai font (no slip code): what citizens also put in the box."""
    page = Image.new("L", (round(mm_to_px(A4_MM[0], dpi)), round(mm_to_px(A4_MM[1], dpi))), 255)
    draw = ImageDraw.Draw(page)
    font = kai(round(mm_to_px(char_mm, dpi)))
    per_line = int((A4_MM[0] - 50) / char_mm)
    y = 30.0
    for paragraph in lines:
        for start in range(0, len(paragraph), per_line):
            draw.text((mm_to_px(25, dpi), mm_to_px(y, dpi)), paragraph[start:start + per_line], font=font, fill=30)
            y += char_mm * 1.8
    return page


def on_a4(slips: Sequence[Image.Image], dpi: int) -> Image.Image:
    """One slip at the top-left of an A4 glass, or two A5/A6 slips turned sideways one above the other."""
    page = Image.new("L", (round(mm_to_px(A4_MM[0], dpi)), round(mm_to_px(A4_MM[1], dpi))), 255)
    if len(slips) == 1:
        page.paste(slips[0], (round(mm_to_px(3, dpi)), round(mm_to_px(3, dpi))))
        return page
    half = page.height // 2
    for index, slip in enumerate(slips[:2]):
        turned = slip.rotate(90, expand=True)
        page.paste(turned, (round(mm_to_px(2, dpi)), index * half + round(mm_to_px(2, dpi))))
    return page


@dataclass(frozen=True)
class Degradation:
    angle: float = 0.0  # degrees counter-clockwise, includes 180 for upside down
    noise: float = 0.0  # fraction of salt-and-pepper pixels
    gaussian: float = 0.0  # sigma of grey noise
    blur: float = 0.0  # Gaussian blur radius in pixels
    jpeg: int | None = None  # JPEG quality
    bilevel: bool = False  # black-and-white scan
    contrast: float = 1.0  # < 1: faint, grey scan

    def label(self) -> str:
        parts = [f"{self.angle:+.0f}°"]
        if self.noise:
            parts.append(f"s&p {self.noise:.0%}")
        if self.gaussian:
            parts.append(f"σ{self.gaussian:.0f}")
        if self.blur:
            parts.append(f"blur {self.blur}")
        if self.jpeg:
            parts.append(f"jpeg q{self.jpeg}")
        if self.bilevel:
            parts.append("b/w")
        if self.contrast != 1.0:
            parts.append(f"contrast {self.contrast}")
        return " ".join(parts)


def degrade(page: Image.Image, spec: Degradation, seed: int = 0) -> Image.Image:
    image = page
    if spec.contrast != 1.0:
        image = image.point(lambda v: round(255 - (255 - v) * spec.contrast))
    if spec.angle:
        image = image.rotate(spec.angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    if spec.blur:
        image = image.filter(ImageFilter.GaussianBlur(spec.blur))
    if spec.gaussian or spec.noise:
        rng = np.random.default_rng(seed)
        array = np.asarray(image).astype(np.float32)
        if spec.gaussian:
            array += rng.normal(0, spec.gaussian, array.shape)
        if spec.noise:
            flips = rng.random(array.shape)
            array[flips < spec.noise / 2] = 0
            array[flips > 1 - spec.noise / 2] = 255
        image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "L")
    if spec.bilevel:
        image = image.point(lambda v: 255 if v > 150 else 0).convert("1").convert("L")
    if spec.jpeg:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=spec.jpeg)
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    return image


DEGRADATIONS: tuple[Degradation, ...] = (
    Degradation(),
    Degradation(angle=10),
    Degradation(angle=-10),
    Degradation(angle=180),
    Degradation(angle=186),
    Degradation(angle=90),
    Degradation(angle=-4, noise=0.04),
    Degradation(angle=7, gaussian=18),
    Degradation(angle=3, blur=1.2),
    Degradation(angle=-6, jpeg=25),
    Degradation(angle=2, bilevel=True),
    Degradation(angle=-8, contrast=0.45, gaussian=8),
    Degradation(angle=184, noise=0.02, blur=0.8, jpeg=40),
)
