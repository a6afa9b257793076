"""Fixtures of the SMS tests: settings for each provider pointed at a local fake, and the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.core.settings import Settings
from tests.sms.fakes import ALI_KEY_ID, ALI_SECRET, TC_KEY_ID, TC_SECRET, FakeAlibaba, FakeTencent, serve

TEMPLATES = {"acknowledgement": "SMS_470001", "reply_notice": "SMS_470002", "reply": "SMS_470003",
             "return_visit": "SMS_470004", "evaluation_request": "SMS_470005"}
REPORT_TOKEN = "report-token-0123456789abcdef"


@pytest.fixture
async def fake_alibaba() -> AsyncIterator[FakeAlibaba]:
    fake = FakeAlibaba()
    async with serve(fake.handle) as endpoint:
        fake.endpoint = endpoint
        yield fake


@pytest.fixture
async def fake_tencent() -> AsyncIterator[FakeTencent]:
    fake = FakeTencent()
    async with serve(fake.handle) as endpoint:
        fake.endpoint = endpoint
        yield fake


def provider_settings(tmp_path: Path, database_url: str, provider: str, endpoint: str, **extra: object) -> Settings:
    keys = {"alibaba": (ALI_KEY_ID, ALI_SECRET), "tencent": (TC_KEY_ID, TC_SECRET)}[provider]
    return Settings(data_dir=tmp_path / "var", database_url=database_url, run_workers=False,
                    sms_provider=provider, sms_key_id=keys[0], sms_key_secret=keys[1], sms_sign_name="嘉祥县政务服务",
                    sms_app_id="1400800001" if provider == "tencent" else None, sms_templates=dict(TEMPLATES),
                    sms_endpoint=endpoint, sms_endpoint_scheme="http", sms_report_token=REPORT_TOKEN,
                    public_url="https://hcp.jiaxiang.gov.cn", **extra,  # type: ignore[arg-type]
                    _env_file=None)  # type: ignore[call-arg]
