"""What the dispatch core needs from storage, in its own terms (adapters live in storage/)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from dispatch_core.model import Booking, BookingStatus


class DoctorAlreadyBusyError(Exception):
    """Storage refused a second active booking for one doctor (another process won a race)."""


class BookingStore(Protocol):
    """Bookings with their append-only status history and messages."""

    async def save(self, booking: Booking) -> None:
        """Write the booking's row and append the status updates and messages not yet
        stored, in one durable transaction. Raises DoctorAlreadyBusyError when the
        booking would give a doctor a second active booking."""
        ...

    async def save_many(self, bookings: Sequence[Booking]) -> None:
        """`save` for several bookings in one durable transaction: all stored or none
        (DoctorAlreadyBusyError, say, stores nothing of the batch)."""
        ...

    async def load(self, booking_id: str) -> Booking | None:
        """The booking with its full history and messages, or None."""
        ...

    async def open_bookings(self) -> list[Booking]:
        """Every booking not in a final status, oldest first (for recovery)."""
        ...

    async def close(self) -> None: ...


class BookingListing(Protocol):
    """Bookings for people's lists (the API), newest first, paginated by a cursor."""

    async def list_bookings(
        self,
        *,
        patient_id: str | None = None,
        doctor_id: str | None = None,
        clinic_id: str | None = None,
        statuses: frozenset[BookingStatus] | None = None,
        before: tuple[float, str] | None = None,
        limit: int = 50,
    ) -> list[Booking]:
        """Bookings matching every given filter, ordered by (created_s, booking_id)
        descending; `before` is the (created_s, booking_id) of the last one of the
        previous page (exclusive). History and messages are left empty: `load` one
        booking for those."""
        ...


# Status changes that other services act on, by the outbox topic they are written to, in
# the same transaction as the change (the transactional outbox).
OUTBOX_TOPICS: dict[str, frozenset[BookingStatus]] = {
    "payments": frozenset(
        {
            BookingStatus.ASSIGNED,  # card: hold the quote
            BookingStatus.COMPLETED,  # capture, or ask for the SBP payment
            BookingStatus.CANCELLED,  # release the hold, or charge the fee
            BookingStatus.NO_DOCTOR_FOUND,  # release the hold
        }
    ),
}


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A booking's status change, to be acted on by the topic's relay. `payload`:
    status, old_status, at_s, doctor_id, updated_by, reason."""

    message_id: int
    topic: str
    booking_id: str
    payload: dict[str, Any]
    attempts: int  # this claim included
    created_s: float


class BookingOutbox(Protocol):
    """The outbox the booking store writes with each change (see OUTBOX_TOPICS)."""

    async def claim_outbox(
        self, topic: str, now_s: float, *, limit: int = 100, lease_s: float = 60.0
    ) -> list[OutboxMessage]:
        """Due messages of the topic, oldest first, each leased until now + lease_s (its
        attempts counted) so a concurrent relay skips it; an unfinished lease comes due
        again (a relay that died mid-way)."""
        ...

    async def outbox_done(self, message_id: int, now_s: float) -> None: ...

    async def outbox_retry(self, message_id: int, available_s: float, error: str) -> None:
        """Not done: due again at available_s; the error kept for operators."""
        ...

    async def outbox_pending(self, topic: str) -> int:
        """How many of the topic's messages are not done (for status pages and tests)."""
        ...
