"""``hcp email …``: poll the mailbox by hand, see the poller's status, look at quarantined mail."""

from __future__ import annotations

import asyncio
import sys

import click

from gateway.services import Services

# ``gateway.cli`` imports this module while it mounts channel groups: import its helpers lazily.


@click.group("email")
def email_group() -> None:
    """E-mail channel: IMAP intake status and manual polling."""


@email_group.command("poll")
@click.option("--once", is_flag=True, help="Poll one time and exit (default: keep polling).")
def poll(once: bool) -> None:
    """Fetch new mail from the configured IMAP folder, as the background job does."""
    from gateway.cli.common import print_json, with_services

    @with_services
    async def run(services: Services) -> None:
        from gateway.mail import EmailOptions, ImapPoller

        options = EmailOptions()
        poller = ImapPoller(services, options)
        while True:
            try:
                print_json(await poller.poll_once(force=True))
            except Exception as exc:
                if once:
                    raise click.ClickException(f"poll failed: {type(exc).__name__}: {exc}") from None
                click.echo(f"poll failed: {type(exc).__name__}: {exc}", err=True)
            if once:
                return
            await asyncio.sleep(options.poll_interval)

    run()


@email_group.command("status")
def status() -> None:
    """Last poll, last error, backlog and quarantined messages."""
    from gateway.cli.common import print_json, with_services

    @with_services
    async def run(services: Services) -> None:
        from gateway.mail import QUARANTINE_PREFIX, STATE_KEY, load_state, states_with_prefix

        state = await load_state(services, STATE_KEY)
        quarantined = await states_with_prefix(services, QUARANTINE_PREFIX)
        job = await load_state(services, "job:email-poll")
        print_json({"imap": state or "never polled", "job": job or None, "quarantined": len(quarantined)})

    run()


@email_group.command("quarantine")
@click.argument("sha256", required=False)
def quarantine_cmd(sha256: str | None) -> None:
    """List quarantined messages, or write one's raw bytes to stdout (by SHA-256 prefix)."""
    from gateway.cli.common import print_json, with_services

    @with_services
    async def run(services: Services) -> None:
        from gateway.blobs import get_blob
        from gateway.mail import QUARANTINE_PREFIX, states_with_prefix

        entries = [value for _, value in await states_with_prefix(services, QUARANTINE_PREFIX)]
        if not sha256:
            print_json(entries)
            return
        matches = [e for e in entries if e["sha256"].startswith(sha256.lower())]
        if len(matches) != 1:
            raise click.ClickException(f"{len(matches)} quarantined messages match {sha256!r}")
        async with services.store.read() as session:
            blob = await get_blob(session, matches[0]["sha256"])
        if blob is None:
            raise click.ClickException("the raw bytes were too large to keep")
        sys.stdout.buffer.write(blob.data)

    run()
