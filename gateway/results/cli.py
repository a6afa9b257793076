"""Command-line commands of this feature, mounted under `hcp` by gateway/channel_plugins.py."""

from __future__ import annotations

import click


@click.group(name="report")
def report_group() -> None:
    """report commands."""


@click.group(name="demo")
def demo_group() -> None:
    """demo commands."""
