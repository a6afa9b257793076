"""Mending the two breakages of raw MIME that cost the most text, before and during the walk.

1. A header continuation line without indentation (``boundary="x"`` on its own line under
   ``Content-Type: multipart/mixed;``, the second encoded word of a long subject): the standard
   parser takes it for the start of the body, so every header below it — often the whole MIME
   structure — is lost.  ``unfold_orphans`` indents such a line when it can only be a
   continuation.  It runs only when the parser reported ``MissingHeaderBodySeparatorDefect``.
2. A ``multipart/*`` part whose children cannot be split (no boundary parameter, or one that never
   occurs in the body).  ``sniff_boundary`` finds the delimiter the body really uses, so the parts
   can be read after all.
"""

from __future__ import annotations

import re

_HEADER = re.compile(rb"^[!-9;-~]+:")
_PARAMETER = re.compile(rb"^[A-Za-z][\w-]*\*?\d*\*?\s*=")
_ENCODED = re.compile(rb"^=\?[^?\s]+\?[bBqQ]\?")
_BOUNDARY_LINE = re.compile(rb"^--[^\s]")
_DELIMITER = re.compile(r"^--([^\s]{1,70}?)(--)?[ \t]*\r?$", re.M)
_PART_HEADER = re.compile(r"^Content-[\w-]+:", re.I)


def unfold_orphans(raw: bytes) -> bytes:
    """``raw`` with unindented continuation lines of header blocks indented.

    A line in a header block (the message's or a part's, after a ``--boundary`` line) that has no
    ``Name:`` and no leading space is taken for a continuation when it is a MIME parameter
    (``boundary=…``), starts with an encoded word, follows a line ending in ``;`` or ``,``, or is
    followed by more header lines before the blank line.  Anything else is left for the parser,
    which then starts the body there, as before.
    """
    lines = raw.split(b"\n")
    in_header = True
    previous = b""
    for index, line in enumerate(lines):
        bare = line.rstrip(b"\r")
        if not in_header:
            if _BOUNDARY_LINE.match(bare):
                in_header, previous = True, b""
            continue
        if not bare:
            in_header = False
            continue
        if bare[:1] in (b" ", b"\t") or _HEADER.match(bare) or (index == 0 and bare.startswith(b"From ")):
            previous = bare
            continue
        if not previous:  # the block does not start with a header: not a header block at all
            in_header = False
            continue
        if (_PARAMETER.match(bare) or _ENCODED.match(bare) or previous.rstrip().endswith((b";", b","))
                or _more_headers(lines, index + 1)):
            lines[index] = b" " + line
            previous = bare
        else:
            in_header = False
    return b"\n".join(lines)


def _more_headers(lines: list[bytes], start: int) -> bool:
    for line in lines[start:start + 20]:
        bare = line.rstrip(b"\r")
        if not bare:
            return False
        if _HEADER.match(bare):
            return True
    return False


def sniff_boundary(body: str) -> str | None:
    """The boundary a multipart body really uses, or None.

    Candidates are ``--token`` lines followed by part headers (``Content-…:``) or a blank line.  The first one
    wins: a multipart's own first delimiter comes before any nested part's (a nested multipart
    may well repeat its delimiter more often, and its close delimiter may be cut off).
    """
    lines = body.split("\n")
    for index, line in enumerate(lines):
        match = _DELIMITER.match(line)
        if not match or not match.group(1).strip("-"):
            continue
        token = match.group(1)
        if match.group(2) is not None:
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _PART_HEADER.match(following) or not following.strip():  # headers, or none (plain text)
            return token
    return None
