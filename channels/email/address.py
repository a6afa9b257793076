"""Who sent a mail: the addr-spec of From (or Reply-To), split from the raw header *before* any
encoded word is decoded.

Decoding first is how a sender gets forged or lost: ``=?utf-8?Q?boss=40county.gov.cn?=
<someone@else.example>`` decodes to ``boss@county.gov.cn <someone@else.example>``, and an encoded
display name holding a comma (``张三, 办公室``) decodes into two "addresses".  So each encoded word
is replaced by an opaque placeholder, ``email.utils.getaddresses`` splits the header on its real
commas and angle brackets, and only then are the display names decoded (leniently, by
``decode.decode_header_value``).  What ``getaddresses`` leaves unsplit (``Name name@host`` without
brackets, a trailing dot) is mended here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import getaddresses

from channels.contact import normalize_email
from channels.email.decode import decode_header_value

__all__ = ["Mailbox", "mailboxes"]

_WORD = re.compile(r"=\?[^?\s*]+(?:\*[^?\s]*)?\?[bBqQ]\?[^?\r\n]*?\?=")
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_ADDRESS_LIKE = re.compile(r"[A-Za-z0-9._%+!#$&'*/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_FOLD = re.compile(r"\r?\n[ \t]*")


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One mailbox of an address header: ``address`` is None when the addr-spec is not usable."""

    name: str
    address: str | None
    name_mismatch: bool = False
    """The display name looks like an e-mail address other than ``address`` (a forgery sign)."""
    spec: str = ""
    """The addr-spec as written, even when it is not a usable address (``MAILER-DAEMON``)."""


def _split(value: str) -> list[tuple[str, str]]:
    try:
        return getaddresses([value], strict=False)  # type: ignore[call-arg]  # Python ≥ 3.11.10
    except TypeError:
        return getaddresses([value])


def mailboxes(raw: str) -> list[Mailbox]:
    """The mailboxes of a raw (undecoded) address header value, in order."""
    if not raw or not raw.strip():
        return []
    words: list[str] = []

    def hide(match: re.Match[str]) -> str:
        words.append(match.group(0))
        return f"\ue000{len(words) - 1}\ue001"

    value = _WORD.sub(hide, _FOLD.sub(" ", raw))
    found: list[Mailbox] = []
    for display, address in _split(value):
        found.append(_mailbox(display, address, words))
    return found


def _mailbox(display: str, address: str, words: list[str]) -> Mailbox:
    address = address.strip().strip("<>").strip()
    if " " in address or "\t" in address:
        # ``Name name@host`` without brackets: the last token with an @ is the address.
        tokens = address.split()
        at = [i for i, token in enumerate(tokens) if "@" in token]
        if at:
            address = tokens[at[-1]]
            display = display or " ".join(tokens[:at[-1]] + tokens[at[-1] + 1:])
    address = address.strip("<>").rstrip(".")
    usable: str | None = None
    if not _PLACEHOLDER.search(address):
        try:
            usable = normalize_email(address)
        except ValueError:
            usable = None
    name = decode_header_value(_PLACEHOLDER.sub(lambda m: words[int(m.group(1))], display))
    name = name.strip()
    if len(name) > 1 and name[0] == name[-1] and name[0] in "\"'":  # quotes left around a decoded word
        name = name[1:-1].strip()
    shown = {found.lower().rstrip(".") for found in _ADDRESS_LIKE.findall(name)}
    mismatch = bool(shown) and shown != {usable}
    if mismatch:
        name = ""  # a forged name is no name
    elif shown:  # "王小明 (wangxm@example.cn)": the name without its own address
        name = _ADDRESS_LIKE.sub("", name).strip(" ()<>[]\"'")
    return Mailbox(name=name[:50].strip(), address=usable, name_mismatch=mismatch,
                   spec=address if not _PLACEHOLDER.search(address) else "")
