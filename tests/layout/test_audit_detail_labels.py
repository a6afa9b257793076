"""Every key the code writes into an audit entry's or a timeline event's details has a Chinese
label, so /audit never shows 其他：… for something the product itself recorded."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.core.labels import AUDIT_DETAIL_LABELS, audit_detail_text

ROOT = Path(__file__).resolve().parents[2] / "gateway"


def test_every_literal_detail_key_has_a_label() -> None:
    missing = set()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg in ("data", "detail") and isinstance(keyword.value, ast.Dict):
                        missing |= {f"{path.relative_to(ROOT)}:{key.value}" for key in keyword.value.keys
                                    if isinstance(key, ast.Constant) and isinstance(key.value, str)
                                    and key.value not in AUDIT_DETAIL_LABELS}
    assert sorted(missing) == []


def test_a_pause_reads_in_words() -> None:
    assert audit_detail_text({"paused_seconds": 400, "old_due": None}) == "暂停秒数：400；原期限：未填"
