"""SMS send cost per message through each provider's real SDK against the local fake servers of the
tests (which recompute the request signature): signing, one local HTTP round trip, parsing.

Says nothing about the providers' own latency; it shows what this process spends per message.

    python benchmarks/sms_send.py [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.core.settings import Settings
from gateway.sms.alibaba import AlibabaSms
from gateway.sms.content import SmsContent
from gateway.sms.tencent import TencentSms
from tests.sms.fakes import (
    ALI_KEY_ID,
    ALI_SECRET,
    TC_KEY_ID,
    TC_SECRET,
    FakeAlibaba,
    FakeTencent,
    serve,
)

CONTENT = SmsContent("acknowledgement", "SMS_1", (("code", "JX20261127-0001"), ("url", "https://h.cn/status")),
                     "您的意见已受理")


async def main(n: int) -> None:
    cases = (("alibaba", FakeAlibaba(), AlibabaSms, (ALI_KEY_ID, ALI_SECRET)),
             ("tencent", FakeTencent(), TencentSms, (TC_KEY_ID, TC_SECRET)))
    for name, fake, provider_class, (key_id, secret) in cases:
        async with serve(fake.handle) as endpoint:
            settings = Settings(_env_file=None, sms_provider=name, sms_key_id=key_id,  # type: ignore[call-arg]
                                sms_key_secret=secret, sms_sign_name="嘉祥县政务服务", sms_app_id="1400800001",
                                sms_endpoint=endpoint, sms_endpoint_scheme="http")
            provider = provider_class(settings)
            await provider.send("13812345678", CONTENT, "0")  # warm up
            started = time.perf_counter()
            for i in range(n):
                outcome = await provider.send("13812345678", CONTENT, str(i))
                assert outcome.ok, outcome
            took = time.perf_counter() - started
            print(f"{name}: {took / n * 1000:.1f} ms per SendSms, {n / took:.0f} messages/s "
                  f"(signatures refused by the fake: {fake.bad_signatures})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    asyncio.run(main(parser.parse_args().n))
