"""What the notification services need from storage: the outbox, people's preferences
and contacts, and stored reminders. Adapters (PostGIS and SQLite) live in `storage/`;
the channel adapters' port is notifications.channels.ChannelSender.

The rules that compute every new state are pure (notifications.rules: `plan`,
`claimed`, `after_sent`, `after_error`, `after_delivered`, `replayed`, `skipped`); the
stores write what they are given, fenced so that a worker whose lease ran out cannot
overwrite the outcome of the worker that claimed the row after it.

A worker's round, for each row `claim` returns:
1. rules.exhausted_reason(row) -> mark_dead (its workers kept dying mid-send);
2. rules.skip_reason(row, await group(row.group_key), now_s) -> mark_skipped;
3. templates.render(row, now_s=...) (TemplateError, PayloadTooLargeError -> mark_dead);
4. the channel's ChannelSender.send(rendered) -> mark_sent; or rules.after_error(...)
   -> mark_failed or mark_dead (and ContactStore.forget_destination when it says
   `forget`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from notifications.channels import Channel
from notifications.model import (
    Contact,
    Kind,
    Notification,
    NotificationStatus,
    Preferences,
    Reminder,
    WebPushSubscription,
)


class NotificationStore(Protocol):
    """The outbox, which is also the delivery log: one row per message per destination
    (model.Notification), never deleted by the workers.

    Delivery is at least once: a row is claimed with a lease and its attempt counted
    before it is sent; a worker that dies mid-send leaves the row `sending` until the
    lease runs out, and then it is claimed again (providers that honour the row's
    idempotency_key drop the second copy). Every `mark_*` takes the `attempt` the caller
    claimed (row.attempts after its claim) and changes the row only if it is still that
    claim (status `sending` and the same attempts): otherwise it returns False and
    changes nothing."""

    async def add(self, rows: Sequence[Notification], *, connection: Any = None) -> list[str]:
        """Write new rows, all or none. A row whose idempotency_key is already stored is
        left as it is (not replaced, not an error): the same cause planned twice (a
        retried transaction, a relay that delivers twice) stores its rows once. Returns
        the notification_ids written.

        The transactional outbox: with `connection`, the adapter's own handle of an open
        transaction (an asyncpg connection inside `connection.transaction()` for
        PostGIS; the SQLite store's connection inside its transaction), the rows are
        written in that transaction and commit or roll back with the change that caused
        them; nothing is committed here. Without it, in a transaction of their own."""
        ...

    async def claim(
        self,
        now_s: float,
        *,
        limit: int = 100,
        lease_s: float = 60.0,
        channels: frozenset[Channel] | None = None,
    ) -> list[Notification]:
        """Up to `limit` due rows (of these channels; None: all), each as rules.claimed
        leaves it: `sending`, lease_until_s = now_s + lease_s, attempts + 1, updated_s =
        now_s. Due: `queued` or `failed` with next_attempt_s <= now_s, or `sending`
        with lease_until_s <= now_s. Oldest due first (next_attempt_s, then
        notification_id). Concurrent claimers never get the same row (PostGIS: FOR
        UPDATE SKIP LOCKED; SQLite: one writer)."""
        ...

    async def get(self, notification_id: str) -> Notification | None: ...

    async def group(self, group_key: str) -> list[Notification]:
        """The rows of one cause for one person and kind (rules.skip_reason reads them:
        is a fallback still needed?), by (step, notification_id)."""
        ...

    async def mark_sent(
        self,
        notification_id: str,
        *,
        attempt: int,
        provider: str,
        provider_id: str | None,
        delivered: bool,
        now_s: float,
    ) -> bool:
        """The provider took it: `sent` (or `delivered` if it said so), provider and
        provider_id recorded, sent_s (and delivered_s) = now_s, lease cleared."""
        ...

    async def mark_failed(
        self,
        notification_id: str,
        *,
        attempt: int,
        error: str,
        next_attempt_s: float,
        now_s: float,
    ) -> bool:
        """A transient failure: `failed`, due again at next_attempt_s (rules.after_error
        computed it), last_error = error, lease cleared."""
        ...

    async def mark_dead(
        self, notification_id: str, *, attempt: int, error: str, now_s: float
    ) -> bool:
        """A permanent failure, or attempts exhausted: `dead`, last_error = the reason."""
        ...

    async def mark_skipped(
        self, notification_id: str, *, attempt: int, reason: str, now_s: float
    ) -> bool:
        """Not needed any more (expired; an earlier channel of its group delivered):
        `skipped`, last_error = the reason."""
        ...

    async def mark_delivered(
        self,
        *,
        now_s: float,
        notification_id: str | None = None,
        provider: str | None = None,
        provider_id: str | None = None,
    ) -> bool:
        """A delivery receipt, by the row's id (the device's acknowledgement) or by
        (provider, provider_id) (a provider's status callback). Not fenced by attempt:
        it applies to a row `sending`, `sent` or `failed` (rules.after_delivered);
        True if a row became `delivered`, False if none matched or it already was."""
        ...

    async def dead_letter(
        self,
        *,
        before: tuple[float, str] | None = None,
        limit: int = 50,
        kind: Kind | None = None,
        user_id: str | None = None,
    ) -> list[Notification]:
        """The `dead` rows for the admin view, newest first by (updated_s,
        notification_id) descending; `before` is the (updated_s, notification_id) of the
        previous page's last row (exclusive): keyset pages, stable while rows die."""
        ...

    async def replay(
        self, notification_ids: Sequence[str], *, now_s: float, expires_s: float | None = None
    ) -> list[str]:
        """Put `dead` rows back in the queue as rules.replayed does (due now, attempts 0,
        the same idempotency key; a new deadline if the old one passed or expires_s is
        given). Rows not dead are left. Returns the ids replayed."""
        ...

    async def history(
        self,
        *,
        user_id: str | None = None,
        group_key: str | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> list[Notification]:
        """The delivery log: rows newest first by (created_s, notification_id)
        descending, keyset pages as in dead_letter."""
        ...

    async def counts(self) -> dict[NotificationStatus, int]:
        """How many rows are in each status (status pages, the benchmark, tests)."""
        ...

    async def close(self) -> None: ...


class PreferenceStore(Protocol):
    async def preferences(self, user_id: str) -> Preferences:
        """The person's preferences; the defaults (model.Preferences(user_id)) if they
        never chose any."""
        ...

    async def save_preferences(self, preferences: Preferences) -> None:
        """Replace the person's preferences (validated by rules.validate_preferences
        before they get here)."""
        ...

    async def set_channel(self, user_id: str, kind: Kind, channel: Channel, on: bool) -> None:
        """Turn one channel of one kind on or off (the one-click unsubscribe turns e-mail
        off this way), leaving the rest as it is. Idempotent."""
        ...


class ContactStore(Protocol):
    async def contact(self, user_id: str) -> Contact:
        """Where the person can be reached (an empty Contact(user_id) if nowhere)."""
        ...

    async def set_email(self, user_id: str, email: str | None, *, verified: bool) -> None:
        """The person's e-mail address (validated, normalised) and whether it is
        verified. A new address starts unverified."""
        ...

    async def set_phone(self, user_id: str, phone: str | None, *, verified: bool) -> None:
        """The person's phone number (E.164) and whether it is verified."""
        ...

    async def add_push_subscription(
        self, user_id: str, subscription: WebPushSubscription, *, now_s: float
    ) -> None:
        """Keep a Web Push subscription (validated). Endpoints are unique: one already
        kept (for this person or, after a change of account on the device, another) is
        moved to this person with the new keys."""
        ...

    async def remove_push_subscription(self, endpoint: str) -> bool:
        """Forget a subscription (the app unsubscribed; the push service answered 404 or
        410). True if one was kept."""
        ...

    async def add_fcm_token(self, user_id: str, token: str, *, now_s: float) -> None:
        """Keep an FCM registration token (unique, like endpoints)."""
        ...

    async def remove_fcm_token(self, token: str) -> bool: ...

    async def forget_destination(self, channel: Channel, to: str) -> bool:
        """Forget what a PermanentSendError(gone=True) named (rules.Failure.forget): a
        push subscription by its JSON, an FCM token; for SMS and e-mail, mark the
        address unverified. True if something changed."""
        ...


class ReminderStore(Protocol):
    """Stored reminder schedules: they survive restarts (no timers in memory)."""

    async def replace(self, booking_id: str, reminders: Sequence[Reminder]) -> None:
        """Make the booking's unsent reminders exactly these (rules.visit_reminders for
        its visit time), in one transaction: a rescheduled visit's old reminders go;
        reminders already sent stay as they are; one with an id already stored keeps its
        stored `sent`."""
        ...

    async def cancel(self, booking_id: str) -> int:
        """Drop the booking's unsent reminders (the visit was cancelled, or happened).
        Returns how many."""
        ...

    async def due(self, now_s: float, *, limit: int = 100, lease_s: float = 60.0) -> list[Reminder]:
        """Unsent reminders with due_s <= now_s, earliest first, each leased for lease_s
        so that concurrent workers do not take the same one (it comes due again if the
        worker dies before mark_sent). The worker plans the reminder's notification
        (rules.reminder_request: keyed by the reminder, so planning it twice stores it
        once) and then marks it sent."""
        ...

    async def mark_sent(self, reminder_id: str, *, now_s: float, connection: Any = None) -> bool:
        """sent = True, sent_s = now_s. False if it was already sent or is gone. With a
        notification store over the same database, do it in the transaction that adds
        the reminder's rows: pass the same `connection` as NotificationStore.add(rows,
        connection=...)."""
        ...

    async def for_booking(self, booking_id: str) -> list[Reminder]:
        """The booking's reminders, sent or not, by due_s."""
        ...
