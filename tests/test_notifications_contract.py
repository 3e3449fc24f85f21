"""One contract for the notification stores (outbox, preferences, contacts, reminders):
SQLite (embedded) and PostGIS."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from notifications import rules
from notifications.channels import Channel, Sent
from notifications.model import (
    Contact,
    InvalidPhoneError,
    Kind,
    Notification,
    NotificationStatus,
    Preferences,
    WebPushSubscription,
)
from notifications.ports import ContactStore, NotificationStore, PreferenceStore, ReminderStore
from storage.postgis_notifications import PostgisNotificationStore
from storage.sqlite_notifications import SqliteNotificationStore
from tests.postgis_copies import copy_of, migrated_template

T0 = 1_764_000_000.25


@pytest.fixture(scope="module")
def template() -> Iterator[str]:
    with migrated_template() as name:
        yield name


@dataclasses.dataclass
class Backend:
    kind: str
    store: Any  # SqliteNotificationStore | PostgisNotificationStore
    path: Path | None = None  # SQLite's file
    url: str | None = None  # PostGIS's database

    @property
    def outbox(self) -> NotificationStore:
        store: NotificationStore = self.store
        return store

    @property
    def prefs(self) -> PreferenceStore:
        store: PreferenceStore = self.store
        return store

    @property
    def contacts(self) -> ContactStore:
        store: ContactStore = self.store
        return store

    @property
    def reminders(self) -> ReminderStore:
        store: ReminderStore = self.store.reminders
        return store

    async def another(self) -> Any:
        """A second store over the same database (another process's, in effect)."""
        if self.kind == "sqlite":
            assert self.path is not None
            return SqliteNotificationStore(self.path)
        assert self.url is not None
        return await PostgisNotificationStore.connect(self.url, max_size=4)


@pytest.fixture(params=["sqlite", "postgis"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, template: str
) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "tot.sqlite3"
        sqlite_store = SqliteNotificationStore(path)
        try:
            yield Backend("sqlite", sqlite_store, path=path)
        finally:
            await sqlite_store.close()
        return
    async with copy_of(template) as url:
        pg_store = await PostgisNotificationStore.connect(url, max_size=6)
        try:
            yield Backend("postgis", pg_store, url=url)
        finally:
            await pg_store.close()


class AbortError(Exception):
    """The caller's change failed: its transaction rolls back."""


def row(
    event: str,
    *,
    user_id: str = "u1",
    kind: Kind = Kind.DOCTOR_ASSIGNED,
    channel: Channel = Channel.EMAIL,
    to: str = "anna@example.ru",
    at_s: float = T0,
    step: int = 0,
    fallback: bool = False,
) -> Notification:
    key = rules.idempotency_key(event, user_id, kind, channel, to)
    return Notification(
        notification_id=rules.notification_id(key),
        idempotency_key=key,
        group_key=f"{event}:{kind.value}",
        step=step,
        user_id=user_id,
        kind=kind,
        channel=channel,
        to=to,
        locale="ru",
        tz="Europe/Moscow",
        variables={"doctor_name": "Анна Петровна", "eta_min": "25", "name": "Иван"},
        created_s=at_s,
        next_attempt_s=at_s,
        expires_s=at_s + 3_600,
        fallback=fallback,
    )


# ---------------------------------------------------------------------------- add


async def test_add_stores_each_row_once_and_reads_it_back_exactly(backend: Backend) -> None:
    a, b, c = (
        row("booking:1"),
        row("booking:2"),
        row("booking:3", channel=Channel.SMS, to="+79161234567"),
    )
    assert await backend.outbox.add([a, b]) == [a.notification_id, b.notification_id]
    assert await backend.outbox.add([a, b, c]) == [c.notification_id]  # a retried cause
    assert await backend.outbox.add([c, c]) == []
    assert await backend.outbox.get(a.notification_id) == a
    assert await backend.outbox.get(c.notification_id) == c
    assert await backend.outbox.get("ntf_none") is None
    counts = await backend.outbox.counts()
    assert counts[NotificationStatus.QUEUED] == 3 and sum(counts.values()) == 3


async def test_add_is_all_or_none(backend: Backend) -> None:
    good = row("booking:1")
    bad = dataclasses.replace(row("booking:2"), step=-1)  # the database refuses it
    with pytest.raises(ValueError, match="refused"):
        await backend.outbox.add([good, bad])
    assert await backend.outbox.get(good.notification_id) is None
    assert sum((await backend.outbox.counts()).values()) == 0


async def test_rows_added_in_a_callers_transaction_go_with_it(backend: Backend) -> None:
    """The transactional outbox: rolled back with the change, committed with it."""
    lost, kept = row("booking:lost"), row("booking:kept")

    async def add_then_fail() -> None:
        async with backend.store.transaction() as conn:
            assert await backend.outbox.add([lost], connection=conn) == [lost.notification_id]
            raise AbortError

    with pytest.raises(AbortError):
        await add_then_fail()
    assert await backend.outbox.get(lost.notification_id) is None
    async with backend.store.transaction() as conn:
        await backend.outbox.add([kept], connection=conn)
    assert await backend.outbox.get(kept.notification_id) == kept

    # the caller's own connection to the same database (another store's)
    other = row("booking:other")
    if backend.kind == "sqlite":
        assert backend.path is not None
        caller = sqlite3.connect(backend.path, isolation_level=None, check_same_thread=False)
        try:
            caller.execute("BEGIN IMMEDIATE")
            await backend.outbox.add([other], connection=caller)
            caller.execute("ROLLBACK")
            assert await backend.outbox.get(other.notification_id) is None
            caller.execute("BEGIN IMMEDIATE")
            await backend.outbox.add([other], connection=caller)
            caller.execute("COMMIT")
        finally:
            caller.close()
        with pytest.raises(ValueError, match="inside a transaction"):
            await backend.outbox.add([row("booking:x")], connection=sqlite3.connect(":memory:"))
    else:
        assert backend.url is not None
        caller = await asyncpg.connect(backend.url)
        try:

            async def add_then_fail_there() -> None:
                async with caller.transaction():
                    await backend.outbox.add([other], connection=caller)
                    raise AbortError

            with pytest.raises(AbortError):
                await add_then_fail_there()
            assert await backend.outbox.get(other.notification_id) is None
            async with caller.transaction():
                await backend.outbox.add([other], connection=caller)
        finally:
            await caller.close()
    assert await backend.outbox.get(other.notification_id) == other


# ---------------------------------------------------------------------------- claim


async def test_claim_leases_due_rows_oldest_first(backend: Backend) -> None:
    early = row("booking:1", at_s=T0 - 10)
    later = row("booking:2", at_s=T0 - 5)
    future = row("booking:3", at_s=T0 + 60)
    sms = row("booking:4", at_s=T0 - 20, channel=Channel.SMS, to="+79161234567")
    await backend.outbox.add([future, later, early, sms])
    got = await backend.outbox.claim(T0, limit=2, lease_s=30, channels=frozenset({Channel.EMAIL}))
    assert [n.notification_id for n in got] == [early.notification_id, later.notification_id]
    assert got[0] == rules.claimed(early, now_s=T0, lease_s=30)
    assert await backend.outbox.get(early.notification_id) == got[0]
    rest = await backend.outbox.claim(T0, lease_s=30)
    assert [n.notification_id for n in rest] == [sms.notification_id]
    assert await backend.outbox.claim(T0 + 1) == []


async def test_concurrent_claimers_never_get_the_same_row(backend: Backend) -> None:
    rows = [row(f"booking:{i}", at_s=T0 - i) for i in range(60)]
    await backend.outbox.add(rows)
    other = await backend.another()
    try:
        batches = await asyncio.gather(
            *((backend.store if i % 2 else other).claim(T0, limit=7, lease_s=60) for i in range(12))
        )
    finally:
        await other.close()
    ids = [n.notification_id for batch in batches for n in batch]
    assert len(ids) == len(set(ids)) == 60
    assert all(n.attempts == 1 for batch in batches for n in batch)


async def test_a_lease_that_runs_out_comes_due_again_and_fences_the_stale_worker(
    backend: Backend,
) -> None:
    n = row("booking:1")
    await backend.outbox.add([n])
    (first,) = await backend.outbox.claim(T0, lease_s=10)
    assert await backend.outbox.claim(T0 + 9.9, lease_s=10) == []
    (second,) = await backend.outbox.claim(T0 + 10, lease_s=10)
    assert (first.attempts, second.attempts) == (1, 2)
    stale = first.attempts
    out = backend.outbox
    assert not await out.mark_sent(
        n.notification_id, attempt=stale, provider="smtp", provider_id="m1", delivered=False,
        now_s=T0 + 11,
    )  # fmt: skip
    assert not await out.mark_failed(
        n.notification_id, attempt=stale, error="x", next_attempt_s=T0, now_s=T0 + 11
    )
    assert not await out.mark_dead(n.notification_id, attempt=stale, error="x", now_s=T0 + 11)
    assert not await out.mark_skipped(n.notification_id, attempt=stale, reason="x", now_s=T0 + 11)
    assert await out.get(n.notification_id) == second
    assert await out.mark_sent(
        n.notification_id, attempt=2, provider="smtp", provider_id="m2", delivered=False,
        now_s=T0 + 12,
    )  # fmt: skip
    sent = await out.get(n.notification_id)
    assert sent == rules.after_sent(second, Sent("m2"), provider="smtp", now_s=T0 + 12)
    assert sent is not None and sent.status is NotificationStatus.SENT
    assert (sent.provider, sent.provider_id, sent.sent_s, sent.lease_until_s) == (
        "smtp", "m2", T0 + 12, None,
    )  # fmt: skip
    # the second mark of the same claim changes nothing
    assert not await out.mark_dead(n.notification_id, attempt=2, error="late", now_s=T0 + 13)
    assert await out.claim(T0 + 1_000) == []


async def test_a_failed_row_comes_due_at_its_next_attempt(backend: Backend) -> None:
    n = row("booking:1")
    await backend.outbox.add([n])
    (c,) = await backend.outbox.claim(T0)
    assert await backend.outbox.mark_failed(
        n.notification_id, attempt=c.attempts, error="503 from the provider",
        next_attempt_s=T0 + 30, now_s=T0 + 1,
    )  # fmt: skip
    failed = await backend.outbox.get(n.notification_id)
    assert failed is not None
    assert (failed.status, failed.last_error, failed.lease_until_s, failed.next_attempt_s) == (
        NotificationStatus.FAILED, "503 from the provider", None, T0 + 30,
    )  # fmt: skip
    assert await backend.outbox.claim(T0 + 29) == []
    (again,) = await backend.outbox.claim(T0 + 30)
    assert again.attempts == 2
    assert await backend.outbox.mark_skipped(
        n.notification_id, attempt=2, reason="expired", now_s=T0 + 31
    )
    skipped = await backend.outbox.get(n.notification_id)
    assert skipped is not None and skipped.status is NotificationStatus.SKIPPED


async def test_delivery_receipts_by_id_and_by_provider(backend: Backend) -> None:
    a, b, q = row("booking:1"), row("booking:2"), row("booking:3")
    await backend.outbox.add([a, b, q])
    for c in await backend.outbox.claim(T0):
        if c.notification_id != q.notification_id:
            await backend.outbox.mark_sent(
                c.notification_id, attempt=1, provider="twilio", provider_id="SM" + c.notification_id,
                delivered=False, now_s=T0 + 1,
            )  # fmt: skip
    out = backend.outbox
    assert await out.mark_delivered(now_s=T0 + 2, notification_id=a.notification_id)
    assert not await out.mark_delivered(now_s=T0 + 3, notification_id=a.notification_id)
    assert await out.mark_delivered(
        now_s=T0 + 4, provider="twilio", provider_id="SM" + b.notification_id
    )
    assert not await out.mark_delivered(now_s=T0 + 4, provider="twilio", provider_id="SMnone")
    assert not await out.mark_delivered(now_s=T0 + 4, provider="smtp", provider_id="SMnone")
    # a receipt for a row still sending (the worker has not recorded the send yet)
    assert await out.mark_delivered(now_s=T0 + 5, notification_id=q.notification_id)
    got_a, got_q = await out.get(a.notification_id), await out.get(q.notification_id)
    assert got_a is not None and got_q is not None
    assert (got_a.status, got_a.delivered_s) == (NotificationStatus.DELIVERED, T0 + 2)
    assert (got_q.status, got_q.lease_until_s) == (NotificationStatus.DELIVERED, None)
    # the late worker's mark of the row a receipt already settled changes nothing
    assert not await out.mark_failed(
        q.notification_id, attempt=1, error="timeout", next_attempt_s=T0 + 9, now_s=T0 + 6
    )
    assert (await out.counts())[NotificationStatus.DELIVERED] == 3
    with pytest.raises(ValueError, match="receipt names"):
        await out.mark_delivered(now_s=T0)


async def test_a_group_reads_in_step_order(backend: Backend) -> None:
    push = row("offer:1", kind=Kind.OFFER, channel=Channel.FCM, to="t" * 40, step=0)
    sms = row("offer:1", kind=Kind.OFFER, channel=Channel.SMS, to="+79161234567", step=1,
              fallback=True)  # fmt: skip
    await backend.outbox.add([sms, push, row("offer:2", kind=Kind.OFFER)])
    assert await backend.outbox.group(push.group_key) == [push, sms]
    assert await backend.outbox.group("nothing") == []


# ---------------------------------------------------------------------------- dead letter


async def _kill(backend: Backend, rows: list[Notification], at_s: float) -> None:
    await backend.outbox.add(rows)
    claimed = await backend.outbox.claim(at_s, limit=len(rows))
    assert len(claimed) == len(rows)
    for i, c in enumerate(claimed):
        dies_at = at_s + (i // 3)  # three rows die in each second: ties broken by id
        assert await backend.outbox.mark_dead(
            c.notification_id, attempt=c.attempts, error=f"400 bad number {i}", now_s=dies_at
        )


async def test_dead_letter_pages_read_each_row_once_while_rows_die(backend: Backend) -> None:
    first = [row(f"booking:{i}", user_id=f"u{i % 2}") for i in range(20)]
    await _kill(backend, first, T0)
    seen: list[Notification] = []
    before: tuple[float, str] | None = None
    while True:
        page = await backend.outbox.dead_letter(before=before, limit=6)
        if not seen:  # more rows die after the first page: later pages are not disturbed
            await _kill(backend, [row(f"later:{i}", user_id="u9") for i in range(5)], T0 + 100)
        seen += page
        if len(page) < 6:
            break
        before = (page[-1].updated_s or 0.0, page[-1].notification_id)
    ids = [n.notification_id for n in seen]
    assert len(ids) == len(set(ids)) == 20
    assert set(ids) == {n.notification_id for n in first}
    keys = [(n.updated_s or 0.0, n.notification_id) for n in seen]
    assert keys == sorted(keys, reverse=True)
    assert all(n.status is NotificationStatus.DEAD and n.last_error for n in seen)
    everyone = await backend.outbox.dead_letter(limit=100)
    assert len(everyone) == 25
    mine = await backend.outbox.dead_letter(user_id="u1", limit=100)
    assert {n.notification_id for n in mine} == {n.notification_id for n in first[1::2]}
    assert await backend.outbox.dead_letter(kind=Kind.REFUND) == []


async def test_replay_puts_dead_rows_back_with_the_same_key(backend: Backend) -> None:
    dead, alive = row("booking:1"), row("booking:2")
    await _kill(backend, [dead], T0)
    await backend.outbox.add([alive])
    got = await backend.outbox.replay(
        [alive.notification_id, dead.notification_id, "ntf_none"], now_s=T0 + 7_200
    )
    assert got == [dead.notification_id]
    back = await backend.outbox.get(dead.notification_id)
    assert back is not None
    assert (back.status, back.attempts, back.next_attempt_s, back.idempotency_key) == (
        NotificationStatus.QUEUED, 0, T0 + 7_200, dead.idempotency_key,
    )  # fmt: skip
    assert back.expires_s == T0 + 7_200 + 3_600  # the old deadline had passed
    assert await backend.outbox.get(alive.notification_id) == alive
    assert await backend.outbox.dead_letter() == []
    assert await backend.outbox.replay([dead.notification_id], now_s=T0 + 7_201) == []
    claimed = await backend.outbox.claim(T0 + 7_200)
    assert dead.notification_id in {n.notification_id for n in claimed}


async def test_history_is_newest_first_in_keyset_pages(backend: Backend) -> None:
    rows = [row(f"booking:{i}", at_s=T0 + i // 2) for i in range(9)]
    await backend.outbox.add(rows)
    seen: list[Notification] = []
    before: tuple[float, str] | None = None
    while page := await backend.outbox.history(user_id="u1", before=before, limit=4):
        seen += page
        before = (page[-1].created_s, page[-1].notification_id)
    keys = [(n.created_s, n.notification_id) for n in seen]
    assert keys == sorted(((n.created_s, n.notification_id) for n in rows), reverse=True)
    assert await backend.outbox.history(user_id="nobody") == []
    assert len(await backend.outbox.history(group_key=rows[0].group_key)) == 1


# ---------------------------------------------------------------------------- reminders


async def test_reminders_come_due_exactly_once(backend: Backend) -> None:
    visit_s = T0 + 2 * 86_400
    rems = rules.visit_reminders(booking_id="b1", user_id="u1", visit_s=visit_s, now_s=T0)
    assert len(rems) == 2
    await backend.reminders.replace("b1", rems)
    await backend.reminders.replace("b1", rems)  # the same visit: stored once
    assert await backend.reminders.for_booking("b1") == rems
    day_before = rems[0].due_s
    assert await backend.reminders.due(day_before - 1) == []
    other = await backend.another()
    try:
        batches = await asyncio.gather(
            backend.reminders.due(day_before, lease_s=30),
            other.reminders.due(day_before, lease_s=30),
            backend.reminders.due(day_before, lease_s=30),
        )
    finally:
        await other.close()
    got = [r for batch in batches for r in batch]
    assert [r.reminder_id for r in got] == [rems[0].reminder_id]
    # the worker died before marking it sent: it comes due again when the lease runs out
    assert await backend.reminders.due(day_before + 29) == []
    (again,) = await backend.reminders.due(day_before + 30, lease_s=30)
    assert again.reminder_id == rems[0].reminder_id
    # its rows and its mark commit together
    planned = row(f"reminder:{again.reminder_id}", kind=Kind.VISIT_REMINDER_24H)
    async with backend.store.transaction() as conn:
        await backend.outbox.add([planned], connection=conn)
        assert await backend.reminders.mark_sent(
            again.reminder_id, now_s=day_before + 31, connection=conn
        )
    assert not await backend.reminders.mark_sent(again.reminder_id, now_s=day_before + 32)
    assert await backend.outbox.get(planned.notification_id) == planned
    assert await backend.reminders.due(visit_s) == [rems[1]]  # leased now, for the 1 h one
    stored = await backend.reminders.for_booking("b1")
    assert (stored[0].sent, stored[0].sent_s) == (True, day_before + 31)
    assert not await backend.reminders.mark_sent("rem_none", now_s=T0)


async def test_a_rescheduled_visit_replaces_its_unsent_reminders(backend: Backend) -> None:
    visit_s = T0 + 2 * 86_400
    rems = rules.visit_reminders(booking_id="b1", user_id="u1", visit_s=visit_s, now_s=T0)
    await backend.reminders.replace("b1", rems)
    assert await backend.reminders.mark_sent(rems[0].reminder_id, now_s=rems[0].due_s)
    moved = rules.visit_reminders(booking_id="b1", user_id="u1", visit_s=visit_s + 7_200,
                                  now_s=rems[0].due_s)  # fmt: skip
    await backend.reminders.replace("b1", moved)
    stored = await backend.reminders.for_booking("b1")
    assert [r.reminder_id for r in stored] == [rems[0].reminder_id] + [r.reminder_id for r in moved]
    assert stored[0].sent and not any(r.sent for r in stored[1:])
    assert rems[1].reminder_id not in {r.reminder_id for r in stored}
    with pytest.raises(ValueError, match="not b2"):
        await backend.reminders.replace("b2", moved)
    assert await backend.reminders.cancel("b1") == len(moved)
    assert await backend.reminders.cancel("b1") == 0
    assert [r.reminder_id for r in await backend.reminders.for_booking("b1")] == [
        rems[0].reminder_id
    ]


# ---------------------------------------------------------------------------- people


async def test_preferences_round_trip(backend: Backend) -> None:
    assert await backend.prefs.preferences("u1") == Preferences("u1")
    chosen = Preferences(
        "u1",
        locale="en",
        tz="Asia/Yekaterinburg",
        off=frozenset({(Kind.REFUND, Channel.SMS), (Kind.OFFER, Channel.EMAIL)}),
        quiet_start_min=22 * 60,
        quiet_end_min=7 * 60,
    )
    await backend.prefs.save_preferences(chosen)
    assert await backend.prefs.preferences("u1") == chosen
    await backend.prefs.set_channel("u1", Kind.REFUND, Channel.SMS, True)
    await backend.prefs.set_channel("u1", Kind.PAYMENT_RECEIPT, Channel.EMAIL, False)
    await backend.prefs.set_channel("u1", Kind.PAYMENT_RECEIPT, Channel.EMAIL, False)
    assert await backend.prefs.preferences("u1") == dataclasses.replace(
        chosen, off=frozenset({(Kind.OFFER, Channel.EMAIL), (Kind.PAYMENT_RECEIPT, Channel.EMAIL)})
    )
    # one-click unsubscribe of someone who never chose anything
    await backend.prefs.set_channel("u2", Kind.REFUND, Channel.EMAIL, False)
    assert await backend.prefs.preferences("u2") == Preferences(
        "u2", off=frozenset({(Kind.REFUND, Channel.EMAIL)})
    )


P256DH = rules.b64url_encode(b"\x04" + bytes(64))  # not a point; the store keeps what it is given
AUTH = rules.b64url_encode(bytes(range(16)))


async def test_contacts_round_trip(backend: Backend) -> None:
    c = backend.contacts
    assert await c.contact("u1") == Contact("u1")
    await c.set_email("u1", "Anna@Example.RU", verified=False)
    await c.set_phone("u1", "8 (916) 123-45-67", verified=True)
    got = await c.contact("u1")
    assert (got.email_verified, got.phone, got.phone_verified) == (False, "+79161234567", True)
    assert got.email == rules.validate_email("Anna@Example.RU")
    await c.set_email("u1", got.email, verified=True)
    with pytest.raises(InvalidPhoneError):
        await c.set_phone("u1", "12", verified=True)
    s1 = WebPushSubscription("https://push.example.com/a", P256DH, AUTH)
    s2 = WebPushSubscription("https://push.example.com/b", P256DH, AUTH)
    await c.add_push_subscription("u1", s1, now_s=T0)
    await c.add_push_subscription("u1", s2, now_s=T0 + 1)
    await c.add_fcm_token("u1", "f" * 40, now_s=T0)
    got = await c.contact("u1")
    assert got == Contact("u1", got.email, True, "+79161234567", True, (s1, s2), ("f" * 40,))
    # the device changed accounts: its endpoint moves, with its new keys
    s1b = WebPushSubscription(s1.endpoint, P256DH, rules.b64url_encode(bytes(16)))
    await c.add_push_subscription("u2", s1b, now_s=T0 + 2)
    await c.add_fcm_token("u2", "f" * 40, now_s=T0 + 2)
    assert (await c.contact("u1")).push_subscriptions == (s2,)
    assert (await c.contact("u1")).fcm_tokens == ()
    assert (await c.contact("u2")).push_subscriptions == (s1b,)
    # what a provider said is gone
    assert await c.forget_destination(Channel.WEBPUSH, s2.to_json())
    assert not await c.forget_destination(Channel.WEBPUSH, s2.to_json())
    assert not await c.forget_destination(Channel.WEBPUSH, "not json")
    assert await c.forget_destination(Channel.FCM, "f" * 40)
    assert await c.forget_destination(Channel.SMS, "+79161234567")
    assert not await c.forget_destination(Channel.SMS, "+79161234567")
    assert await c.forget_destination(Channel.EMAIL, got.email or "")
    final = await c.contact("u1")
    assert (final.email_verified, final.phone_verified, final.phone) == (
        False,
        False,
        "+79161234567",
    )
    assert await c.remove_push_subscription(s1b.endpoint)
    assert not await c.remove_push_subscription(s1b.endpoint)
    assert not await c.remove_fcm_token("f" * 40)
    assert await c.contact("u2") == Contact("u2")


async def test_a_cancelled_wait_for_the_sqlite_transaction_does_not_keep_the_lock(
    tmp_path: Path,
) -> None:
    store = SqliteNotificationStore(tmp_path / "tot.sqlite3")
    entered = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with store.transaction():
            entered.set()
            await release.wait()

    async def wait_in_line() -> None:
        async with store.transaction():
            raise AssertionError("cancelled before it got the lock")

    holder = asyncio.create_task(hold())
    await entered.wait()
    waiter = asyncio.create_task(wait_in_line())
    await asyncio.sleep(0.05)
    waiter.cancel()
    release.set()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0.05)
    # the store is free again (a lock kept by the cancelled waiter would stop every call;
    # closing the store would then hang, so it is closed only once this holds)
    assert await asyncio.to_thread(store._lock.acquire, True, 5.0)
    store._lock.release()
    n = row("booking:1")
    assert await store.add([n]) == [n.notification_id]
    await store.close()


async def test_the_embedded_store_shares_the_file_and_keeps_its_own_version(
    tmp_path: Path,
) -> None:
    from storage.sqlite import SqliteBookingStore
    from storage.sqlite_payments import SqlitePaymentStore

    path = tmp_path / "tot.sqlite3"
    others = [SqliteBookingStore(path), SqlitePaymentStore(path)]
    first = SqliteNotificationStore(path)
    n = row("booking:1")
    await first.add([n])
    await first.close()
    again = SqliteNotificationStore(path)  # opening again keeps what was there
    assert await again.get(n.notification_id) == n
    await again.close()
    for other in others:
        await other.close()
    with sqlite3.connect(path) as db:
        versions = dict(db.execute("SELECT component, version FROM schema_versions").fetchall())
        assert versions["notifications"] == 1 and versions["payments"] == 1
        db.execute("UPDATE schema_versions SET version = 99 WHERE component = 'notifications'")
    with pytest.raises(RuntimeError, match="newer than this engine"):
        SqliteNotificationStore(path)
