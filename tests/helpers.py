"""Test doubles and builders shared by the test modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from channels.intake import Intake

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: A small triage rules file: one ``immediate`` and one ``time_limited`` reason.
MINIMAL_RULES = """\
[settings]
review_threshold = 0.6
precedence = ["coordinated", "time_limited", "immediate"]

[negation]
cues = ["不", "没有"]

[reasons.attitude]
label = "immediate"

[reasons.attitude.terms]
"玩手机" = 2
"甩脸子" = 2

[reasons.efficiency]
label = "time_limited"

[reasons.efficiency.terms]
"排长队" = 2
"""



@dataclass(frozen=True)
class FixedOutcome:
    label: str
    reason: str | None
    confidence: float = 0.9
    needs_review: bool = False
    terms: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "reason": self.reason, "confidence": self.confidence,
                "needs_review": self.needs_review, "terms": list(self.terms)}


@dataclass
class FixedClassifier:
    """Triage by a marker in the text (``#immediate``, ``#review``…), so storage tests control the
    category without depending on the keyword rules, which ``tests/triage`` covers."""

    calls: list[str] = field(default_factory=list)

    def classify(self, text: str, *, channel: str | None = None, rating: str | None = None,
                 reasons: Any = ()) -> FixedOutcome:
        self.calls.append(text)
        for label, reason in (("immediate", "attitude"), ("time_limited", "efficiency"),
                              ("coordinated", "cross_department")):
            if f"#{label}" in text:
                return FixedOutcome(label, reason, needs_review="#review" in text,
                                    terms=({"term": label, "start": 0, "end": 1},))
        for reason in ("inquiry", "suggestion", "spam"):
            if f"#{reason}" in text:
                return FixedOutcome("none", reason, needs_review="#review" in text)
        return FixedOutcome("none", "praise", needs_review="#review" in text)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def make_intake(**overrides: Any) -> Intake:
    fields: dict[str, Any] = {
        "channel": "web",
        "source_ref": "form-token-1",
        "received_at": local(2026, 11, 27, 10, 0),
        "text": "窗口人员态度不好 #immediate",
        "rating": "不满意",
        "reasons": ["attitude"],
        "hall": "jintun",
        "window": "w01",
        "contact": {"name": "王小明", "phone": "138 1234 5678", "real_name": True, "preferred_channel": "sms"},
    }
    fields.update(overrides)
    return Intake.build(**fields)


def enable_sms(settings: Any) -> None:
    """Make SMS sendable (Twilio, whose keys need no template), for tests of what SMS carries."""
    settings.sms_provider = "twilio"
    settings.twilio_account_sid = "AC" + "0" * 31 + "1"
    settings.twilio_auth_token = SecretStr("test-auth-token")
    settings.twilio_from = "+15005550006"


def upgrade_once(env: dict[str, str], cwd: Any) -> None:
    """``hcp db upgrade`` in a fresh data directory, as an administrator does before anything else.

    Every other command refuses to create a database (gateway.core.cli.require_database).
    """
    import subprocess
    import sys
    from pathlib import Path

    if (Path(env["HCP_DATA_DIR"]) / "hcp.db").exists() or env.get("HCP_DATABASE_URL"):
        return
    # A failure (a bad setting under test) shows again in the command that follows.
    subprocess.run([sys.executable, "-m", "gateway.cli", "db", "upgrade"], capture_output=True, text=True,
                   env=env, timeout=120, cwd=cwd)
