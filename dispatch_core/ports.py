"""What the dispatch core needs from storage, in its own terms (adapters live in storage/)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

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
