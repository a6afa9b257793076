"""Outgoing mail under failure: the acknowledgement budget with two workers at once, and a process
that dies between handing a mail to the SMTP server and recording it."""

from __future__ import annotations

import asyncio
import email
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from sqlalchemy import select

import gateway.email.smtp
from gateway.core.db.models import Message, OutboxMessage
from gateway.core.outbox import FAILED, LEASE, SENDING, SENT, OutboxDelivery, OutgoingMessage, retry_failed
from gateway.core.services import Services
from gateway.email import EmailOptions, ImapPoller, SmtpSender
from tests.email import mails
from tests.email.conftest import Dovecot, Received
from tests.helpers import FixedClassifier

pytestmark = pytest.mark.usefixtures("mail_settings")


class Crash(BaseException):
    """The process dies here (not an error any handler may catch)."""


def delivery(services: Services, sender: SmtpSender | None = None) -> OutboxDelivery:
    return OutboxDelivery(services.store, services.cipher, {"email": sender or SmtpSender(services)})


async def outbox_rows(services: Services) -> list[OutboxMessage]:
    async with services.store.read() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def outbound(services: Services) -> list[Message]:
    async with services.store.read() as session:
        return list((await session.execute(
            select(Message).where(Message.direction == "out").order_by(Message.id))).scalars())


async def test_acknowledgement_budget_holds_with_two_workers_at_once(services: Services,
                                                                     smtp_server: tuple[int, Received]) -> None:
    """Six acknowledgements to one address, sent by two workers (two engines, two connection
    pools) at the same moment, with a budget of two an hour: exactly two go out."""
    _, received = smtp_server
    other = Services.create(services.settings, classifier=FixedClassifier())
    try:
        options = EmailOptions(ack_limit_per_hour=2)
        senders = [SmtpSender(services, options), SmtpSender(other, options)]

        def ack(outbox_id: int) -> OutgoingMessage:
            return OutgoingMessage(channel="email", kind="acknowledgement", recipient="Same@Example.cn",
                                   subject="已受理", body="您的意见已受理", outbox_id=outbox_id)

        results = await asyncio.gather(*(senders[i % 2].send(ack(i)) for i in range(1, 7)))
        assert sum(r.ok for r in results) == 2, [r.error for r in results]
        assert len(received.messages) == 2
        refused = [r for r in results if not r.ok]
        assert all(r.permanent and "more than 2 acknowledgements" in (r.error or "") for r in refused)
        # A retry of an acknowledgement that holds a slot keeps it, and is not sent a second time.
        winner = next(i for i, r in zip(range(1, 7), results, strict=True) if r.ok)
        again = await senders[1].send(ack(winner))
        assert again.ok and len(received.messages) == 2
        # Other kinds of mail are not limited.
        reply = await senders[0].send(OutgoingMessage(channel="email", kind="reply", recipient="same@example.cn",
                                                      body="答复", outbox_id=99))
        assert reply.ok and len(received.messages) == 3
    finally:
        await other.close()


async def ingest_one_complaint(services: Services, dovecot: Dovecot) -> None:
    dovecot.append(mails.build("窗口态度差 #immediate", message_id="<orig@example.cn>"))
    assert (await ImapPoller(services).poll_once())["ingested"] == 1


async def test_crash_between_data_and_record_neither_loses_the_record_nor_sends_twice(
        services: Services, dovecot: Dovecot, smtp_server: tuple[int, Received],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, received = smtp_server
    await ingest_one_complaint(services, dovecot)
    original_mark = SmtpSender._mark

    async def dies_after_data(self: SmtpSender, message: OutgoingMessage, message_id: str, state: str) -> None:
        if state == "sent":
            raise Crash  # the server has the mail; we die before writing that down
        await original_mark(self, message, message_id, state)

    monkeypatch.setattr(SmtpSender, "_mark", dies_after_data)
    with pytest.raises(Crash):
        await delivery(services).run_once()
    monkeypatch.undo()
    assert len(received.messages) == 1
    (row,) = await outbox_rows(services)
    assert row.status == SENDING  # the outbox never heard back
    # The record exists (written before the data), so a reply to the mail threads onto the case.
    (record,) = await outbound(services)
    our_id = email.message_from_bytes(received.messages[0]["data"], policy=policy.default)["Message-ID"]
    assert record.source_ref == our_id and record.extra["state"] == "sending"
    dovecot.append(mails.build("我收到了回执，补充一下", message_id="<re1@example.cn>", in_reply_to=our_id))
    assert (await ImapPoller(services).poll_once())["follow_up"] == 1

    # A second worker takes the row once the lease has run out, while the attempt is still recent:
    # it is left for later, not sent.
    later = datetime.now(UTC) + LEASE + timedelta(seconds=1)
    assert await delivery(services).run_once(now=later) == {"sent": 0, "retry": 1, "failed": 0}
    assert len(received.messages) == 1
    # After the restart, long after: the outcome is unknown, so it fails visibly instead of a second copy.
    much_later = datetime.now(UTC) + timedelta(hours=2)
    monkeypatch.setattr(gateway.email.smtp, "utc_now", lambda: much_later)
    assert await delivery(services).run_once(now=much_later) == {"sent": 0, "retry": 0, "failed": 1}
    assert len(received.messages) == 1
    (row,) = await outbox_rows(services)
    assert row.status == FAILED and (row.last_error or "").startswith("outcome unknown")
    assert (await outbound(services))[0].extra["state"] == "uncertain"
    # Staff checked and want it sent again: now it goes, once.
    assert await retry_failed(services.store, row.id)
    assert await delivery(services).run_once(now=much_later) == {"sent": 1, "retry": 0, "failed": 0}
    assert len(received.messages) == 2
    record = (await outbound(services))[0]
    assert record.extra["state"] == "sent" and record.source_ref == our_id


async def test_crash_after_record_before_the_outbox_knows_is_not_sent_again(
        services: Services, dovecot: Dovecot, smtp_server: tuple[int, Received],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, received = smtp_server
    await ingest_one_complaint(services, dovecot)

    async def dies(self: OutboxDelivery, message: OutgoingMessage, result: object, now: datetime) -> str:
        raise Crash

    monkeypatch.setattr(OutboxDelivery, "_record", dies)
    with pytest.raises(Crash):
        await delivery(services).run_once()
    monkeypatch.undo()
    assert len(received.messages) == 1 and (await outbound(services))[0].extra["state"] == "sent"
    later = datetime.now(UTC) + LEASE + timedelta(seconds=1)
    assert await delivery(services).run_once(now=later) == {"sent": 1, "retry": 0, "failed": 0}
    assert len(received.messages) == 1  # recognised as already sent
    (row,) = await outbox_rows(services)
    assert row.status == SENT and row.provider_ref == (await outbound(services))[0].source_ref


async def test_refused_data_leaves_no_outbound_record(services: Services, dovecot: Dovecot,
                                                      smtp_server: tuple[int, Received]) -> None:
    _, received = smtp_server
    await ingest_one_complaint(services, dovecot)
    received.data_reply = "451 4.3.0 try again later"
    assert await delivery(services).run_once() == {"sent": 0, "retry": 1, "failed": 0}
    assert await outbound(services) == []  # nothing went out, so nothing on the case says it did
    (row,) = await outbox_rows(services)
    assert "451" in (row.last_error or "")
    received.data_reply = None
    later = datetime.now(UTC) + timedelta(hours=1)
    assert await delivery(services).run_once(now=later) == {"sent": 1, "retry": 0, "failed": 0}
    (record,) = await outbound(services)
    assert record.extra["state"] == "sent" and len(received.messages) == 1

    # A permanent refusal of the data: the row fails, and again no outbound record.
    received.data_reply = "554 5.6.0 content rejected"
    dovecot.append(mails.build("另一件事 #time_limited", message_id="<orig2@example.cn>",
                               sender=("李四", "li.si@example.cn")))
    assert (await ImapPoller(services).poll_once())["ingested"] == 1
    assert await delivery(services).run_once() == {"sent": 0, "retry": 0, "failed": 1}
    assert len(await outbound(services)) == 1


@pytest.mark.parametrize("subject", ["[JX20261127-0001] 您的意见已受理：投诉\r\n窗口", "受理：投诉\u2028窗口\x85"])
async def test_header_values_are_one_line_so_the_acknowledgement_can_be_sent(services: Services,
                                                                              subject: str) -> None:
    """A line break in a stored subject made ``EmailMessage`` refuse the header on every retry."""
    sender = SmtpSender(services)
    message = OutgoingMessage(channel="email", kind="acknowledgement", recipient="a@example.cn", subject=subject,
                              body="您的意见已受理", outbox_id=7)
    mail = sender.build(message, "a@example.cn", "<hcp.7.x@hcp.test>", datetime(2026, 11, 27, tzinfo=UTC))
    assert len(str(mail["Subject"]).splitlines()) == 1 and "投诉" in str(mail["Subject"])
    parsed = email.message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert parsed["Subject"].replace(" ", "").endswith("投诉窗口")


async def test_an_answer_counts_as_given_once_the_server_took_it(services: Services,
                                                                   smtp_server: tuple[int, Received]) -> None:
    from gateway.console.actions import reply
    from gateway.core.db.models import Case
    from tests.sms.helpers import case_to_answer, handler

    actor = await handler(services)
    code = await case_to_answer(services, actor, "t-mail", contact={"email": "wang@example.cn",
                                                                    "preferred_channel": "email"})
    await reply(services, code, actor, "已整改，谢谢监督。", channel="email")
    _, received = smtp_server
    received.data_reply = "451 4.3.0 try again later"
    await delivery(services).run_once()
    async with services.store.read() as session:
        assert (await session.execute(select(Case.reply_delivered_at))).scalar_one() is None
    received.data_reply = None
    assert (await delivery(services).run_once(now=datetime.now(UTC) + timedelta(hours=1)))["sent"] >= 1
    async with services.store.read() as session:
        assert (await session.execute(select(Case.reply_delivered_at))).scalar_one() is not None
