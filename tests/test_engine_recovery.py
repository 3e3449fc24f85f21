"""Kill the engine (a real process, SIGKILL) mid-flow; a restart continues with nothing lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dispatch_core import BookingStatus
from dispatch_core.driver import ScriptedCandidates
from dispatch_core.messages import AcceptOffer
from dispatch_core.ports import BookingStore
from services.engine import Engine
from storage.postgis import PostgisBookingStore
from storage.sqlite import SqliteBookingStore
from tests.conftest import migrate, scratch_postgis_database

PROJECT = Path(__file__).resolve().parent.parent
DOCTORS = {f"doc-{i}": (55.75 + i * 0.001, 37.62) for i in range(10)}
CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from dispatch_core.driver import ScriptedCandidates
    from dispatch_core.messages import AcceptOffer, RequestBooking
    from services.engine import Engine
    from storage.postgis import PostgisBookingStore
    from storage.sqlite import SqliteBookingStore

    DOCTORS = {f"doc-{i}": (55.75 + i * 0.001, 37.62) for i in range(10)}

    async def main(kind, target):
        store = SqliteBookingStore(target) if kind == "sqlite" else await PostgisBookingStore.connect(target)
        t = 1_800_000_000.0
        engine, _ = await Engine.recover(ScriptedCandidates(DOCTORS), store, t)
        i = 0
        while True:  # the parent kills us somewhere in here
            i += 1
            booking_id = f"b{i}"
            await engine.handle(RequestBooking(booking_id, f"pat-{i}", 55.75, 37.62), t)
            print("requested", booking_id, flush=True)
            offers = engine.core.open_offers(booking_id)
            if offers and i % 2 == 0:
                offer = offers[0]
                await engine.handle(AcceptOffer(offer.offer_id, offer.doctor_id), t)
                print("assigned", booking_id, offer.doctor_id, flush=True)
            t += 1.0

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def run_and_kill(kind: str, target: str, after_lines: int) -> list[list[str]]:
    """Start the engine in a child process, SIGKILL it after `after_lines` acknowledgements."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, kind, target],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )
    acknowledged: list[list[str]] = []
    deadline = time.monotonic() + 60
    assert child.stdout is not None
    try:
        while len(acknowledged) < after_lines and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acknowledged.append(line.split())
    finally:
        child.send_signal(signal.SIGKILL)  # no clean-up, no flush: a crash
        child.wait(timeout=10)
    assert len(acknowledged) >= after_lines, child.stderr.read() if child.stderr else ""
    return acknowledged


async def check_restart(store: BookingStore, acknowledged: list[list[str]]) -> None:
    engine, _ = await Engine.recover(ScriptedCandidates(DOCTORS), store, 1_800_000_100.0)
    core = engine.core
    core.check_invariants()
    requested = [words[1] for words in acknowledged if words[0] == "requested"]
    assigned = {words[1]: words[2] for words in acknowledged if words[0] == "assigned"}
    assert assigned, "the flow got as far as assignments before the kill"
    for booking_id in requested:  # nothing acknowledged was lost
        assert booking_id in core.bookings, booking_id
    for booking_id, doctor in assigned.items():
        booking = core.bookings[booking_id]
        assert booking.status is BookingStatus.ASSIGNED
        assert booking.doctor_id == doctor
        assert core.doctor_booking[doctor] == booking_id
    # Offers did not survive the crash: they were made afresh, and the flow goes on.
    waiting = [b for b in core.bookings.values() if b.status is BookingStatus.OFFERED]
    assert waiting
    offer = core.open_offers(waiting[0].booking_id)[0]
    await engine.handle(AcceptOffer(offer.offer_id, offer.doctor_id), 1_800_000_101.0)
    again = await store.load(waiting[0].booking_id)
    assert again is not None
    assert again.status is BookingStatus.ASSIGNED
    assert any("engine restarted" in u.reason for u in again.history)


@pytest.mark.parametrize("after_lines", [7, 12])
async def test_sqlite_engine_survives_a_kill(tmp_path: Path, after_lines: int) -> None:
    path = tmp_path / "tot.sqlite3"
    acknowledged = await asyncio.to_thread(run_and_kill, "sqlite", str(path), after_lines)
    store = SqliteBookingStore(path)
    try:
        await check_restart(store, acknowledged)
    finally:
        await store.close()


async def test_postgis_engine_survives_a_kill() -> None:
    async with scratch_postgis_database() as url:
        await migrate(url)
        acknowledged = await asyncio.to_thread(run_and_kill, "postgis", url, 9)
        store = await PostgisBookingStore.connect(url)
        try:
            await check_restart(store, acknowledged)
        finally:
            await store.close()


async def test_the_engine_refuses_a_database_that_is_behind(
    postgis_url: str, tmp_path: Path
) -> None:
    from services.database import DatabaseBehindError
    from services.engine import open_stores

    with pytest.raises(DatabaseBehindError, match="tot db upgrade"):
        await open_stores(postgis_url, tmp_path / "unused.sqlite3")
    await migrate(postgis_url)
    stores = await open_stores(postgis_url, tmp_path / "unused.sqlite3")
    try:
        assert isinstance(stores.bookings, PostgisBookingStore)
        assert await stores.bookings.open_bookings() == []
    finally:
        await stores.close()
    assert not (tmp_path / "unused.sqlite3").exists()
    embedded = await open_stores(None, tmp_path / "data" / "tot.sqlite3")
    try:
        assert isinstance(embedded.bookings, SqliteBookingStore)
        assert await embedded.locations.last_known() == []
    finally:
        await embedded.close()
    assert (tmp_path / "data" / "tot.sqlite3").exists()
