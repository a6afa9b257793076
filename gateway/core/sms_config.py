"""Is SMS configured, and what is missing if not?

Every page that would offer or promise an SMS (the 找茬窗口 form, the receipt, the hotline, the
handler's reply form) and ingest (which queues the acknowledgement) ask ``sms_ready``; the SMS
channel page lists ``sms_missing``.  It lives in the core because ingest needs it and the core
imports no feature; it reads settings only (no network), so "configured" means "complete", and the
channel page shows whether the provider has actually been answering.
"""

from __future__ import annotations

from gateway.core.settings import Settings

# Message kinds SMS carries, and the template each needs on a domestic provider.  ``reply`` (the
# answer's own text in a template variable) is optional: without it, or when the answer is longer
# than a variable allows, the citizen gets ``reply_notice`` with the status-lookup link.
REQUIRED_TEMPLATES = ("acknowledgement", "reply_notice")
OPTIONAL_TEMPLATES = ("reply", "return_visit", "evaluation_request")
TEMPLATE_KINDS = REQUIRED_TEMPLATES + OPTIONAL_TEMPLATES
PROVIDER_NAMES = {"alibaba": "阿里云短信", "tencent": "腾讯云短信", "twilio": "Twilio"}


def sms_missing(settings: Settings) -> list[str]:
    """The settings still needed before SMS can be sent (empty: ready), as environment variable names."""
    provider = settings.sms_provider
    if provider is None:
        return ["HCP_SMS_PROVIDER (alibaba, tencent 或 twilio)"]
    if provider == "twilio":
        return [name for name, value in (("HCP_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
                                         ("HCP_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
                                         ("HCP_TWILIO_FROM", settings.twilio_from)) if not value]
    needed = [("HCP_SMS_KEY_ID", settings.sms_key_id), ("HCP_SMS_KEY_SECRET", settings.sms_key_secret),
              ("HCP_SMS_SIGN_NAME", settings.sms_sign_name)]
    if provider == "tencent":
        needed.append(("HCP_SMS_APP_ID", settings.sms_app_id))
    missing = [name for name, value in needed if not value]
    missing += [f"HCP_SMS_TEMPLATES 中的 {kind}" for kind in REQUIRED_TEMPLATES
                if not settings.sms_templates.get(kind)]
    return missing


def sms_ready(settings: Settings) -> bool:
    """True when an SMS can actually leave: a provider with its keys, signature and required templates."""
    return not sms_missing(settings)
