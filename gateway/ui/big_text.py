"""The citizens' 大字 (large text) choice, shared by every citizen page.

``?big=1``/``?big=0`` (what the 大字 button submits without JavaScript) wins over the ``hcp_big``
cookie and is remembered in it, so the choice follows the citizen from page to page (the web form,
``/status``, ``/public`` and ``/screen`` all go through here).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

BIG_COOKIE = "hcp_big"
BIG_COOKIE_AGE = 365 * 86400


def big_text(request: Request) -> tuple[bool, str | None]:
    """(large text on?, the value to store in the cookie or None when nothing was asked)."""
    asked = request.query_params.get("big")
    if asked in ("0", "1"):
        return asked == "1", asked
    return request.cookies.get(BIG_COOKIE) == "1", None


def remember_big_text(request: Request, response: Response, asked: str | None) -> Response:
    if asked is not None:
        response.set_cookie(BIG_COOKIE, asked, max_age=BIG_COOKIE_AGE, samesite="lax",
                            secure=request.url.scheme == "https", path="/")
    return response
