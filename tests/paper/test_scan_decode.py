"""Decoding generated slips from synthetic scans: resolutions, skew, upside down, noise, blur, JPEG,
black-and-white, faint scans, two slips per page, forged codes, pages without codes."""

from __future__ import annotations

import io
from functools import cache

import pytest
from PIL import Image

from channels.paper.codes import sign_slip
from channels.paper.reader import read_page, slip_image
from tests.paper.scans import DEGRADATIONS, KEY, Degradation, codes, degrade, on_a4, rasterize, slip_pdf, tick


@cache
def slips(size: str, dpi: int) -> tuple[Image.Image, Image.Image]:
    first, second = rasterize(slip_pdf(codes(2, size=size, first=101), size), dpi)
    return (tick(first, size, "dissatisfied", dpi), tick(second, size, "very_satisfied", dpi, cross=True))


@pytest.mark.parametrize("dpi", [150, 200, 300])
@pytest.mark.parametrize("spec", DEGRADATIONS, ids=lambda spec: spec.label())
def test_one_slip_per_page_decodes(dpi: int, spec: Degradation) -> None:
    page = degrade(on_a4([slips("a5", dpi)[0]], dpi), spec, seed=dpi)
    reading = read_page(page, KEY, dpi=dpi)
    assert [slip.code.serial for slip in reading.slips] == [101]
    slip = reading.slips[0]
    assert slip.signature_ok and slip.code.hall == "jintun" and slip.code.window == "w01"
    assert slip.rating is not None and slip.rating.choice == "dissatisfied"
    assert slip.rating.confidence >= 0.5


@pytest.mark.parametrize("dpi", [150, 200, 300])
@pytest.mark.parametrize("spec", [Degradation(), Degradation(angle=-9), Degradation(angle=183, noise=0.02),
                                  Degradation(angle=5, jpeg=30, blur=0.8)], ids=lambda spec: spec.label())
def test_two_slips_per_page_both_decode_with_their_own_ticks(dpi: int, spec: Degradation) -> None:
    page = degrade(on_a4(list(slips("a5", dpi)), dpi), spec, seed=dpi + 1)
    reading = read_page(page, KEY, dpi=dpi)
    found = {slip.code.serial: slip for slip in reading.slips}
    assert sorted(found) == [101, 102]
    assert found[101].rating.choice == "dissatisfied"  # type: ignore[union-attr]
    assert found[102].rating.choice == "very_satisfied"  # type: ignore[union-attr]


@pytest.mark.parametrize("dpi", [150, 300])
def test_four_a6_slips_on_a_page(dpi: int) -> None:
    images = rasterize(slip_pdf(codes(4, size="a6", first=7), "a6"), dpi)
    page = Image.new("L", (round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)), 255)
    width, height = images[0].size
    for index, image in enumerate(images):
        page.paste(image, ((index % 2) * width, (index // 2) * height))
    reading = read_page(degrade(page, Degradation(angle=180 + 3)), KEY, dpi=dpi)
    assert sorted(slip.code.serial for slip in reading.slips) == [7, 8, 9, 10]
    assert all(slip.code.size == "a6" for slip in reading.slips)


def test_dpi_unknown_still_decodes() -> None:
    page = degrade(on_a4([slips("a5", 200)[0]], 200), Degradation(angle=-7, noise=0.03))
    assert [slip.code.serial for slip in read_page(page, KEY, dpi=None).slips] == [101]


def test_forged_code_is_found_but_flagged() -> None:
    forged = sign_slip(b"not our key", "a5", "jintun", "w01", 101)
    image = rasterize(slip_pdf([forged]), 200)[0]
    reading = read_page(on_a4([image], 200), KEY, dpi=200)
    assert len(reading.slips) == 1
    assert reading.slips[0].code.serial == 101 and reading.slips[0].signature_ok is False


def test_page_without_code_returns_no_slip_and_foreign_codes_are_listed() -> None:
    blank = Image.new("L", (1654, 2339), 255)
    assert read_page(blank, KEY, dpi=200).slips == []
    from channels.paper.codes import make_qr

    buffer = io.BytesIO()
    make_qr("https://hcp.example.cn/w/jintun/w01/abcdefghijklm").save(buffer, kind="png", scale=8, border=4)
    poster = Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    page = Image.new("L", (1654, 2339), 255)
    page.paste(poster, (300, 300))
    reading = read_page(page, KEY, dpi=200)
    assert reading.slips == [] and reading.foreign == ["https://hcp.example.cn/w/jintun/w01/abcdefghijklm"]


def test_a_torn_code_goes_to_manual_id() -> None:
    image = slips("a5", 200)[0].copy()
    # Cover two finder patterns of the QR code, as a fold or a coffee stain would.
    x0 = round(118 / 25.4 * 200)
    image.paste(255, (x0 - 5, round(8 / 25.4 * 200), x0 + 80, round(32 / 25.4 * 200)))
    assert read_page(on_a4([image], 200), KEY, dpi=200).slips == []


def test_slip_image_is_upright_and_deskewed() -> None:
    page = degrade(on_a4([slips("a5", 200)[0]], 200), Degradation(angle=186))
    slip = read_page(page, KEY, dpi=200).slips[0]
    crop = slip_image(page, slip, dpi=100)
    assert crop is not None
    # A5 plus 4 mm margins at 100 dpi, portrait.
    assert crop.size == (round(156 / 25.4 * 100), round(218 / 25.4 * 100))
    # Upright: the QR code is dark at the top right of the crop, white paper at the bottom right.
    qr_box = tuple(round(v / 25.4 * 100) for v in (4 + 118 + 3, 4 + 10 + 3, 4 + 138 - 3, 4 + 30 - 3))
    paper = tuple(round(v / 25.4 * 100) for v in (4 + 118, 4 + 200, 4 + 138, 4 + 206))
    qr_pixels = list(crop.crop(qr_box).get_flattened_data())
    assert sum(qr_pixels) / len(qr_pixels) < 200
    assert min(crop.crop(paper).get_flattened_data()) > 200
