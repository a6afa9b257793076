"""Reading scanner files: PDF, multi-page TIFF, JPEG, PNG; refusing unsupported, corrupt, oversized and bomb files."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from channels.paper.documents import DocumentError, Limits, load_pages, sniff
from tests.paper.scans import codes, rasterize, slip_pdf


def _pages(data: bytes, name: str = "scan", limits: Limits | None = None):  # type: ignore[no-untyped-def]
    kind, pages = load_pages(data, name, limits)
    return kind, list(pages)


def _save(image: Image.Image, fmt: str, **options) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def images() -> list[Image.Image]:
    return rasterize(slip_pdf(codes(3)), 150)


def test_multi_page_tiff_pdf_jpeg_png(images: list[Image.Image]) -> None:
    tiff = _save(images[0], "TIFF", save_all=True, append_images=images[1:], dpi=(150, 150), compression="tiff_lzw")
    kind, pages = _pages(tiff)
    assert kind == "image/tiff" and [p.index for p in pages] == [0, 1, 2]
    assert all(p.image is not None and p.image.mode == "L" and p.dpi == 150 for p in pages)

    bilevel = _save(images[0].convert("1"), "TIFF", compression="group4")
    _, pages = _pages(bilevel)
    assert pages[0].bilevel and pages[0].image.mode == "L"

    pdf = _save(images[0].convert("RGB"), "PDF", save_all=True, append_images=[i.convert("RGB") for i in images[1:]],
                resolution=150)
    kind, pages = _pages(pdf, limits=Limits(pdf_dpi=120))
    assert kind == "application/pdf" and len(pages) == 3 and pages[0].dpi == 120
    assert abs(pages[0].image.width - images[0].width * 120 / 150) <= 2

    kind, pages = _pages(_save(images[0].convert("RGB"), "JPEG", quality=70, dpi=(150, 150)))
    assert kind == "image/jpeg" and pages[0].image.size == images[0].size
    kind, pages = _pages(_save(images[0].convert("RGBA"), "PNG"))
    assert kind == "image/png" and pages[0].image.mode == "L"


def test_type_comes_from_the_bytes_not_the_name() -> None:
    assert sniff(b"%PDF-1.7\n") == "application/pdf"
    assert sniff(b"GIF89a....") is None
    with pytest.raises(DocumentError) as caught:
        _pages(b"GIF89a" + b"\0" * 100, "photo.png")
    assert caught.value.kind == "unsupported" and caught.value.http_status == 415
    assert "不支持的文件类型" in caught.value.user_message and "photo.png" in caught.value.user_message


@pytest.mark.parametrize(("data", "kind"), [
    (b"", "empty"),
    (b"%PDF-1.4\n1 0 obj\n<<>>\nbroken", "corrupt"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "corrupt"),
    (b"\xff\xd8\xff\xe0" + b"garbage" * 10, "corrupt"),
    (b"II*\x00" + b"\x08\x00\x00\x00" + b"\xff" * 20, "corrupt"),
])
def test_corrupt_and_empty_files(data: bytes, kind: str) -> None:
    with pytest.raises(DocumentError) as caught:
        _pages(data, "bad")
    assert caught.value.kind == kind
    assert caught.value.http_status in (413, 415, 422)


def test_truncated_png_is_corrupt(images: list[Image.Image]) -> None:
    data = _save(images[0], "PNG")
    with pytest.raises(DocumentError) as caught:
        _pages(data[: len(data) // 2], "half.png")
    assert caught.value.kind == "corrupt" and "文件已损坏" in caught.value.user_message


def test_oversize_is_refused_before_decoding() -> None:
    with pytest.raises(DocumentError) as caught:
        load_pages(b"%PDF-" + b"\0" * 2000, "big.pdf", Limits(max_bytes=1000))
    assert caught.value.kind == "too_large" and caught.value.http_status == 413
    assert "文件过大" in caught.value.user_message


def test_decompression_bombs_are_refused() -> None:
    # 30000 × 30000 one-bit pixels compress to a few kilobytes: far above Pillow's limit.
    bomb = _save(Image.new("1", (30000, 30000), 1), "PNG")
    assert len(bomb) < 200_000
    with pytest.raises(DocumentError) as caught:
        _pages(bomb, "bomb.png")
    assert caught.value.kind == "bomb" and "图像尺寸异常" in caught.value.user_message
    # Just above our own limit (below Pillow's hard error) is refused as well.
    small_limit = Limits(max_pixels=1_000_000)
    with pytest.raises(DocumentError) as caught:
        _pages(_save(Image.new("L", (1200, 1000), 255), "PNG"), "big.png", small_limit)
    assert caught.value.kind == "bomb"


def test_pdf_page_too_large_to_render_is_a_page_error() -> None:
    huge = Image.new("RGB", (100, 100), "white")
    data = _save(huge, "PDF", resolution=1)  # a 100 × 100 inch page
    kind, pages = _pages(data, "poster.pdf", Limits(max_pixels=10_000_000))
    assert kind == "application/pdf" and pages[0].image is None and pages[0].error.kind == "bomb"


def test_a_truncated_tiff_is_refused_and_a_whole_one_reads(images: list[Image.Image]) -> None:
    tiff = _save(images[0], "TIFF", save_all=True, append_images=images[1:2], compression="tiff_lzw")
    pages = list(load_pages(tiff, "two.tiff")[1])
    assert len(pages) == 2 and all(p.image is not None for p in pages)
    with pytest.raises(DocumentError):
        list(load_pages(tiff[: len(tiff) // 3], "cut.tiff")[1])
