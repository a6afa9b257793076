"""Tables of the WeChat Official Account channel (gateway/wechat/).

``wechat_tokens`` holds the account's access token, shared by every gateway and worker process:
WeChat allows 2,000 token fetches a day and a new token soon ends the old one, so processes must
not each fetch their own.  The token is a credential and is sealed like personal data.  The
citizen's OpenID lives encrypted in ``contacts.wechat_enc`` (with a keyed hash to find it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db.models import Base


class WechatToken(Base):
    """The current access token of one account (app id), sealed, with its expiry."""

    __tablename__ = "wechat_tokens"
    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[str | None] = mapped_column(String(32))
    token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime]
    fetched_at: Mapped[datetime]
