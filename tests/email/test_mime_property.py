"""Property tests: random MIME trees (nested multiparts, content types, charsets, transfer
encodings, dispositions, broken boundaries) through the whole adapter.

What must hold for every tree: ``parse_email`` never raises, and every leaf part comes back
accounted for — its text in the complaint text, or a kept file with the same bytes, or a record
saying it was another rendering of the chosen text or why it was not kept.
"""

from __future__ import annotations

import hashlib
import quopri
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.mime import ALTERNATIVE, ATTACHMENT, SKIPPED, TEXT
from channels.email.parse import UnparseableEmail, parse_email
from tests.email import clients

CRLF = b"\r\n"
WORDS = ["窗口", "态度", "排队", "材料", "坡道", "社保", "办事", "很慢", "服务", "大厅", "Müller", "abc", "123",
         "，", "。", " ", "镕", "喆"]
TEXT_TYPES = ["text/plain", "text/html"]
FILE_TYPES = ["image/jpeg", "image/png", "application/pdf", "application/octet-stream", "application/ms-tnef",
              "text/calendar", "application/pkcs7-signature", "audio/amr", "message/rfc822"]
# label -> codec that writes the bytes (GB2312 labels on GBK bytes, a label nobody knows)
CHARSETS = {"utf-8": "utf-8", "gb2312": "gbk", "GBK": "gbk", "gb18030": "gb18030", "big5": "big5",
            "iso-8859-1": "latin-1", "x-unknown": "utf-8", None: "utf-8"}
SUBTYPES = ["mixed", "alternative", "related", "signed", "parallel", "x-unknown"]
BREAKAGES = [None, None, None, "no-boundary", "unindented", "wrong-boundary"]


@dataclass
class Leaf:
    content_type: str
    charset: str | None
    encoding: str
    disposition: str | None
    filename: str | None
    content_id: str | None
    words: str
    blob: bytes
    marker: str = ""
    path: str = ""
    payload: bytes = b""


@dataclass
class Node:
    subtype: str
    children: list[Leaf | Node]
    breakage: str | None
    path: str = ""
    boundary: str = ""


@dataclass
class Tree:
    root: Leaf | Node
    leaves: list[Leaf] = field(default_factory=list)


leaves = st.builds(
    Leaf,
    content_type=st.sampled_from(TEXT_TYPES * 3 + FILE_TYPES),
    charset=st.sampled_from(list(CHARSETS)),
    encoding=st.sampled_from(["base64", "quoted-printable", "8bit", "7bit"]),
    disposition=st.sampled_from([None, None, "inline", "attachment"]),
    filename=st.sampled_from([None, None, "照片.jpg", "report.pdf", "材料 清单.doc"]),
    content_id=st.sampled_from([None, None, "part1.abc@example.cn"]),
    words=st.lists(st.sampled_from(WORDS), max_size=12).map("".join),
    blob=st.binary(max_size=200),
)


def _nodes(children: st.SearchStrategy[list[Leaf | Node]]) -> st.SearchStrategy[Node]:
    return st.builds(Node, subtype=st.sampled_from(SUBTYPES), children=children, breakage=st.sampled_from(BREAKAGES))


trees = st.recursive(leaves, lambda inner: _nodes(st.lists(inner, min_size=1, max_size=4)), max_leaves=8)


def _number(tree: Leaf | Node, path: str, found: list[Leaf]) -> None:
    tree.path = path or "1"
    if isinstance(tree, Leaf):
        tree.marker = f"QX{len(found)}Z"
        found.append(tree)
        return
    tree.boundary = f"=_b_{path or 'top'}_x"
    for index, child in enumerate(tree.children):
        _number(child, f"{path}.{index + 1}" if path else str(index + 1), found)


def _render_leaf(leaf: Leaf) -> bytes:
    headers: list[str] = []
    params = ""
    if leaf.content_type in TEXT_TYPES:
        text = f"{leaf.marker} {leaf.words}" if leaf.content_type == "text/plain" else (
            f"<p>{leaf.marker}</p><p>{leaf.words}</p>")
        leaf.payload = text.encode(CHARSETS[leaf.charset], errors="replace")
        if leaf.charset:
            params += f'; charset="{leaf.charset}"'
        encoding = leaf.encoding
    elif leaf.content_type == "message/rfc822":
        leaf.payload = (f"From: x@example.cn\r\nSubject: {leaf.marker}\r\n\r\n{leaf.marker} inner\r\n").encode()
        encoding = "7bit"
    else:
        leaf.payload = leaf.blob + leaf.marker.encode()
        encoding = "base64"
    if leaf.filename:
        params += f'; name="{clients.word(leaf.filename)}"'
    headers.append(f"Content-Type: {leaf.content_type}{params}")
    headers.append(f"Content-Transfer-Encoding: {encoding}")
    if leaf.disposition:
        name = f'; filename="{clients.word(leaf.filename)}"' if leaf.filename else ""
        headers.append(f"Content-Disposition: {leaf.disposition}{name}")
    if leaf.content_id:
        headers.append(f"Content-ID: <{leaf.marker}.{leaf.content_id}>")
    if encoding == "base64":
        body = clients.b64(leaf.payload)
    elif encoding == "quoted-printable":
        body = quopri.encodestring(leaf.payload).replace(b"\n", CRLF)
    else:
        body = leaf.payload
    return "\r\n".join(headers).encode() + CRLF + CRLF + body


def _render(tree: Leaf | Node) -> bytes:
    if isinstance(tree, Leaf):
        return _render_leaf(tree)
    content_type = f"multipart/{tree.subtype}"
    if tree.breakage == "no-boundary":
        header = f"Content-Type: {content_type}"
    elif tree.breakage == "unindented":
        header = f'Content-Type: {content_type};\r\nboundary="{tree.boundary}"'
    elif tree.breakage == "wrong-boundary":
        header = f'Content-Type: {content_type}; boundary="not-{tree.boundary}"'
    else:
        header = f'Content-Type: {content_type};\r\n\tboundary="{tree.boundary}"'
    body = b""
    for child in tree.children:
        body += f"--{tree.boundary}\r\n".encode() + _render(child) + CRLF
    body += f"--{tree.boundary}--\r\n".encode()
    return header.encode() + CRLF + CRLF + body


def build(root: Leaf | Node) -> tuple[bytes, list[Leaf]]:
    found: list[Leaf] = []
    _number(root, "", found)
    top = (f"From: {clients.word('王小明')} <wangxm@example.cn>\r\nTo: feedback@example.cn\r\n"
           f"Subject: {clients.word('随机邮件')}\r\nMessage-ID: <prop@example.cn>\r\nMIME-Version: 1.0\r\n").encode()
    return top + _render(root), found


# 120 examples here (≈ 2 s); 3,000 of each property were run once by hand while writing this.
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_random_trees_never_raise_and_lose_no_leaf(root: Leaf | Node) -> None:
    raw, found = build(root)
    parsed = parse_email(raw)
    intake = parsed.intake
    assert intake is not None
    records = {r.path: r for r in parsed.parts}
    assert len(records) == len(parsed.parts), "two records for one part"
    assert sorted(records) == sorted(leaf.path for leaf in found), (raw, parsed.parts)
    kept = {a.sha256: a for a in intake.attachments}
    for leaf in found:
        record = records[leaf.path]
        if record.role == TEXT:
            assert leaf.content_type in TEXT_TYPES
            assert leaf.marker in intake.text
        elif record.role == ATTACHMENT:
            attachment = kept[record.sha256]
            assert attachment.content is not None
            if leaf.content_type == "message/rfc822":
                assert leaf.marker.encode() in attachment.content
            else:
                assert attachment.content == leaf.payload
        elif record.role == ALTERNATIVE:
            assert record.reason
        else:
            assert record.role == SKIPPED and record.reason
    assert {a.sha256 for a in intake.attachments} <= {r.sha256 for r in parsed.parts if r.role == ATTACHMENT}
    broken = isinstance(root, Node) and _any_broken(root)
    assert bool(intake.extra.get("mime_malformed")) is broken


def _any_broken(node: Node) -> bool:
    return node.breakage is not None or any(isinstance(c, Node) and _any_broken(c) for c in node.children)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(clients.CLIENT_MAILS)), st.data())
def test_damaged_client_mails_never_crash(client: str, data: st.DataObject) -> None:
    """Real shapes cut off, with bytes flipped or lines dropped: read, or quarantined — never a crash."""
    raw = bytearray(clients.CLIENT_MAILS[client]()[0])
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["cut", "flip", "drop-line", "dup-line"]))
        position = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        if action == "cut":
            del raw[position:]
        elif action == "flip" and raw:
            raw[position] = data.draw(st.integers(0, 255))
        elif raw:
            start = raw.rfind(b"\n", 0, position) + 1
            end = raw.find(b"\n", position)
            end = len(raw) if end < 0 else end + 1
            if action == "drop-line":
                del raw[start:end]
            else:
                raw[start:start] = raw[start:end]
    try:
        parsed = parse_email(bytes(raw))
    except UnparseableEmail:
        return
    if parsed.intake is not None:
        assert all(a.sha256 == hashlib.sha256(a.content).hexdigest() for a in parsed.intake.attachments if a.content)


def test_the_generator_reaches_the_broken_shapes() -> None:
    """A fixed tree with each breakage, so the property above is known to cover them."""
    def leaf(content_type: str) -> Leaf:
        return Leaf(content_type, "utf-8", "base64", None, None, None, "窗口态度", b"\xff\xd8")
    for breakage in BREAKAGES[3:]:
        inner = Node("related", [leaf("text/html"), leaf("image/jpeg")], breakage)
        root = Node("alternative", [leaf("text/plain"), inner], None)
        raw, found = build(root)
        parsed = parse_email(raw)
        assert parsed.intake is not None
        assert [r.role for r in parsed.parts] == [TEXT, ALTERNATIVE, ATTACHMENT], (breakage, parsed.parts)
        assert [a.content for a in parsed.intake.attachments] == [found[2].payload]
        assert parsed.intake.extra["mime_malformed"] is True
