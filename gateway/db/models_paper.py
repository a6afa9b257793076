"""Tables of the paper feature (see gateway/db/schema.py for how feature tables are collected)."""

from __future__ import annotations
