"""WeChat settings from ``HCP_WECHAT_*`` environment variables.  Secrets are ``SecretStr`` (never
printed); nothing here is required, and a channel without its settings stays off and says so."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from channels.wechat.crypto import aes_key


class WechatOptions(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HCP_WECHAT_", extra="ignore")

    token: SecretStr | None = None
    """The Token entered in the account's 服务器配置 (signs every request WeChat sends)."""
    aes_key: SecretStr | None = None
    """The 43-character EncodingAESKey; set it for 安全模式 or 兼容模式 (encrypted bodies)."""
    app_id: str | None = Field(default=None, pattern=r"^wx[0-9a-f]{16}$")
    app_secret: SecretStr | None = None
    """AppID and AppSecret: needed for the access token (outbound messages, media downloads)."""
    api_base_url: str = "https://api.weixin.qq.com"
    """WeChat's API; the tests point it at a local fake."""
    template_id: str | None = None
    """A template (模板消息) for status notices after the 48-hour customer-service window; without it
    such notices fail with a reason staff can see, and are answered another way."""
    timestamp_window: int = Field(default=300, ge=30, le=3600)
    """Requests whose timestamp is further than this from the server's clock are refused (replays)."""
    thread_hours: int = Field(default=48, ge=0, le=24 * 30)
    """A message without a tracking code within this many hours of the sender's last one joins
    that open case (WeChat users send a complaint in several short messages)."""
    reply_seconds: float = Field(default=4.0, gt=0, le=4.5)
    """WeChat waits 5 s for the passive reply; after this, the answer goes by customer-service message."""
    token_margin_seconds: int = Field(default=300, ge=60, le=3600)
    """Refresh the access token this long before it expires."""
    max_media_bytes: int = Field(default=10 * 1048576, ge=1024)

    @field_validator("aes_key")
    @classmethod
    def _aes_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            aes_key(value.get_secret_value())
            return value
        return None

    @property
    def inbound(self) -> bool:
        return bool(self.token and self.token.get_secret_value())

    @property
    def outbound(self) -> bool:
        return bool(self.app_id and self.app_secret and self.app_secret.get_secret_value())

    def missing(self) -> list[str]:
        """The variables still to set, for the staff page."""
        names = []
        if not self.inbound:
            names.append("HCP_WECHAT_TOKEN")
        if not self.app_id:
            names.append("HCP_WECHAT_APP_ID")
        if not (self.app_secret and self.app_secret.get_secret_value()):
            names.append("HCP_WECHAT_APP_SECRET")
        return names


class WechatConfigError(ValueError):
    """``HCP_WECHAT_*`` holds a value that cannot work (an EncodingAESKey of the wrong length, …)."""


def load_options() -> WechatOptions:
    """The options from the environment, or ``WechatConfigError`` naming each bad variable."""
    try:
        return WechatOptions()
    except ValidationError as exc:
        problems = "; ".join(
            f"HCP_WECHAT_{'.'.join(map(str, e['loc'])).upper()}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors())
        raise WechatConfigError(problems) from None
