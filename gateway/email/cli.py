"""``hcp email …``: poll the mailbox by hand, see the poller's status, look at and reprocess
quarantined mail.  ``poll`` without ``--once`` runs the very loop of the gateway's background job
(IDLE where the server has it, polling otherwise, reconnecting after errors)."""

from __future__ import annotations

import asyncio
import signal
import sys

import click

from gateway.core.services import Services

# ``gateway.cli`` imports this module while it mounts channel groups: import its helpers lazily.


@click.group("email")
def email_group() -> None:
    """E-mail channel: IMAP intake status, polling, quarantine."""


@email_group.command("poll")
@click.option("--once", is_flag=True, help="Poll one time and exit (default: keep running, as the worker does).")
def poll(once: bool) -> None:
    """Fetch new mail from the configured IMAP folder, exactly as the background job does."""
    from gateway.core.cli import print_json, with_services

    @with_services
    async def run(services: Services) -> None:
        from gateway.email import EmailOptions, ImapPoller, MailConfigError

        poller = ImapPoller(services, EmailOptions())
        if once:
            try:
                print_json(await poller.poll_once(force=True))
            except Exception as exc:
                raise click.ClickException(f"poll failed: {exc if isinstance(exc, MailConfigError) else repr(exc)}"
                                           ) from None
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo("polling; Ctrl-C to stop (errors are shown by `hcp email status`)", err=True)
        try:
            await poller.run_forever(stop)
        except MailConfigError as exc:
            raise click.ClickException(str(exc)) from None

    run()


@email_group.command("status")
def status() -> None:
    """Last poll, mode, errors, backlog, outgoing mail by state, quarantined messages."""
    from gateway.core.cli import print_json, with_services

    @with_services
    async def run(services: Services) -> None:
        from gateway.email import email_status

        report = await email_status(services)
        report["imap"] = report["imap"] or "never polled"
        report["quarantined"] = len(report["quarantined"])
        report["resolved"] = len(report["resolved"])
        print_json(report)

    run()


@email_group.command("quarantine")
@click.argument("sha256", required=False)
@click.option("--all", "include_resolved", is_flag=True, help="Also list messages already reprocessed.")
def quarantine_cmd(sha256: str | None, include_resolved: bool) -> None:
    """List quarantined messages, or write one's raw bytes to stdout (by SHA-256 prefix)."""
    from gateway.core.cli import print_json, with_services

    @with_services
    async def run(services: Services) -> None:
        from gateway.core.blobs import get_blob
        from gateway.email import find_quarantined, quarantined

        if not sha256:
            print_json(await quarantined(services, include_resolved=include_resolved))
            return
        try:
            entry = await find_quarantined(services, sha256)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
        async with services.store.read() as session:
            blob = await get_blob(session, entry["sha256"])
        if blob is None:
            raise click.ClickException("the raw bytes were too large to keep")
        sys.stdout.buffer.write(blob.data)

    run()


@email_group.command("reprocess")
@click.argument("sha256")
def reprocess_cmd(sha256: str) -> None:
    """Run a quarantined message through the parser and ingest again (after a fix)."""
    from gateway.core.cli import print_json, with_services

    @with_services
    async def run(services: Services) -> None:
        import getpass

        from gateway.email import reprocess_quarantined

        try:
            result = await reprocess_quarantined(services, sha256, by=f"cli:{getpass.getuser()}")
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
        print_json({"outcome": result.outcome, "case": result.case_code, "reason": result.reason})
        if result.outcome == "quarantined":
            raise click.ClickException(f"still cannot be processed: {result.reason}")

    run()
