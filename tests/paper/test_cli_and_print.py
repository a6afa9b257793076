"""``hcp slips`` and ``hcp paper scan`` as real processes, and the printed PDFs themselves."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from channels.paper.reader import read_page
from channels.web.links import verify_link
from gateway.core.settings import Settings
from tests.helpers import upgrade_once
from tests.paper.scans import Degradation, degrade, on_a4, tick

HCP = [sys.executable, "-m", "gateway.cli"]
ROOT = Path(__file__).parents[2]


def hcp(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HCP_DATA_DIR": str(workdir / "var"), "PYTHONPATH": str(ROOT),
           "HCP_PUBLIC_URL": "https://hcp.example.cn"}
    env.pop("HCP_DATABASE_URL", None)
    env.pop("HCP_SECRET_KEY", None)
    if args[:2] != ("db", "upgrade"):
        upgrade_once(env, workdir)
    return subprocess.run([*HCP, *args], capture_output=True, text=True, env=env, timeout=300, cwd=workdir)


def pages(pdf: Path, dpi: int) -> list[Image.Image]:
    document = pdfium.PdfDocument(pdf.read_bytes())
    try:
        return [document[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(len(document))]
    finally:
        document.close()


def key(workdir: Path) -> bytes:
    return Settings(data_dir=workdir / "var", _env_file=None).signing_key()  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("paper-cli")


def test_print_slips_with_unique_serials_and_sizes(workdir: Path) -> None:
    first = hcp(workdir, "slips", "print", "--hall", "jintun", "--window", "w01", "--count", "3", "-o", "a5.pdf")
    assert first.returncode == 0, first.stderr
    assert "serials 00000001–00000003" in first.stdout and "2.0 cm" in first.stdout
    second = hcp(workdir, "slips", "print", "--hall", "jintun", "--count", "4", "--size", "a6", "--sheet", "a4",
                 "-o", "a6.pdf")
    assert "serials 00000004–00000007" in second.stdout
    document = pdfium.PdfDocument((workdir / "a5.pdf").read_bytes())
    width, height = document[0].get_size()
    assert len(document) == 3 and round(width / 72 * 25.4) == 148 and round(height / 72 * 25.4) == 210
    document.close()
    sheet = pdfium.PdfDocument((workdir / "a6.pdf").read_bytes())
    assert len(sheet) == 1 and [round(v / 72 * 25.4) for v in sheet[0].get_size()] == [210, 297]
    sheet.close()
    signing = key(workdir)
    found = read_page(pages(workdir / "a6.pdf", 200)[0], signing, dpi=200).slips
    assert sorted(s.code.serial for s in found) == [4, 5, 6, 7]
    assert all(s.signature_ok and s.code.window is None and s.code.size == "a6" for s in found)
    runs = json.loads(hcp(workdir, "slips", "runs", "--json").stdout)
    assert [(r["first"], r["last"]) for r in runs] == [(4, 7), (1, 3)]
    unknown = hcp(workdir, "slips", "print", "--hall", "nowhere", "--count", "1", "-o", "x.pdf")
    assert unknown.returncode == 1 and "unknown hall 'nowhere'" in unknown.stderr
    no_window = hcp(workdir, "slips", "print", "--hall", "jintun", "--window", "w99", "--count", "1", "-o", "x.pdf")
    assert no_window.returncode == 1 and "has no window 'w99'" in no_window.stderr


def test_posters_print_each_windows_signed_link(workdir: Path) -> None:
    result = hcp(workdir, "slips", "posters", "--hall", "jintun", "-o", "posters.pdf")
    assert result.returncode == 0, result.stderr
    images = pages(workdir / "posters.pdf", 72)
    assert len(images) == 5
    foreign = read_page(images[0], b"unused", dpi=72).foreign
    assert len(foreign) == 1 and foreign[0].startswith("https://hcp.example.cn/w/jintun/w01/")
    assert verify_link(key(workdir), "jintun", "w01", foreign[0].rsplit("/", 1)[1])


def test_paper_scan_reports_slips_pages_and_bad_files(workdir: Path) -> None:
    if not (workdir / "a5.pdf").exists():
        test_print_slips_with_unique_serials_and_sizes(workdir)
    images = pages(workdir / "a5.pdf", 200)
    scanned = [degrade(on_a4([tick(images[0], "a5", "satisfied", 200)], 200), Degradation(angle=184)),
               degrade(on_a4([images[1]], 200), Degradation(angle=-6, noise=0.02)),
               Image.new("L", (1654, 2339), 255)]
    buffer = io.BytesIO()
    scanned[0].save(buffer, "TIFF", save_all=True, append_images=scanned[1:], dpi=(200, 200), compression="tiff_lzw")
    (workdir / "batch.tiff").write_bytes(buffer.getvalue())
    (workdir / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    (workdir / "readme.txt").write_text("hello")

    result = hcp(workdir, "paper", "scan", "batch.tiff", "broken.pdf", "readme.txt", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    slips = report["slips"]
    assert [(s["file"], s["page"], s["serial"]) for s in slips] == [("batch.tiff", 1, "00000001"),
                                                                    ("batch.tiff", 2, "00000002")]
    assert slips[0]["rating"] == "satisfied" and slips[0]["rating_confidence"] >= 0.8
    assert all(s["signature_ok"] and s["hall"] == "jintun" and s["window"] == "w01" for s in slips)
    assert all(isinstance(s["draft"], int) and s["duplicate"] is False for s in slips)
    # Nothing is written on these slips: no text, no confidence; the one without a tick is blank.
    assert [(s["text"], s["text_confidence"], s["blank"]) for s in slips] == [("", None, False), ("", None, True)]
    assert "%|" not in result.stderr and "页/s" not in result.stderr  # no progress bar when piped
    assert report["pages_without_code"] == [{"file": "batch.tiff", "page": 3, "status": "needs_id",
                                             "needs_manual_id": True, "error": None, "foreign_codes": []}]
    assert "broken.pdf: refused: broken.pdf：文件已损坏" in result.stderr
    assert "readme.txt: refused: readme.txt：不支持的文件类型" in result.stderr

    again = hcp(workdir, "paper", "scan", "batch.tiff")
    assert again.returncode == 0
    assert "batch.tiff: already uploaded" in again.stdout

    # The second slip scanned again in another file: reported as a duplicate of the first draft.
    buffer = io.BytesIO()
    degrade(on_a4([images[1]], 200), Degradation(angle=90)).save(buffer, "PNG", dpi=(200, 200))
    (workdir / "rescan.png").write_bytes(buffer.getvalue())
    text = hcp(workdir, "paper", "scan", "rescan.png")
    assert text.returncode == 0
    assert "rescan.png p1: serial 00000002 jintun/w01 signature ok" in text.stdout
    assert "duplicate of draft:" in text.stdout


def test_the_progress_bar_shows_on_a_terminal_only(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    from gateway.core.cli import progress_bar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress_bar(total=3, desc="页") as bar:
        bar.update(3)
    assert "3/3" in terminal.getvalue() and "页" in terminal.getvalue()
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    with progress_bar(total=3, desc="页") as bar:
        bar.update(3)
    assert piped.getvalue() == ""
