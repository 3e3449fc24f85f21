"""Notifications' use cases: asking for one (planned into outbox rows, in the caller's
transaction when it gives one), and the worker that delivers the outbox at least once
through the channel adapters, with retries, the dead letter and skips.

The rules are pure (notifications.rules, notifications.templates); this module only
reads and writes the stores and calls the senders. (Issue 16: the Redis hand-off, the
reminders' scheduler and the wiring into bookings, accounts and the API come next.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from notifications import rules
from notifications.channels import Channel, ChannelSender
from notifications.model import Notification, NotificationError, NotifyRequest
from notifications.ports import ContactStore, NotificationStore, PreferenceStore
from notifications.templates import render

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Round:
    """What one delivery round did."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0


class NotificationService:
    def __init__(
        self,
        outbox: NotificationStore,
        preferences: PreferenceStore,
        contacts: ContactStore,
        senders: Mapping[Channel, ChannelSender],
        clock: Callable[[], float],
        *,
        lease_s: float = 60.0,
        batch: int = 100,
        poll_s: float = 0.5,
        unsubscribe_url: Callable[[Notification], str | None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.preferences = preferences
        self.contacts = contacts
        self.senders = dict(senders)
        self.clock = clock
        self.lease_s = lease_s
        self.batch = batch
        self.poll_s = poll_s
        self.unsubscribe_url = unsubscribe_url or (lambda row: None)
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- asking --------------------------------------------------------------------------

    async def notify(self, request: NotifyRequest, *, connection: Any = None) -> list[str]:
        """Plan the request for the person's channels, language and quiet hours, and
        write its rows to the outbox (in `connection`'s transaction when given: they
        commit with the change that caused them). Returns the ids written (none when the
        same cause was planned before). NotificationError for a bad request."""
        now = self.clock()
        prefs = await self.preferences.preferences(request.user_id)
        contact = await self.contacts.contact(request.user_id)
        planned = rules.plan(request, preferences=prefs, contact=contact, now_s=now)
        for skipped in planned.skipped:
            log.info("notification %s for %s not planned: %s", request.kind.value,
                     request.user_id, skipped.reason)  # fmt: skip
        if not planned.rows:
            return []
        written = await self.outbox.add(planned.rows, connection=connection)
        self._wake.set()
        return written

    # -- delivering ----------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifications-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for sender in self.senders.values():
            await sender.close()

    async def _run(self) -> None:
        while True:
            try:
                while (await self.deliver_once()).claimed:
                    pass
            except Exception:
                log.exception("notification round failed")
            try:
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def deliver_once(self) -> Round:
        """Claim the due rows of the channels we can send by and handle each once."""
        now = self.clock()
        rows = await self.outbox.claim(
            now, limit=self.batch, lease_s=self.lease_s, channels=frozenset(self.senders)
        )
        counts = {"sent": 0, "failed": 0, "dead": 0, "skipped": 0}
        results = await asyncio.gather(*(self._deliver(row) for row in rows))
        for outcome in results:
            counts[outcome] += 1
        return Round(len(rows), **counts)

    async def _deliver(self, row: Notification) -> str:
        attempt = row.attempts
        now = self.clock()
        exhausted = rules.exhausted_reason(row)
        if exhausted is not None:
            await self.outbox.mark_dead(row.notification_id, attempt=attempt, error=exhausted, now_s=now)  # fmt: skip
            return "dead"
        reason = rules.skip_reason(row, await self.outbox.group(row.group_key), now)
        if reason is not None:
            await self.outbox.mark_skipped(row.notification_id, attempt=attempt, reason=reason, now_s=now)  # fmt: skip
            return "skipped"
        try:
            message = render(row, now_s=now, unsubscribe_url=self.unsubscribe_url(row))
        except NotificationError as exc:  # a template or payload fault: no retry mends it
            await self.outbox.mark_dead(row.notification_id, attempt=attempt, error=str(exc)[:500], now_s=now)  # fmt: skip
            return "dead"
        sender = self.senders[row.channel]
        try:
            sent = await sender.send(message)
        except Exception as exc:
            failure = rules.after_error(row, exc, now_s=self.clock(), u=self.rng.random())
            new = failure.row
            if failure.forget is not None:
                await self.contacts.forget_destination(row.channel, failure.forget)
            if new.status.value == "failed":
                await self.outbox.mark_failed(
                    row.notification_id, attempt=attempt, error=new.last_error or "",
                    next_attempt_s=new.next_attempt_s, now_s=self.clock(),
                )  # fmt: skip
                return "failed"
            if new.status.value == "skipped":
                await self.outbox.mark_skipped(
                    row.notification_id, attempt=attempt, reason=new.last_error or "",
                    now_s=self.clock(),
                )  # fmt: skip
                return "skipped"
            await self.outbox.mark_dead(
                row.notification_id, attempt=attempt, error=new.last_error or "",
                now_s=self.clock(),
            )  # fmt: skip
            return "dead"
        await self.outbox.mark_sent(
            row.notification_id, attempt=attempt, provider=sender.name,
            provider_id=sent.provider_id, delivered=sent.delivered, now_s=self.clock(),
        )  # fmt: skip
        return "sent"
