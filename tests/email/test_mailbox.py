"""The e-mail channel against real servers: Dovecot for intake, aiosmtpd for delivery,
on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import re
from email import policy

import pytest
from sqlalchemy import func, select

from channels.email.msgid import make_message_id
from gateway.core.db.models import Attachment, Case, Message, OutboxMessage
from gateway.core.outbox import OutboxDelivery, OutgoingMessage
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.email import (
    QUARANTINE_PREFIX,
    STATE_KEY,
    EmailOptions,
    ImapPoller,
    Mailbox,
    SmtpSender,
    load_state,
    states_with_prefix,
)
from tests.email import mails
from tests.email.conftest import Dovecot, Received

pytestmark = pytest.mark.usefixtures("mail_settings")
SEEN = b"\\Seen"


async def count(services: Services, model: type) -> int:
    async with services.store.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def case_texts(services: Services) -> list[str]:
    async with services.store.read() as session:
        return list((await session.execute(select(Case.text).order_by(Case.id))).scalars())


def poller(services: Services, **options: object) -> ImapPoller:
    return ImapPoller(services, EmailOptions(**options))  # type: ignore[arg-type]


async def test_charsets_html_and_attachments_through_imap(services: Services, dovecot: Dovecot) -> None:
    photo = b"\xff\xd8" + b"p" * 3000
    dovecot.append(
        mails.build("窗口态度差 utf8", message_id="<u8@x>"),
        mails.build("朱镕基时代的老问题", charset="gbk", label="gb2312", message_id="<gb@x>"),
        mails.build("排队两小时 gb18030", charset="gb18030", message_id="<g18@x>", encoding="8bit"),
        mails.build("窗口人員態度不好", charset="big5", message_id="<b5@x>", encoding="quoted-printable"),
        mails.build("<p>只有<b>网页</b>正文</p>", subtype="html", message_id="<html@x>"),
        mails.with_attachment("照片.jpg", photo, message_id="<att@x>"),
        mails.with_attachment("scan.pdf", photo * 2, media_type="application/pdf", message_id="<big@x>"),
    )
    settings: Settings = services.settings
    settings.max_attachment_bytes = 4000
    counts = await poller(services).poll_once()
    assert counts == {"already_stored": 0, "ingested": 7}
    texts = await case_texts(services)
    assert texts[:5] == ["窗口态度差 utf8", "朱镕基时代的老问题", "排队两小时 gb18030", "窗口人員態度不好",
                         "只有网页正文"]
    async with services.store.read() as session:
        rows = list((await session.execute(select(Attachment).order_by(Attachment.id))).scalars())
    assert [(a.name, a.size, a.rejected is None) for a in rows] == [("照片.jpg", 3002, True), ("scan.pdf", 6004, False)]
    assert all(SEEN in flags for flags in dovecot.flags().values())
    state = await load_state(services, STATE_KEY)
    assert state["last_uid"] == max(dovecot.flags()) and state["backlog"] == 0 and state["last_error"] is None \
        if "last_error" in state else state["last_uid"] == max(dovecot.flags())
    # Polling again finds nothing new.
    assert await poller(services).poll_once() == {}
    assert await count(services, Case) == 7


async def test_auto_replies_and_bounces_are_never_ingested_nor_answered(services: Services, dovecot: Dovecot) -> None:
    dovecot.append(mails.build(headers={"Auto-Submitted": "auto-replied"}, message_id="<a1@x>"),
                   mails.build(headers={"Precedence": "bulk"}, message_id="<a2@x>"),
                   mails.bounce("wang.xm@example.cn"))
    counts = await poller(services).poll_once()
    assert counts == {"already_stored": 0, "auto": 2, "bounce": 1}
    assert await count(services, Case) == 0 and await count(services, OutboxMessage) == 0
    assert all(SEEN in flags for flags in dovecot.flags().values())
    # The bounced address gets no more mail.
    result = await SmtpSender(services).send(OutgoingMessage(
        channel="email", kind="acknowledgement", recipient="wang.xm@example.cn", body="x", outbox_id=1))
    assert not result.ok and result.permanent and "bounced" in (result.error or "")


async def test_same_message_twice_is_one_case(services: Services, dovecot: Dovecot) -> None:
    raw = mails.build("重复投递", message_id="<twice@x>")
    dovecot.append(raw, raw)
    counts = await poller(services, batch=1).poll_once()
    # The second copy is caught by the Message-ID pre-check or, when it was fetched while the first
    # was still being committed, by the ingest's exactly-once rule.
    assert counts["ingested"] == 1 and counts["already_stored"] + counts.get("duplicate", 0) == 1
    assert await count(services, Case) == 1
    no_id = mails.build("没有 Message-ID", message_id=None)
    dovecot.append(no_id, no_id)
    counts = await poller(services).poll_once()
    assert counts == {"already_stored": 0, "ingested": 1, "duplicate": 1}
    assert await count(services, Case) == 2


async def test_crash_after_commit_before_flag(services: Services, dovecot: Dovecot,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    dovecot.append(*(mails.build(f"第{i}封", message_id=f"<c{i}@x>") for i in range(3)))
    first = poller(services)

    def crash(mailbox: Mailbox, uids: list[int]) -> None:
        raise ConnectionResetError("killed before flagging")

    monkeypatch.setattr(Mailbox, "finish", crash)
    with pytest.raises(ConnectionResetError):
        await first.poll_once()
    monkeypatch.undo()
    assert await count(services, Case) == 3
    assert not any(SEEN in flags for flags in dovecot.flags().values())
    state = await load_state(services, STATE_KEY)
    assert state["consecutive_failures"] == 1 and "ConnectionResetError" in state["last_error"]
    assert (await poller(services).poll_once())["skipped"]  # backing off
    counts = await poller(services).poll_once(force=True)
    assert counts == {"already_stored": 3}
    assert await count(services, Case) == 3
    assert all(SEEN in flags for flags in dovecot.flags().values())


async def test_connection_dropped_mid_batch(services: Services, dovecot: Dovecot,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    dovecot.append(*(mails.build(f"第{i}封", message_id=f"<d{i}@x>") for i in range(5)))
    dropping = poller(services, batch=2)
    original = Mailbox.fetch_bodies
    calls = 0

    def drop_on_second(mailbox: Mailbox, uids: list[int]):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            mailbox.drop()  # the connection dies under the second batch, while the first is ingested
        return original(mailbox, uids)

    monkeypatch.setattr(Mailbox, "fetch_bodies", drop_on_second)
    with pytest.raises(Exception):  # noqa: B017 - whatever imaplib raises on a dead socket
        await dropping.poll_once()
    monkeypatch.undo()
    # The first batch committed.  Whether it was flagged depends on whether its flagging came
    # before the cut (the second batch is fetched while the first is ingested); the server may
    # even apply the flags while their answer is lost with the socket.  What must hold: nothing
    # beyond the first batch is flagged, and the last UID only moves past flagged messages.
    assert await count(services, Case) == 2
    uids = sorted(dovecot.flags())
    seen = [uid for uid, flags in sorted(dovecot.flags().items()) if SEEN in flags]
    last_uid = (await load_state(services, STATE_KEY)).get("last_uid", 0)
    assert seen in ([], uids[:2])
    assert last_uid in (0, uids[1])
    assert last_uid == 0 or seen == uids[:2]
    counts = await poller(services, batch=2).poll_once(force=True)
    assert counts == {"already_stored": 2 if last_uid == 0 else 0, "ingested": 3}
    assert await count(services, Case) == 5
    assert all(SEEN in flags for flags in dovecot.flags().values())


async def test_a_batch_flagged_before_the_next_fetch_fails_keeps_its_progress(
        services: Services, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    """The interleaving the test above leaves to chance: the first batch is committed and
    flagged, and only then does fetching the second batch fail.  The recorded ``last_uid`` must
    cover the flagged batch, so the state never says less than the mailbox shows."""
    import threading

    dovecot.append(*(mails.build(f"第{i}封", message_id=f"<k{i}@x>") for i in range(4)))
    original_fetch, original_finish = Mailbox.fetch_bodies, Mailbox.finish
    flagged = threading.Event()
    calls = 0

    def finish(mailbox: Mailbox, uids: list[int]) -> None:
        original_finish(mailbox, uids)
        flagged.set()

    def fail_second_after_flagging(mailbox: Mailbox, uids: list[int]):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            assert flagged.wait(10), "the first batch was never flagged"
            raise ConnectionResetError("the network went away")
        return original_fetch(mailbox, uids)

    monkeypatch.setattr(Mailbox, "fetch_bodies", fail_second_after_flagging)
    monkeypatch.setattr(Mailbox, "finish", finish)
    with pytest.raises(ConnectionResetError, match="the network went away"):
        await poller(services, batch=2).poll_once()
    monkeypatch.undo()
    uids = sorted(dovecot.flags())
    assert [uid for uid in uids if SEEN in dovecot.flags()[uid]] == uids[:2]
    state = await load_state(services, STATE_KEY)
    assert state["last_uid"] == uids[1]
    assert "the network went away" in state["last_error"]
    assert await poller(services, batch=2).poll_once(force=True) == {"already_stored": 0, "ingested": 2}
    assert await count(services, Case) == 4


async def test_a_failed_batch_among_those_in_flight_is_fetched_again(services: Services, dovecot: Dovecot) -> None:
    """Three batches run at once; the middle one fails on one message.  The others' messages are
    committed and flagged, ``last_uid`` stays before the failure, and the next poll finishes
    the job with one case per message."""
    dovecot.append(*(mails.build(f"第{i}封", message_id=f"<f{i}@x>") for i in range(6)))
    failing = True

    async def ingest(intake):  # type: ignore[no-untyped-def]
        if failing and intake.text.startswith("第2封"):
            raise RuntimeError("the database went away")
        return await services.ingestor.ingest(intake)

    with pytest.raises(RuntimeError, match="went away"):
        await ImapPoller(services, EmailOptions(batch=2), ingest=ingest).poll_once()  # type: ignore[arg-type]
    uids = sorted(dovecot.flags())
    assert sorted(await case_texts(services)) == [f"第{i}封" for i in (0, 1, 3, 4, 5)]
    seen = [uid for uid, flags in sorted(dovecot.flags().items()) if SEEN in flags]
    assert seen == [uids[0], uids[1], uids[3], uids[4], uids[5]]
    assert (await load_state(services, STATE_KEY))["last_uid"] == uids[1]
    failing = False
    counts = await poller(services, batch=2).poll_once(force=True)
    assert counts == {"already_stored": 3, "ingested": 1}
    assert sorted(await case_texts(services)) == [f"第{i}封" for i in range(6)]
    assert all(SEEN in flags for flags in dovecot.flags().values())


async def test_unparseable_mail_is_quarantined(services: Services, dovecot: Dovecot) -> None:
    dovecot.append(b"From: a@example.cn\r\nMessage-ID: <empty@x>\r\n\r\n")
    counts = await poller(services).poll_once()
    assert counts == {"already_stored": 0, "quarantined": 1}
    (entry,) = [value for _, value in await states_with_prefix(services, QUARANTINE_PREFIX)]
    assert entry["stored"] and "not a usable" in entry["reason"]
    assert all(SEEN in flags for flags in dovecot.flags().values())


async def deliver(services: Services) -> dict[str, int]:
    return await OutboxDelivery(services.store, services.cipher, {"email": SmtpSender(services)}).run_once()


async def test_acknowledgement_threading_and_reply(services: Services, dovecot: Dovecot,
                                                   smtp_server: tuple[int, Received]) -> None:
    _, received = smtp_server
    dovecot.append(mails.build("窗口态度差 #immediate", message_id="<orig@example.cn>"))
    await poller(services).poll_once()
    assert await deliver(services) == {"sent": 1, "retry": 0, "failed": 0}
    (sent,) = received.messages
    mail = email.message_from_bytes(sent["data"], policy=policy.default)
    assert sent["to"] == ["wang.xm@example.cn"]
    assert mail["In-Reply-To"] == "<orig@example.cn>" and mail["Auto-Submitted"] == "auto-replied"
    our_id = mail["Message-ID"]
    assert re.fullmatch(r"<hcp\.\d+\.[0-9a-f]{16}@hcp\.test>", our_id)
    assert "受理编号" in mail.get_content()
    async with services.store.read() as session:
        out = (await session.execute(select(Message).where(Message.direction == "out"))).scalar_one()
    assert out.source_ref == our_id and out.channel == "email"

    # The citizen replies to our acknowledgement: a follow-up on the same case, no new ack.
    dovecot.append(mails.build("补充：电话 13812345678", message_id="<reply@example.cn>", in_reply_to=our_id,
                               references=f"<orig@example.cn> {our_id}", subject="Re: 您的意见已受理"))
    assert (await poller(services).poll_once())["follow_up"] == 1
    # A forged reference shaped like ours does not thread: a new case.
    forged = make_message_id(out.id, b"wrong key", "hcp.test")
    dovecot.append(mails.build("伪造", message_id="<forged@evil.cn>", in_reply_to=forged,
                               sender=("x", "evil@evil.cn")))
    assert (await poller(services).poll_once())["ingested"] == 1
    assert await count(services, Case) == 2
    # A tracking code in the subject threads only from the case's own contact.
    async with services.store.read() as session:
        code = (await session.execute(select(Case.code).order_by(Case.id).limit(1))).scalar_one()
    dovecot.append(mails.build("再补充", message_id="<own@example.cn>", subject=f"关于 {code}"),
                   mails.build("冒充", message_id="<other@evil.cn>", subject=f"关于 {code}", sender=("y", "y@evil.cn")))
    counts = await poller(services).poll_once()
    assert counts["follow_up"] == 1 and counts["ingested"] == 1


async def test_acknowledgement_rate_limit_and_permanent_rejection(services: Services,
                                                                  smtp_server: tuple[int, Received]) -> None:
    _, received = smtp_server
    sender = SmtpSender(services, EmailOptions(ack_limit_per_hour=2))
    results = [await sender.send(OutgoingMessage(channel="email", kind="acknowledgement", recipient="a@example.cn",
                                                 subject="[JX] 已受理", body="已受理", outbox_id=i))
               for i in range(1, 4)]
    assert [r.ok for r in results] == [True, True, False]
    assert results[2].permanent and "acknowledgements" in (results[2].error or "")
    assert len(received.messages) == 2

    received.reject["gone@example.cn"] = "550 5.1.1 no such user"
    message = OutgoingMessage(channel="email", kind="reply", recipient="gone@example.cn", body="答复", outbox_id=9)
    rejected = await sender.send(message)
    assert not rejected.ok and rejected.permanent and "550" in (rejected.error or "")
    again = await sender.send(message)
    assert not again.ok and "bounced" in (again.error or "")
    assert len(received.messages) == 2


async def test_processed_folder_receives_finished_mail(services: Services, dovecot: Dovecot) -> None:
    folder = "已处理"
    client = dovecot.client()
    try:
        if client.folder_exists(folder):
            client.delete_folder(folder)
    finally:
        client.logout()
    dovecot.append(mails.build("处理后移走", message_id="<moved@x>"), mails.bounce())
    counts = await poller(services, processed_folder=folder).poll_once()
    assert counts == {"already_stored": 0, "ingested": 1, "bounce": 1}
    assert dovecot.flags() == {}  # nothing left in INBOX, and nothing deleted:
    client = dovecot.client()
    try:
        client.select_folder(folder)
        moved = client.fetch(client.search(["ALL"]), ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
    finally:
        client.logout()
    assert len(moved) == 2 and all(SEEN in item[b"FLAGS"] for item in moved.values())
    assert await count(services, Case) == 1


async def test_the_worker_job_runs_the_same_loop(services: Services, dovecot: Dovecot,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from gateway.core.jobs import WorkerRunner
    from gateway.email import jobs as email_jobs

    monkeypatch.setenv("HCP_EMAIL_IDLE_SLICE", "0.5")
    jobs = email_jobs.jobs(services)
    assert [job.name for job in jobs] == ["email-poll"] and jobs[0].singleton
    assert set(email_jobs.senders(services)) == {"email"}
    runner = WorkerRunner(services, jobs)
    task = asyncio.ensure_future(runner.run())
    try:
        dovecot.append(mails.build("后台任务收信", message_id="<job@x>"))
        for _ in range(200):
            if await count(services, Case):
                break
            await asyncio.sleep(0.05)
        assert await count(services, Case) == 1
    finally:
        runner.stop.set()
        await asyncio.wait_for(task, timeout=5)  # within one IDLE slice
        await jobs[0].run.__self__.disconnect()  # type: ignore[attr-defined]
    job = await load_state(services, "job:email-poll")
    assert job["ok"] is True
