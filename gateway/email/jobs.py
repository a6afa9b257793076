"""The e-mail channel's background work: the IMAP intake when IMAP is configured, the SMTP sender
when SMTP is; nothing otherwise (a channel without configuration never fails the gateway)."""

from __future__ import annotations

from gateway.core.jobs import Job
from gateway.core.outbox import Sender
from gateway.core.services import Services
from gateway.email.imap import ImapPoller
from gateway.email.options import EmailOptions
from gateway.email.smtp import SmtpSender


def jobs(services: Services) -> list[Job]:
    s = services.settings
    if not (s.imap_host and s.imap_user and s.imap_password):
        return []
    poller = ImapPoller(services, EmailOptions())
    # ``cycle`` waits by itself (IDLE or the poll interval), so the worker calls it back to back.
    return [Job("email-poll", poller.cycle, interval=0.0, singleton=True)]


def senders(services: Services) -> dict[str, Sender]:
    s = services.settings
    if s.smtp_host and s.smtp_from:
        return {"email": SmtpSender(services, EmailOptions())}
    return {}
