"""``hcp keys``: data-key generation and rotation of personal data to the current key."""

from __future__ import annotations

import base64
import os
import secrets
import sys

import click
from tqdm import tqdm

from gateway.core.cli import with_services
from gateway.core.key_rotation import count_stale, rotate
from gateway.core.services import Services


@click.group(name="keys")
def keys_group() -> None:
    """Personal-data encryption keys (HCP_DATA_KEYS)."""


@keys_group.command("generate")
@click.option("--id", "key_id", default=None, help="key id (default: a random one)")
def keys_generate(key_id: str | None) -> None:
    """Print a new ``id:base64`` key to put first in HCP_DATA_KEYS."""
    click.echo(f"{key_id or 'k' + secrets.token_hex(3)}:{base64.b64encode(os.urandom(32)).decode()}")


@keys_group.command("rotate")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000))
def keys_rotate(batch: int) -> None:
    """Re-encrypt every personal-data value under the current (first) key."""

    @with_services
    async def body(services: Services) -> None:


        stale = await count_stale(services.store, services.cipher)
        with tqdm(total=stale, desc="re-encrypting", unit="行", disable=None if sys.stderr.isatty() else True,
                  file=sys.stderr) as bar:
            report = await rotate(services.store, services.cipher, batch=batch, progress=bar.update)
        for table, rows in report.rows.items():
            click.echo(f"{table}: {rows} row(s) re-encrypted under {services.cipher.current_key_id}")
        left = await count_stale(services.store, services.cipher)
        if left:
            raise click.ClickException(f"{left} row(s) still under an old key")

    body()
