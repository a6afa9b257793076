"""Reading the handwriting on a slip: the writing area and contact blanks cut by the layout, the
printed form never in the text, blank slips, and the OCR package missing at run time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.paper import ocr
from channels.paper.layout import layout_for
from channels.paper.reader import read_page
from channels.paper.writing import FORM_WORDS, looks_like_slip, normalise_contact
from tests.paper.scans import KEY, Degradation, codes, degrade, on_a4, rasterize, slip_pdf, tick, write_kai

ROOT = Path(__file__).resolve().parents[2]
# A line of real feedback from the triage development set (dev-0002), not written for this test.
TEXT = "宅基地证和户口本对不上 派出所和自然资源所都不管"
CONTACT = {"name": "张桂兰", "phone": "13905371234", "tracking_code": "JX20261127-0042"}


@pytest.fixture(scope="module")
def slip_a5() -> np.ndarray:
    image = rasterize(slip_pdf(codes(1)), 200)[0]
    return image


SCANNER = Degradation(angle=4, blur=0.6, jpeg=60)


def scan(image, *, degradation: Degradation = SCANNER):  # type: ignore[no-untyped-def]
    return read_page(degrade(on_a4([image], 200), degradation, seed=3), KEY, dpi=200, read_text=True).slips[0]


def test_writing_and_contact_are_read_and_the_printed_form_never_leaks(slip_a5) -> None:  # type: ignore[no-untyped-def]
    written = tick(write_kai(slip_a5, "a5", 200, TEXT, contact=CONTACT), "a5", "dissatisfied", 200)
    slip = scan(written)
    assert slip.writing is not None and slip.writing.text is not None
    read = slip.writing.text.text
    assert ocr.character_errors(TEXT, read) <= 2, read
    assert slip.writing.text.confidence is not None and slip.writing.text.confidence > 0.8
    assert {key: line.text for key, line in slip.writing.contact.items()} == CONTACT
    everything = read + "".join(line.text for line in slip.writing.contact.values())
    for printed in (*FORM_WORDS, "具体意见", "姓名", "联系电话", "查询码", "答复方式", "请写明"):
        assert printed not in everything
    assert not slip.blank


def test_a_slip_with_no_tick_and_no_writing_is_blank_even_when_noisy(slip_a5) -> None:  # type: ignore[no-untyped-def]
    for degradation in (Degradation(angle=-5, noise=0.03), Degradation(angle=183, gaussian=12, jpeg=35),
                        Degradation(angle=2, bilevel=True)):
        slip = scan(slip_a5, degradation=degradation)
        assert slip.blank, degradation.label()
        assert slip.writing is not None and slip.writing.text is not None and slip.writing.text.text == ""
    assert not scan(tick(slip_a5, "a5", "very_satisfied", 200)).blank  # a tick alone is an evaluation
    only_phone = write_kai(slip_a5, "a5", 200, "", contact={"phone": "13905371234"})
    assert not scan(only_phone).blank


def test_without_the_ocr_package_slips_still_read_and_blanks_are_still_found(
        slip_a5, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "rapidocr_onnxruntime", None)  # the import now fails
        ocr.reset()
        assert ocr.unavailable() is not None and "rapidocr-onnxruntime" in ocr.unavailable()
        with pytest.raises(ocr.OcrUnavailable):
            ocr.engine()
        written = scan(tick(write_kai(slip_a5, "a5", 200, TEXT), "a5", "basic", 200))
        assert written.rating is not None and written.rating.choice == "basic"
        assert written.writing is not None and written.writing.text is None and written.writing.has_writing
        blank = scan(slip_a5)
        assert blank.blank and blank.writing is not None and blank.writing.text is None
    ocr.reset()
    assert ocr.unavailable() is None


def test_the_engine_is_built_once_lazily_and_never_at_import() -> None:
    code = ("import sys; import channels.paper.reader, gateway.paper.routes, gateway.paper.jobs; "
            "assert 'rapidocr_onnxruntime' not in sys.modules and 'onnxruntime' not in sys.modules, 'loaded'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
    assert ocr.engine() is ocr.engine()


def test_contact_fields_stop_before_the_next_printed_label() -> None:
    for size in ("a5", "a6"):
        lay = layout_for(size)
        keys = {f.key for f in lay.fields}
        assert keys == {"name", "phone", "tracking_code"}
        for item in lay.fields:
            assert lay.margin < item.x0 < item.x1 <= lay.width - lay.margin
            others = [f for f in lay.fields if f.y == item.y and f is not item]
            assert all(item.x1 <= f.x0 or f.x1 <= item.x0 for f in others), (size, item)


def test_contact_values_are_normalised() -> None:
    assert normalise_contact("phone", "１３９ 0537-1234") == "13905371234"
    assert normalise_contact("tracking_code", "jx20261127一0042") == "JX20261127-0042"
    assert normalise_contact("name", "张 桂兰") == "张桂兰"
    assert looks_like_slip("政务服务“好差评”意见卡 三、具体意见和建议")
    assert not looks_like_slip("尊敬的领导：我想反映一下大厅排队的问题")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_character_errors_is_a_distance(a: str, b: str) -> None:
    assert ocr.character_errors(a, a) == 0
    assert ocr.character_errors(a, b) == ocr.character_errors(b, a)
    assert ocr.character_errors(a, b) <= max(len("".join(a.split())), len("".join(b.split())))
