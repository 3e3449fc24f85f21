"""The engine's writer: one round may hold a doctor's release and their next assignment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from dispatch_core import Actor, Booking, BookingStatus, DispatchCore
from dispatch_core.driver import ScriptedCandidates
from dispatch_core.messages import (
    AcceptOffer,
    CancelBooking,
    DeclineOffer,
    Event,
    OfferSent,
    PostMessage,
    ReportProgress,
    RequestBooking,
    StatusChanged,
    Tick,
)
from dispatch_core.ports import BookingStore
from services.engine import Engine
from services.errors import ChangeNotStoredError, StorageUnavailableError
from storage.postgis import PostgisBookingStore
from storage.sqlite import SqliteBookingStore
from tests.conftest import migrate, scratch_postgis_database

S = BookingStatus


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BookingStore]:
    if request.param == "sqlite":
        s: BookingStore = SqliteBookingStore(tmp_path / "tot.sqlite3")
        yield s
        await s.close()
        return
    async with scratch_postgis_database() as url:
        await migrate(url)
        s = await PostgisBookingStore.connect(url)
        yield s
        await s.close()


async def test_a_freed_doctor_bound_again_in_the_same_round_is_stored(store: BookingStore) -> None:
    engine = Engine(DispatchCore(ScriptedCandidates({"doc-1": (55.75, 37.62)})), store)
    now = 1_000.0
    await engine.handle(RequestBooking("a", "pat-1", 55.75, 37.62), now)
    offer = engine.core.open_offers("a")[0]
    await engine.handle(AcceptOffer(offer.offer_id, "doc-1"), now)
    for step in (BookingStatus.EN_ROUTE, BookingStatus.ARRIVED, BookingStatus.IN_PROGRESS):
        await engine.handle(ReportProgress("a", "doc-1", step), now)
    await engine.handle(RequestBooking("b", "pat-2", 55.75, 37.62), now)  # waits: doc-1 is busy
    assert engine.core.bookings["b"].status is BookingStatus.SEARCHING

    async def accept_b() -> None:
        await asyncio.sleep(0)
        offer_b = engine.core.open_offers("b")[0]
        await engine.handle(AcceptOffer(offer_b.offer_id, "doc-1"), now + 2)

    # All decided before the writer runs: b is touched first, then a frees doc-1, then b
    # takes doc-1. Written in that order, b's row would break the one-active-booking rule.
    await asyncio.gather(
        engine.handle(PostMessage("b", "pat-2", Actor.PATIENT, "please hurry"), now + 1),
        engine.handle(ReportProgress("a", "doc-1", BookingStatus.COMPLETED), now + 1),
        engine.handle(Tick(), now + 1),
        accept_b(),
    )
    stored_b = await store.load("b")
    stored_a = await store.load("a")
    assert stored_a is not None and stored_a.status is BookingStatus.COMPLETED
    assert stored_b is not None and stored_b.status is BookingStatus.ASSIGNED
    assert stored_b.doctor_id == "doc-1"
    assert "a" not in engine.core.bookings  # finished and stored: forgotten


class FailingStore:
    """A real store that fails on demand: `down` makes saves raise as an unreachable
    database does (OSError); `refuse` makes them raise as a database refusing the row."""

    def __init__(self, inner: BookingStore) -> None:
        self.inner = inner
        self.down = False
        self.refuse = False
        self.attempts = 0

    async def save(self, booking: Booking) -> None:
        await self.save_many([booking])

    async def save_many(self, bookings: Sequence[Booking]) -> None:
        self.attempts += 1
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused")
        if self.refuse:
            raise ValueError("the database refused this row")
        await self.inner.save_many(bookings)

    async def load(self, booking_id: str) -> Booking | None:
        return await self.inner.load(booking_id)

    async def open_bookings(self) -> list[Booking]:
        return await self.inner.open_bookings()

    async def close(self) -> None:
        await self.inner.close()


def heard(engine: Engine) -> list[Event]:
    events: list[Event] = []
    engine.listeners.append(events.extend)
    return events


async def test_an_unreachable_store_is_retried_before_anyone_is_told(store: BookingStore) -> None:
    failing = FailingStore(store)
    engine = Engine(
        DispatchCore(ScriptedCandidates({"doc-1": (55.75, 37.62)})), failing, save_timeout_s=5
    )
    engine.retry_backoff_s = (0.01, 0.05)
    told = heard(engine)
    failing.down = True
    request = asyncio.create_task(engine.handle(RequestBooking("a", "pat-1", 55.75, 37.62), 1.0))
    await asyncio.sleep(0.3)
    assert not request.done() and not told  # decided, not stored, so nobody told
    assert failing.attempts > 3 and not engine.storage_available
    failing.down = False
    events = await asyncio.wait_for(request, 2)
    assert told == events and any(isinstance(e, OfferSent) for e in events)
    stored = await store.load("a")
    assert stored is not None and stored.status is BookingStatus.OFFERED
    assert engine.storage_available


async def test_a_caller_gets_503_when_storage_stays_away_and_the_change_lands_later(
    store: BookingStore,
) -> None:
    failing = FailingStore(store)
    engine = Engine(
        DispatchCore(ScriptedCandidates({"doc-1": (55.75, 37.62)})), failing, save_timeout_s=0.2
    )
    engine.retry_backoff_s = (0.01, 0.05)
    told = heard(engine)
    await engine.handle(RequestBooking("a", "pat-1", 55.75, 37.62), 1.0)
    failing.down = True
    with pytest.raises(StorageUnavailableError):
        await engine.handle(CancelBooking("a", Actor.PATIENT, "pat-1", "changed my mind"), 2.0)
    assert not any(isinstance(e, StatusChanged) and e.new_status is S.CANCELLED for e in told)
    assert (await store.load("a")).status is S.OFFERED  # type: ignore[union-attr]
    failing.down = False
    await engine.close()  # the writer lands it once storage is back, then tells
    stored = await store.load("a")
    assert stored is not None and stored.status is S.CANCELLED
    assert any(isinstance(e, StatusChanged) and e.new_status is S.CANCELLED for e in told)


async def test_a_refused_save_is_undone_in_the_core(store: BookingStore) -> None:
    failing = FailingStore(store)
    doctors = {"doc-1": (55.75, 37.62), "doc-2": (55.76, 37.62)}
    engine = Engine(DispatchCore(ScriptedCandidates(doctors)), failing)
    told = heard(engine)
    await engine.handle(RequestBooking("a", "pat-1", 55.75, 37.62), 1.0)
    offer = engine.core.open_offers("a")[0]
    await engine.handle(AcceptOffer(offer.offer_id, offer.doctor_id), 2.0)
    before = len(told)
    failing.refuse = True
    # A new booking and a change to a stored one, both refused by storage.
    with pytest.raises(ChangeNotStoredError):
        await engine.handle(RequestBooking("b", "pat-2", 55.75, 37.62), 3.0)
    with pytest.raises(ChangeNotStoredError):
        await engine.handle(ReportProgress("a", offer.doctor_id, S.EN_ROUTE), 4.0)
    assert len(told) == before  # nobody heard of what was undone
    assert "b" not in engine.core.bookings  # never stored: gone
    assert engine.core.bookings["a"].status is S.ASSIGNED  # as stored
    assert engine.core.doctor_booking == {offer.doctor_id: "a"}
    engine.core.check_invariants()
    failing.refuse = False
    await engine.handle(ReportProgress("a", offer.doctor_id, S.EN_ROUTE), 5.0)
    stored = await store.load("a")
    assert stored is not None and [u.new_status for u in stored.history][-2:] == [
        S.ASSIGNED,
        S.EN_ROUTE,
    ]


async def test_an_undone_offer_is_made_afresh(store: BookingStore) -> None:
    failing = FailingStore(store)
    engine = Engine(DispatchCore(ScriptedCandidates({"doc-1": (55.75, 37.62)})), failing)
    await engine.handle(RequestBooking("a", "pat-1", 55.75, 37.62), 1.0)
    first = engine.core.open_offers("a")[0]
    failing.refuse = True
    with pytest.raises(ChangeNotStoredError):
        await engine.handle(DeclineOffer(first.offer_id, "doc-1", "too far"), 2.0)
    failing.refuse = False
    await engine.close()
    # Back as stored (offered), its offer made afresh to the same doctor: the decline
    # was never stored, so nothing excludes them.
    booking = engine.core.bookings["a"]
    assert booking.status is S.OFFERED and booking.excluded_doctors == set()
    assert [o.doctor_id for o in engine.core.open_offers("a")] == ["doc-1"]
    engine.core.check_invariants()
    stored = await store.load("a")
    assert stored is not None and stored.status is S.OFFERED
