"""A printed slip offers only the reply ways the gateway can use (no 短信 box without an SMS provider)."""

from __future__ import annotations

import pypdfium2 as pdfium

from channels.paper.reader import read_page
from channels.paper.render import SlipSpec, render_slips
from gateway.core.settings import Settings
from gateway.paper.slips import slip_reply_methods
from tests.helpers import enable_sms
from tests.paper.scans import KEY, Degradation, codes, degrade, on_a4, rasterize, tick


def _text(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    try:
        return "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()


def _pdf(size: str, methods: tuple[str, ...] | None) -> bytes:
    return render_slips([SlipSpec(c, "金屯镇为民服务大厅", "综合受理窗口") for c in codes(1, size=size, first=7)], size,
                        reply_methods=methods)


def test_without_an_sms_provider_the_slip_offers_phone_or_no_reply_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path)
    assert slip_reply_methods(settings) == ("phone", "none")
    for size in ("a5", "a6"):
        text = _text(_pdf(size, slip_reply_methods(settings)))
        assert "电话" in text and "不需要回复" in text
        assert "短信" not in text


def test_with_an_sms_provider_the_slip_offers_sms_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path)
    enable_sms(settings)
    assert slip_reply_methods(settings) == ("sms", "phone", "none")
    assert "短信" in _text(_pdf("a5", slip_reply_methods(settings)))


def test_a_slip_without_the_sms_box_is_still_read_where_the_citizen_ticked() -> None:
    page = rasterize(_pdf("a5", ("phone", "none")), 200)[0]
    slips = read_page(degrade(on_a4([tick(page, "a5", "phone", 200, group="replies")], 200), Degradation()),
                      KEY, dpi=200).slips
    assert len(slips) == 1 and slips[0].reply is not None and slips[0].reply.choice == "phone"
    blank = read_page(degrade(on_a4([page], 200), Degradation()), KEY, dpi=200).slips[0]
    assert blank.reply is None or blank.reply.choice is None
