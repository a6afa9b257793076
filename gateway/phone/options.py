"""Hotline knobs beyond the ``twilio_*`` settings, from ``HCP_PHONE_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from channels.phone.numbers import DEFAULT_AREA_CODE
from channels.phone.twilio import DEFAULT_GREETING


class PhoneOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HCP_PHONE_", extra="ignore")

    area_code: str = Field(default=DEFAULT_AREA_CODE, pattern=r"^0\d{2,3}$")
    """The exchange's own area code, added to 7–8 digit local caller ids (0537 = Jining)."""
    record_max_seconds: int = Field(default=120, ge=5, le=3600)
    transcribe: bool = True
    greeting: str = Field(default=DEFAULT_GREETING, min_length=1, max_length=1000)
    sms_signature: str = Field(default="【嘉祥县政务服务】", max_length=20)
    """Mainland SMS must start with a registered signature in 【】."""
    match_before_minutes: int = Field(default=10, ge=0)
    match_after_minutes: int = Field(default=60, ge=0)
    """An operator's log matches an answered call from the same number logged between this long
    before the call began and this long after it ended."""
    retry_minutes: int = Field(default=120, ge=5)
    """After an unreached call back, the next try is due this much later."""
    return_visit_working_days: int = Field(default=1, ge=1, le=10)
    """A 回访 is due by the close of this working day after the reply."""
    sms_thread_days: int = Field(default=3, ge=0)
    """An SMS without a tracking code that answers one of our SMS within this many days follows up that case."""
