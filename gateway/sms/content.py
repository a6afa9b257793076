"""What an SMS says: each message kind as an approved template and its parameters.

Mainland providers send only pre-approved templates (a code such as ``SMS_123456789`` at Alibaba,
a numeric id at Tencent) whose variables are filled in; each variable takes a short value (35
characters at Alibaba for most kinds; ``HCP_SMS_PARAM_MAX``), and links belong in the approved
template text, not in variables (providers reject templates whose variables carry whole URLs).  So
the status-lookup address is written into the templates, and only the evaluation link's token
(29 characters) is a variable.  Twilio sends free text, built from the same facts.  The kinds and
their variables, in the order Tencent's positional ``{1}``, ``{2}`` take them (Alibaba's templates
name them ``${code}`` …):

=====================  =====================================  ===========================================
kind                   variables                              when
=====================  =====================================  ===========================================
``acknowledgement``    ``code``                               the case was received (受理回执)
``reply``              ``code``, ``text``                     a handler's answer that fits one variable
``reply_notice``       ``code``                               any other answer: "已答复，请到（查询页）查看"
``return_visit``       ``code``                               a 回访 call did not reach the citizen
``evaluation_request`` ``item``, ``days``, ``link``           a finished 办件 asks for an evaluation
=====================  =====================================  ===========================================

An answer is never cut: one longer than a variable allows (or with no ``reply`` template) goes
out as ``reply_notice``, and the status lookup shows the full text to the citizen.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VARIABLES: dict[str, tuple[str, ...]] = {
    "acknowledgement": ("code",),
    "reply": ("code", "text"),
    "reply_notice": ("code",),
    "return_visit": ("code",),
    "evaluation_request": ("item", "days", "link"),
}
TWILIO_MAX = 1600  # Twilio's longest body (it splits it into segments itself)


class ContentError(ValueError):
    """The message cannot be sent as configured (no template for its kind, a value too long)."""


@dataclass(frozen=True, slots=True)
class SmsContent:
    """One SMS: the template (``None`` for free text) with its ordered parameters, and the plain text
    (what Twilio sends, and what the case timeline records)."""

    kind: str
    template: str | None
    params: tuple[tuple[str, str], ...]
    text: str

    @property
    def param_map(self) -> dict[str, str]:
        return dict(self.params)


def _facts(kind: str, payload: Mapping[str, Any]) -> dict[str, str]:
    code = str(payload.get("tracking_code") or "")
    facts = {"code": code}
    if kind == "reply":
        facts["text"] = str(payload.get("answer") or "")
    if kind == "evaluation_request":
        url = str(payload.get("url") or "")
        facts.update(item=str(payload.get("item") or "政务服务"), days=str(payload.get("days") or ""),
                     link=url.rsplit("/e/", 1)[1] if "/e/" in url else "")
    return facts


def notice_text(code: str, lookup_url: str) -> str:
    return f"您反映的问题（受理编号{code}）已有答复，内容较长，请凭受理编号和手机号后四位到 {lookup_url} 查看。"


def build(kind: str, body: str, payload: Mapping[str, Any], *, templates: Mapping[str, str] | None,
          lookup_url: str, param_max: int, signature: str = "") -> SmsContent:
    """The SMS for one outbox row.  ``templates`` is ``None`` for a free-text provider (Twilio).

    Raises ``ContentError`` when the kind has no template or a value does not fit; an answer that
    does not fit becomes a ``reply_notice`` instead.
    """
    if kind not in VARIABLES:
        raise ContentError(f"no SMS form for message kind {kind!r}")
    facts = _facts(kind, payload)
    if len(facts.get("item", "")) > param_max:  # a long service name is shortened visibly, with "…"
        facts["item"] = facts["item"][: param_max - 1] + "…"
    if templates is None:  # free text: the body as written, unless it is too long for one message
        text = body.strip()
        if signature and not text.startswith(signature):
            text = signature + text
        if len(text) > TWILIO_MAX:
            if kind != "reply":
                raise ContentError(f"SMS text of {len(text)} characters is longer than {TWILIO_MAX}")
            text = signature + notice_text(facts["code"], lookup_url)
            kind = "reply_notice"
        return SmsContent(kind, None, tuple((k, facts[k]) for k in VARIABLES[kind] if k in facts), text)
    if kind == "reply":
        answer = facts["text"]
        if not templates.get("reply") or not answer or len(answer) > param_max:
            kind = "reply_notice"
    template = templates.get(kind)
    if not template:
        raise ContentError(f"no template configured for {kind} (HCP_SMS_TEMPLATES)")
    params = tuple((name, facts.get(name, "")) for name in VARIABLES[kind])
    for name, value in params:
        if not value:
            raise ContentError(f"template variable {name} of {kind} is empty")
        if len(value) > param_max:
            raise ContentError(f"template variable {name} of {kind} is {len(value)} characters, "
                               f"longer than the {param_max} a variable allows (HCP_SMS_PARAM_MAX)")
    text = notice_text(facts["code"], lookup_url) if kind == "reply_notice" else body.strip()
    return SmsContent(kind, template, params, text)
