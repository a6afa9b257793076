"""Messages answered ``success`` before they were stored, kept on disk until they are.

Why: WeChat waits 5 seconds for an answer and retries a message it got no answer for, but never
one answered ``success``.  When storing takes longer than ``reply_seconds`` the route answers
``success`` so the follower is not told the account is out of service; from that moment WeChat
will not send the message again, so it is written here first (sealed with the personal-data key:
it holds the OpenID and the citizen's words; written atomically and synced to disk).  The file is
removed once the message is stored; a process that dies in between leaves it, and the worker's
``wechat-spool`` job stores it (exactly once: storing is idempotent by MsgId) and sends the
acknowledgement.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path
from typing import Any

SUFFIX = ".msg"


def spool_dir(settings: Any) -> Path:
    return Path(settings.data_dir) / "spool" / "wechat"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(directory: Path, cipher: Any, msg_id: str, raw: bytes) -> Path:
    """Seal ``raw`` into ``directory`` under a name derived from the MsgId (no personal data in
    file names); returns the path.  Raises ``OSError`` (disk full…): the caller then must not
    answer ``success``."""
    directory.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(msg_id.encode("utf-8")).hexdigest()[:32] + SUFFIX
    path = directory / name
    tmp = directory / (name + ".tmp")
    sealed = cipher.seal(base64.b64encode(raw).decode("ascii"))
    with open(tmp, "wb") as fh:
        fh.write(sealed)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(directory)
    return path


def read(path: Path, cipher: Any) -> bytes:
    text = cipher.open(path.read_bytes())
    if text is None:
        raise ValueError(f"{path.name}: empty spool file")
    return base64.b64decode(text)


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def pending(directory: Path, older_than: float = 60.0) -> list[Path]:
    """Spooled messages older than ``older_than`` seconds (younger ones may still be stored by
    the request that wrote them), oldest first."""
    if not directory.is_dir():
        return []
    cutoff = time.time() - older_than
    files = [p for p in directory.glob("*" + SUFFIX) if p.stat().st_mtime <= cutoff]
    return sorted(files, key=lambda p: p.stat().st_mtime)
