"""Command-line commands of this feature, mounted under `hcp` by gateway/channel_plugins.py."""

from __future__ import annotations

import click


@click.group(name="paper")
def paper_group() -> None:
    """paper commands."""


@click.group(name="slips")
def slips_group() -> None:
    """slips commands."""
