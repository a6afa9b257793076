"""Command-line commands of this feature, mounted under `hcp` by gateway/channel_plugins.py."""

from __future__ import annotations

import click


@click.group(name="phone")
def phone_group() -> None:
    """phone commands."""
