"""The engine's writer: one round may hold a doctor's release and their next assignment."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dispatch_core import Actor, BookingStatus, DispatchCore
from dispatch_core.driver import ScriptedCandidates
from dispatch_core.messages import (
    AcceptOffer,
    PostMessage,
    ReportProgress,
    RequestBooking,
    Tick,
)
from dispatch_core.ports import BookingStore
from services.engine import Engine
from storage.postgis import PostgisBookingStore
from storage.sqlite import SqliteBookingStore
from tests.conftest import migrate, scratch_postgis_database


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
