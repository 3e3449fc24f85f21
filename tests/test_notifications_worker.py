"""The notification worker against real parts: the embedded and PostGIS outbox, a real
SMTP server with STARTTLS (aiosmtpd) reading what arrives. A message asked for is
delivered once in the person's language; a 4xx from the server is retried and then
delivered; a refused recipient goes to the dead letter with the reason; a cause asked
for twice is delivered once; medical details never reach the subject."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from notifications.channels import Channel
from notifications.model import Kind, NotificationError, NotificationStatus, NotifyRequest
from services.notifications import NotificationService
from storage.notify_smtp import SmtpSender
from storage.postgis_notifications import PostgisNotificationStore
from storage.sqlite_notifications import SqliteNotificationStore
from tests.postgis_copies import copy_of, migrated_template
from tests.smtp_sink import SmtpSink, running_smtp_sink

PASSWORD = "smtp-worker-password"


@pytest.fixture(scope="module")
def template() -> Iterator[str]:
    with migrated_template() as name:
        yield name


@pytest.fixture(params=["sqlite", "postgis"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, template: str
) -> AsyncIterator[Any]:
    if request.param == "sqlite":
        s = SqliteNotificationStore(tmp_path / "tot.sqlite3")
        try:
            yield s
        finally:
            await s.close()
        return
    async with copy_of(template) as url:
        s = await PostgisNotificationStore.connect(url)
        try:
            yield s
        finally:
            await s.close()


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    with running_smtp_sink(tmp_path, username="tot-mailer", password=PASSWORD) as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def service(store: Any, sink: SmtpSink, clock: Clock) -> NotificationService:
    smtp = SmtpSender(
        "127.0.0.1", sink.port, from_address="noreply@tot.example", from_name="ТОТ",
        username="tot-mailer", password=PASSWORD, ca_file=str(sink.cert_path), timeout_s=2.0,
    )  # fmt: skip
    return NotificationService(store, store, store, {Channel.EMAIL: smtp}, clock)


async def test_a_message_is_delivered_once_in_the_persons_language(
    store: Any, sink: SmtpSink
) -> None:
    clock = Clock()
    svc = service(store, sink, clock)
    await store.set_email("u1", "anna@example.ru", verified=True)
    request = NotifyRequest(
        "doc:42:approved",
        "u1",
        Kind.DOCUMENT_APPROVED,
        {"document": "диплом", "name": "Анна", "url": "https://tot.example/doctor"},
    )
    first = await svc.notify(request)
    again = await svc.notify(request)  # the same cause seen twice: planned once
    assert len(first) == 1 and again == []
    done = await svc.deliver_once()
    assert (done.claimed, done.sent) == (1, 1)
    assert (await svc.deliver_once()).claimed == 0
    (mail,) = sink.messages
    assert mail["To"].endswith("anna@example.ru>") or "anna@example.ru" in mail["To"]
    assert any("\u0400" <= ch <= "\u04ff" for ch in str(mail["Subject"]))  # Russian by default
    row = await store.get(first[0])
    assert row.status in (NotificationStatus.SENT, NotificationStatus.DELIVERED)
    assert row.provider == "smtp" and row.attempts == 1
    await svc.stop()


async def test_a_temporary_refusal_is_retried_and_a_permanent_one_is_dead(
    store: Any, sink: SmtpSink
) -> None:
    clock = Clock()
    svc = service(store, sink, clock)
    await store.set_email("u1", "anna@example.ru", verified=True)
    await store.set_email("u2", "nobody@example.ru", verified=True)
    sink.data_replies.append("451 4.3.0 try again later")
    sink.reject_rcpt["nobody@example.ru"] = "550 5.1.1 no such mailbox"
    ok = await svc.notify(
        NotifyRequest(
            "doc:1",
            "u1",
            Kind.DOCUMENT_APPROVED,
            {"document": "лицензия", "name": "Анна", "url": "https://tot.example/doctor"},
        )
    )
    bad = await svc.notify(
        NotifyRequest(
            "doc:2",
            "u2",
            Kind.DOCUMENT_APPROVED,
            {"document": "диплом", "name": "Анна", "url": "https://tot.example/doctor"},
        )
    )
    first = await svc.deliver_once()
    assert first.claimed == 2 and first.failed == 1 and first.dead == 1
    dead = await store.get(bad[0])
    assert dead.status is NotificationStatus.DEAD and "550" in (dead.last_error or "")
    retry = await store.get(ok[0])
    assert retry.status is NotificationStatus.FAILED and retry.next_attempt_s > clock.now
    assert (await svc.deliver_once()).claimed == 0  # not due yet
    clock.now = retry.next_attempt_s + 0.01
    second = await svc.deliver_once()
    assert (second.claimed, second.sent) == (1, 1)
    assert len(sink.messages) == 1 and sum(sink.count_by_message_id.values()) == 1
    await svc.stop()


async def test_medical_details_are_refused_before_anything_is_stored(
    store: Any, sink: SmtpSink
) -> None:
    svc = service(store, sink, Clock())
    await store.set_email("u1", "anna@example.ru", verified=True)
    with pytest.raises(NotificationError):
        await svc.notify(
            NotifyRequest("doc:9", "u1", Kind.DOCUMENT_APPROVED,
                          {"document": "диплом", "name": "Анна", "url": "https://tot.example/doctor",
                           "symptoms": "chest pain"})
        )  # fmt: skip
    assert (await svc.deliver_once()).claimed == 0
    assert sink.messages == []
    await svc.stop()
