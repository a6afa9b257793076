"""Web routes of this feature (mounted through gateway/channel_plugins.py)."""

from __future__ import annotations

from typing import Any

routes: list[Any] = []
