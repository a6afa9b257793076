"""One settings object, read from ``HCP_*`` environment variables and an optional TOML file.

Environment variables win over the file (``HCP_CONFIG=/etc/hcp.toml``), the file wins over the
defaults.  Secrets are ``SecretStr`` so that printing or logging the settings never shows them;
``Settings.public_view()`` is what ``hcp config`` shows.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from datetime import time
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_office_hours(spec: str) -> tuple[tuple[time, time], ...]:
    """``"08:30-12:00,13:30-17:00"`` → ordered, non-overlapping intervals; raise ``ValueError``."""
    intervals: list[tuple[time, time]] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        match = _INTERVAL.match(part)
        if not match:
            raise ValueError(f"office hours interval {part!r} is not of the form HH:MM-HH:MM")
        h1, m1, h2, m2 = map(int, match.groups())
        start, end = time(h1, m1), time(h2, m2)
        if start >= end:
            raise ValueError(f"office hours interval {part!r} ends before it starts")
        if intervals and start < intervals[-1][1]:
            raise ValueError(f"office hours interval {part!r} overlaps or precedes the one before it")
        intervals.append((start, end))
    if not intervals:
        raise ValueError("office hours are empty")
    return tuple(intervals)


class Settings(BaseSettings):
    """Every knob of the gateway.  Field names map to ``HCP_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="HCP_", extra="ignore", toml_file=None)

    data_dir: Path = Path("var")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = "http://127.0.0.1:8000"
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    log_level: str = "INFO"

    tracking_prefix: str = Field(default="JX", pattern=r"^[A-Z]{1,4}$")
    timezone: str = "Asia/Shanghai"
    office_hours: str = "08:30-12:00,13:30-17:00"
    coordinated_reminder_working_days: int = Field(default=1, ge=0, le=10)
    deadline_warning_minutes: int = Field(default=30, ge=0)

    triage_rules: Path | None = None
    # Worker processes that run the triage off the event loop (gateway/core/triage_service.py);
    # -1: one where there is a second core, 0: in the gateway process.
    triage_processes: int = Field(default=-1, ge=-1, le=16)
    # Retrain the triage's learned model from the team's corrections every this many hours
    # (gateway/console/triage_retrain.py; 0: never). The rules' model file must be writable.
    triage_retrain_hours: float = Field(default=24.0, ge=0)

    max_blob_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, gt=0)

    secret_key: SecretStr | None = None
    data_keys: SecretStr | None = None

    run_workers: bool = True
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_backoff_seconds: float = Field(default=30.0, gt=0)
    outbox_batch: int = Field(default=50, ge=1)
    worker_interval_seconds: float = Field(default=5.0, gt=0)

    imap_host: str | None = None
    imap_port: int | None = None
    imap_user: str | None = None
    imap_password: SecretStr | None = None
    imap_security: Literal["tls", "starttls", "plain"] = "tls"
    imap_folder: str = "INBOX"
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["tls", "starttls", "plain"] = "starttls"
    smtp_from: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    upstream_url: str | None = None  # city/provincial 好差评 endpoint (gateway/results/upstream.py)
    upstream_key: SecretStr | None = None  # HMAC-SHA256 key shared with the upstream endpoint
    twilio_api_base_url: str | None = None  # a local fake Twilio API in tests; None = api.twilio.com
    web_token_max_age_hours: float = Field(default=24.0, gt=0)  # 找茬窗口 form pages older than this re-ask
    web_submissions_per_client: int = Field(default=20, ge=1)  # per client address and 10 minutes
    web_submissions_per_window: int = Field(default=60, ge=1)  # per window (or town, general form), 10 minutes

    # Group commit of new intakes (gateway/core/ingest.py IngestBatcher); 1 writes each alone.
    ingest_batch_max: int = Field(default=64, ge=1, le=1000)

    # Inbound API (queue-calling systems, online platforms) and evaluation requests per 办件.
    api_max_body_bytes: int = Field(default=64 * 1024, gt=0)
    api_clock_skew_seconds: int = Field(default=300, ge=30, le=3600)
    evaluation_link_days: int = Field(default=7, ge=1, le=90)
    # Matters not rated within ``unrated_after_days``: "off" counts them as 未评 only; "basic"
    # also records a 基本满意 evaluation for them (some provinces' rule).  未评 is counted either way.
    unrated_policy: Literal["off", "basic"] = "off"
    unrated_after_days: int = Field(default=7, ge=1, le=90)

    @field_validator("office_hours")
    @classmethod
    def _office_hours(cls, value: str) -> str:
        parse_office_hours(value)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("HCP_CONFIG")
        if config_file:
            if not Path(config_file).is_file():
                raise ValueError(f"HCP_CONFIG points at {config_file}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # ----- derived values -------------------------------------------------------------------

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hcp.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @cached_property
    def office_intervals(self) -> tuple[tuple[time, time], ...]:
        return parse_office_hours(self.office_hours)

    def signing_key(self) -> bytes:
        """The HMAC key for tracking links, Message-IDs and slips; generated once if not configured."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return self._local_secret("secret.key", lambda: secrets.token_urlsafe(32)).encode()

    def encryption_keys(self) -> list[tuple[str, bytes]]:
        """``[(key_id, 32-byte key), …]``, the first being current; older ones decrypt only.

        ``HCP_DATA_KEYS="k2:BASE64,k1:BASE64"``.  Without it a key is generated under the data
        directory, which suits one machine; a cluster must configure the same keys everywhere.
        """
        spec = (self.data_keys.get_secret_value() if self.data_keys is not None
                else self._local_secret("data.key",
                                        lambda: "local1:" + base64.b64encode(os.urandom(32)).decode()))
        keys: list[tuple[str, bytes]] = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key_id, sep, encoded = item.partition(":")
            if not sep or not key_id:
                raise ValueError("HCP_DATA_KEYS entries must look like id:base64key")
            key = base64.b64decode(encoded)
            if len(key) != 32:
                raise ValueError(f"data key {key_id!r} must be 32 bytes (256-bit AES-GCM)")
            keys.append((key_id, key))
        if not keys:
            raise ValueError("HCP_DATA_KEYS holds no key")
        return keys

    def _local_secret(self, name: str, make: Any) -> str:
        path = self.data_dir / name
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(make())
        return path.read_text().strip()

    def public_view(self) -> dict[str, Any]:
        """The settings as a dict with every secret replaced by ``'***'`` (or ``None`` if unset)."""
        view: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(value, SecretStr):
                view[name] = "***"
            elif isinstance(value, Path):
                view[name] = str(value)
            else:
                view[name] = value
        url = self.resolved_database_url
        view["database_url"] = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
        return view
