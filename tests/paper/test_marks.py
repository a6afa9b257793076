"""Optical mark reading relative to the QR code: ticks, crosses, empty slips, two ticks, reasons, faint pens."""

from __future__ import annotations

from functools import cache

import pytest
from PIL import Image

from channels.paper.reader import read_page
from channels.ratings import Rating
from tests.paper.scans import KEY, Degradation, codes, degrade, on_a4, rasterize, slip_pdf, tick


@cache
def blank(size: str, dpi: int) -> Image.Image:
    return rasterize(slip_pdf(codes(1, size=size, first=5), size), dpi)[0]


STRAIGHT = Degradation()


def read(image: Image.Image, dpi: int, spec: Degradation = STRAIGHT):  # type: ignore[no-untyped-def]
    slips = read_page(degrade(on_a4([image], dpi), spec), KEY, dpi=dpi).slips
    assert len(slips) == 1
    return slips[0]


@pytest.mark.parametrize("size", ["a5", "a6"])
@pytest.mark.parametrize("rating", list(Rating))
def test_each_rating_box_reads(size: str, rating: Rating) -> None:
    slip = read(tick(blank(size, 150), size, rating.value, 150), 150, Degradation(angle=-6))
    assert slip.rating.choice == rating.value
    assert slip.rating.confidence >= 0.8
    assert slip.rating.level == "高"


@pytest.mark.parametrize("dpi", [150, 200, 300])
@pytest.mark.parametrize("spec", [Degradation(angle=10), Degradation(angle=-10), Degradation(angle=180),
                                  Degradation(angle=-4, noise=0.04), Degradation(angle=3, blur=1.2),
                                  Degradation(angle=2, bilevel=True), Degradation(angle=-8, contrast=0.45, gaussian=8),
                                  Degradation(angle=-6, jpeg=25)], ids=lambda spec: spec.label())
def test_marks_survive_scanning(dpi: int, spec: Degradation) -> None:
    image = tick(blank("a5", dpi), "a5", "basic", dpi, cross=True)
    image = tick(image, "a5", "efficiency", dpi, group="reasons")
    slip = read(image, dpi, spec)
    assert slip.rating.choice == "basic"
    assert slip.reasons == ("efficiency",)


def test_an_empty_slip_reads_as_no_rating_with_confidence() -> None:
    slip = read(blank("a5", 200), 200, Degradation(angle=5, noise=0.02))
    assert slip.rating.choice is None and slip.rating.confidence >= 0.8
    assert slip.reasons == ()


def test_two_ticked_boxes_are_low_confidence() -> None:
    image = tick(tick(blank("a5", 200), "a5", "satisfied", 200), "a5", "dissatisfied", 200)
    slip = read(image, 200)
    assert slip.rating.choice in ("satisfied", "dissatisfied")
    assert slip.rating.confidence < 0.5 and slip.rating.level == "低"


def test_a_faint_pencil_tick_is_read_with_less_confidence_than_a_pen() -> None:
    faint = read(tick(blank("a5", 200), "a5", "very_dissatisfied", 200, grey=150, width_mm=0.3), 200)
    strong = read(tick(blank("a5", 200), "a5", "very_dissatisfied", 200), 200)
    assert faint.rating.choice == "very_dissatisfied"
    assert strong.rating.confidence >= faint.rating.confidence


def test_reply_preference_is_read() -> None:
    slip = read(tick(blank("a5", 200), "a5", "sms", 200, group="replies"), 200, Degradation(angle=7))
    assert slip.reply is not None and slip.reply.choice == "sms"
