"""The notice after a redirect: ``?done=CODE`` plus checked values, rendered from the catalogue.

Free text in ``?done=`` would let anyone craft a link that shows their words ("系统升级，请拨打…")
on a staff page.  Only codes of ``labels.NOTICE_LABELS`` are shown; the values filled in (a tracking
code, a count, a category) are checked against their shapes, and a link that fails shows nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlencode

from gateway.core.labels import ACTION_DONE_LABELS, CATEGORY_LABELS, EVENT_LABELS, NOTICE_LABELS

_CASE = re.compile(r"^[A-Z]{1,8}\d{8}-\d{4,6}$")


def notice_url(path: str, code: str, **values: str | int) -> str:
    assert code in NOTICE_LABELS, code
    return f"{path}{'&' if '?' in path else '?'}{urlencode({'done': code, **values})}"


def notice(params: Mapping[str, str]) -> str | None:
    """The Chinese notice for ``params`` (a request's query), or ``None``."""
    template = NOTICE_LABELS.get(params.get("done", ""))
    if template is None:
        return None
    case, n, category = params.get("case", ""), params.get("n", ""), params.get("category", "")
    if "{case}" in template and not _CASE.match(case):
        return None
    if "{n}" in template and not (n.isascii() and n.isdigit() and len(n) <= 6):
        return None
    if "{category}" in template and category not in CATEGORY_LABELS:
        return None
    step, event = params.get("step", ""), params.get("event", "")
    if "{step}" in template and step not in ACTION_DONE_LABELS:
        return None
    if "{event}" in template and event not in EVENT_LABELS:
        return None
    return template.format(case=case, n=n, category=CATEGORY_LABELS.get(category, ""),  # type: ignore[call-overload]
                           step=ACTION_DONE_LABELS.get(step, ""), event=EVENT_LABELS.get(event, ""))
