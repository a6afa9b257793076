"""``hcp backup`` and ``hcp restore``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.core.cli import load_settings
from gateway.ops.backup import BackupError, backup_to_directory, restore_backup, write_atomically
from gateway.ops.sealed import SealedError


def read_passphrase(passphrase_file: Path | None, *, confirm: bool) -> bytes:
    """From a key file (its first line), else from stdin: a prompt on a terminal, a line from a pipe."""
    if passphrase_file is not None:
        try:
            lines = passphrase_file.read_bytes().splitlines()
        except OSError as exc:
            raise click.ClickException(f"cannot read the passphrase file: {exc.strerror}") from None
        value = lines[0] if lines else b""
    elif sys.stdin.isatty():
        value = click.prompt("backup passphrase", hide_input=True, confirmation_prompt=confirm).encode()
    else:
        value = sys.stdin.buffer.readline().rstrip(b"\r\n")
    if len(value) < 8:
        raise click.ClickException("the passphrase must have at least 8 characters")
    return value


@click.command("backup")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="The archive to write.")
@click.option("--nightly", is_flag=True,
              help="Write a dated archive into HCP_BACKUP_DIR and keep the HCP_BACKUP_KEEP newest.")
@click.option("--passphrase-file", type=click.Path(path_type=Path),
              help="Read the passphrase from this file (default HCP_BACKUP_PASSPHRASE_FILE, else stdin).")
def backup_command(output: Path | None, nightly: bool, passphrase_file: Path | None) -> None:
    """Write one consistent, encrypted archive of the database and the keys while the app runs."""
    settings = load_settings()
    if nightly == (output is not None):
        raise click.UsageError("give either -o FILE or --nightly")
    if nightly and settings.backup_dir is None:
        raise click.ClickException("--nightly needs HCP_BACKUP_DIR")
    if output is not None and output.exists():
        raise click.ClickException(f"{output} exists; choose a new file name")
    passphrase = read_passphrase(passphrase_file or settings.backup_passphrase_file, confirm=True)
    try:
        if nightly:
            assert settings.backup_dir is not None
            target, removed = backup_to_directory(settings, settings.backup_dir, passphrase, keep=settings.backup_keep)
            click.echo(f"wrote {target}; removed {len(removed)} older archive(s)")
        else:
            assert output is not None
            manifest = write_atomically(settings, output, passphrase)
            click.echo(f"wrote {output}: {manifest.database} at revision {manifest.revision}, "
                       f"{manifest.cases} cases")
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--passphrase-file", type=click.Path(path_type=Path), help="Read the passphrase from this file.")
@click.option("--force", is_flag=True, help="Replace a database and keys that are already there.")
def restore_command(file: Path, passphrase_file: Path | None, force: bool) -> None:
    """Restore an archive into an empty data directory and database (stop hcp first)."""
    settings = load_settings()
    passphrase = read_passphrase(passphrase_file, confirm=False)
    try:
        with file.open("rb") as handle:
            manifest, warnings = restore_backup(settings, handle, passphrase, force=force)
    except (BackupError, SealedError) as exc:
        raise click.ClickException(str(exc)) from None
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"restored the {manifest.database} backup of {manifest.created_at} "
               f"(revision {manifest.revision}, {manifest.cases} cases); run `hcp db upgrade` before serving")
