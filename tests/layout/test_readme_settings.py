"""The README names every setting an administrator can set (issue #24: the settings table lists
every HCP_* variable): each field of each settings class, as its environment variable."""

from __future__ import annotations

from pathlib import Path

from gateway.core.settings import Settings
from gateway.email.options import EmailOptions
from gateway.phone.options import PhoneOptions
from gateway.wechat.options import WechatOptions

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [prefix + name.upper()
               for cls in (Settings, EmailOptions, PhoneOptions, WechatOptions)
               for prefix in [cls.model_config.get("env_prefix", "")]
               for name in cls.model_fields
               if prefix + name.upper() not in text]
    assert missing == []
    assert "HCP_PORT" in text and "HCP_CONFIG" in text
