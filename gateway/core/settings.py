"""One settings object, read from ``HCP_*`` environment variables and an optional TOML file.

Environment variables win over the file, the file wins over the defaults.  The file is found the
same way from any folder: ``HCP_CONFIG``, else ``./hcp.toml``, else ``/etc/hcp/hcp.toml``.  The
data directory never depends on the folder ``hcp`` runs in: a relative ``data_dir`` in the file is
taken relative to the file, and without one it is ``$XDG_DATA_HOME/hcp`` (``~/.local/share/hcp``);
a clerk who runs ``hcp`` from another folder must reach the same database and keys, never a new one.
Secrets are ``SecretStr`` so that printing or logging the settings never shows them;
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

from pydantic import Field, PrivateAttr, SecretStr, field_validator
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


SYSTEM_CONFIG = Path("/etc/hcp/hcp.toml")


class MissingLocalKey(RuntimeError):
    """A key file is missing from the data directory and this command must not invent one."""


def find_config_file() -> Path | None:
    """``HCP_CONFIG``, else ``./hcp.toml``, else ``/etc/hcp/hcp.toml``; ``None`` if there is none."""
    explicit = os.environ.get("HCP_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ValueError(f"HCP_CONFIG points at {explicit}, which is not a file")
        return path.resolve()
    for candidate in (Path.cwd() / "hcp.toml", SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate.resolve()
    return None


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/hcp`` or ``~/.local/share/hcp``: absolute, the same from every folder."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (Path(base) / "hcp").resolve()


class _TomlRelativeToFile(TomlConfigSettingsSource):
    """The TOML file, with a relative ``data_dir`` taken relative to the file's own folder."""

    def __init__(self, settings_cls: type[BaseSettings], toml_file: Path) -> None:
        super().__init__(settings_cls, toml_file=toml_file)
        self._folder = toml_file.parent

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        if values.get("data_dir") and not Path(values["data_dir"]).expanduser().is_absolute():
            values["data_dir"] = str(self._folder / values["data_dir"])
        return values


class Settings(BaseSettings):
    """Every knob of the gateway.  Field names map to ``HCP_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="HCP_", extra="ignore", toml_file=None)

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # Where citizens reach the app from outside (links, QR posters, SMS/e-mail notices).  Unset,
    # it falls back to http://HOST:PORT and ``public_url_configured`` is False, which links,
    # posters and ``hcp serve`` say out loud.
    public_url: str = ""
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    log_level: str = "INFO"

    tracking_prefix: str = Field(default="JX", pattern=r"^[A-Z]{1,4}$")
    timezone: str = "Asia/Shanghai"
    office_hours: str = "08:30-12:00,13:30-17:00"
    coordinated_reminder_working_days: int = Field(default=1, ge=0, le=10)
    # Deadlines the rules leave to the office (gateway/core/deadlines.py, DeadlinePolicy).
    inquiry_reply_working_days: int = Field(default=1, ge=1, le=30)  # 咨询: the answer
    suggestion_reply_working_days: int = Field(default=5, ge=1, le=30)  # 建议: the acknowledgement
    immediate_result_working_days: int = Field(default=1, ge=1, le=10)  # 立整立改: result after the call back
    coordinated_default_working_days: int = Field(default=10, ge=1, le=120)  # 协调整改 without a handler's date
    return_visit_attempts: int = Field(default=3, ge=1, le=10)  # unreached calls before 回访未果 may be recorded
    calendar_warning_from: str = Field(default="11-01", pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
    deadline_warning_minutes: int = Field(default=30, ge=0)

    triage_rules: Path | None = None
    # The 考核 rules (gateway/results/data/assessment.toml is the shipped default).
    assessment_rules: Path | None = None
    # Worker processes that run the triage off the event loop (gateway/core/triage_service.py);
    # -1: one where there is a second core, 0: in the gateway process.
    triage_processes: int = Field(default=-1, ge=-1, le=16)
    # Retrain the triage's learned model from the team's corrections every this many hours
    # (gateway/console/triage_retrain.py; 0: never). The rules' model file must be writable.
    triage_retrain_hours: float = Field(default=24.0, ge=0)

    max_blob_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # SQLite only: FULL syncs every commit (an acknowledged submission survives a power cut), NORMAL
    # syncs at checkpoints (faster, may lose the last commits); see README *Hardening*.
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    # Every request body (gateway/ui/body_limit.py); uploads and the API have their own limits.
    max_request_bytes: int = Field(default=1024 * 1024, gt=0)

    secret_key: SecretStr | None = None
    data_keys: SecretStr | None = None

    run_workers: bool = True
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_backoff_seconds: float = Field(default=30.0, gt=0)
    outbox_batch: int = Field(default=50, ge=1)
    # How long a worker's claim on a row lasts; a worker that dies mid-send releases its rows after it.
    outbox_lease_seconds: float = Field(default=300.0, ge=1)
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
    # SMS (gateway/sms): which provider sends, and its account, signature and approved templates.
    # Nothing is sent and no page offers SMS until ``gateway.core.sms_config.sms_missing`` is empty.
    sms_provider: Literal["alibaba", "tencent", "twilio"] | None = None
    sms_key_id: str | None = None  # Alibaba AccessKey ID / Tencent SecretId
    sms_key_secret: SecretStr | None = None  # Alibaba AccessKey Secret / Tencent SecretKey
    sms_app_id: str | None = None  # Tencent SmsSdkAppId
    sms_region: str = "ap-guangzhou"  # Tencent region
    sms_sign_name: str | None = None  # the approved signature, without 【】 (Alibaba SignName, Tencent SignName)
    sms_templates: dict[str, str] = Field(default_factory=dict)  # message kind -> approved template code
    sms_param_max: int = Field(default=35, ge=20, le=500)  # longest value a template variable accepts
    sms_endpoint: str | None = None  # host[:port] of the provider's API; tests point it at a local fake
    sms_endpoint_scheme: Literal["https", "http"] = "https"
    sms_report_token: SecretStr | None = None  # secret path part of the delivery-report URLs
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

    # Nightly backups (``hcp backup --nightly``, deploy/hcp-backup.timer): where, how many, and the
    # file holding the passphrase (readable by the service user only).
    # Addresses (or networks) that may read /metrics; after X-Forwarded-For from a trusted proxy.
    metrics_allow: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # "text" or "json" (one JSON object a line, for a log collector); no personal data in either.
    log_format: Literal["text", "json"] = "text"

    # Retention after a case is closed (gateway/ops/retention.py); None keeps everything.
    retain_originals_days: int | None = Field(default=None, ge=30)
    retain_personal_days: int | None = Field(default=None, ge=30)

    backup_dir: Path | None = None
    backup_keep: int = Field(default=14, ge=1, le=3650)
    backup_passphrase_file: Path | None = None

    # False in ``hcp`` commands other than ``hcp db upgrade``: a missing key file is an error
    # (wrong data directory) rather than a reason to generate a key nobody else has.
    _may_create_keys: bool = PrivateAttr(default=True)

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        """Resolved once, so a later ``chdir`` cannot move the data (``HCP_DATA_DIR=var`` is from here)."""
        return value.expanduser().resolve()

    _public_url_set: bool = PrivateAttr(default=True)

    def model_post_init(self, context: Any, /) -> None:
        if not self.public_url.strip():
            self.public_url = f"http://{self.host}:{self.port}"
            self._public_url_set = False

    @property
    def public_url_configured(self) -> bool:
        """Whether ``HCP_PUBLIC_URL`` was set; otherwise ``public_url`` is only a local guess."""
        return self._public_url_set

    def allow_new_keys(self, allowed: bool) -> None:
        self._may_create_keys = allowed

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
        config_file = find_config_file()
        if config_file is not None:
            sources.append(_TomlRelativeToFile(settings_cls, config_file))
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
            if not self._may_create_keys:
                raise MissingLocalKey(
                    f"{path} 不存在：数据目录不对，或尚未初始化（先运行 `hcp db upgrade`）。"
                    f"已有的签名和数据密钥不会被另行生成。")
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
