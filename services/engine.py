"""The dispatch engine's write path: the core's decisions, stored before anyone is told."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dispatch_core import CandidateSource, DispatchCore, DispatchPolicy
from dispatch_core.messages import Command, Event
from dispatch_core.ports import BookingStore
from matching import BatchUpdateResult, DoctorRegistry
from services.database import require_current_schema
from storage.locations import LocationFix, PostgisLocationWriter
from storage.postgis import PostgisBookingStore
from storage.sqlite import SqliteBookingStore
from storage.sqlite_locations import SqliteLocationStore


class Engine:
    """Runs commands through the pure core and saves every booking they touched.

    `handle` returns only after the touched bookings are committed, so whatever the
    caller acknowledges has reached storage; after a crash, `recover` rebuilds the core
    from the open bookings and carries on.
    """

    def __init__(self, core: DispatchCore, store: BookingStore) -> None:
        self.core = core
        self.store = store

    @classmethod
    async def recover(
        cls,
        candidates: CandidateSource,
        store: BookingStore,
        now_s: float,
        policy: DispatchPolicy | None = None,
    ) -> tuple[Engine, list[Event]]:
        engine = cls(DispatchCore(candidates, policy), store)
        events = engine.core.restore(await store.open_bookings(), now_s)
        await engine._save(events)
        return engine, events

    async def handle(self, command: Command, now_s: float) -> list[Event]:
        events = self.core.handle(command, now_s)
        await self._save(events)
        return events

    async def _save(self, events: list[Event]) -> None:
        touched = dict.fromkeys(
            booking_id for e in events if (booking_id := getattr(e, "booking_id", None)) is not None
        )
        for booking_id in touched:
            booking = self.core.bookings.get(booking_id)
            if booking is not None:
                await self.store.save(booking)


def positions_into_registry(
    registry: DoctorRegistry, fixes: Sequence[LocationFix], now_s: float
) -> BatchUpdateResult:
    """Put stored last-known positions back into the registry after a restart.

    Only doctors the registry knows (their profiles are loaded first) are placed; fixes
    older than the staleness limit still go in, and simply count as stale.
    """
    known = [f for f in fixes if f.doctor_id in registry]
    return registry.update_positions(
        [f.doctor_id for f in known],
        np.array([f.lat for f in known]),
        np.array([f.lon for f in known]),
        np.array([f.accuracy_m for f in known]),
        np.array([f.recorded_s for f in known]),
        now_s,
    )


@dataclass
class Stores:
    bookings: BookingStore
    locations: PostgisLocationWriter | SqliteLocationStore

    async def close(self) -> None:
        await self.bookings.close()
        await self.locations.close()


async def open_stores(database_url: str | None, sqlite_path: Path) -> Stores:
    """The engine's storage: PostGIS when a URL is given (refused if its schema is behind,
    with the command to run), else the embedded SQLite file, created on first use."""
    if database_url:
        await require_current_schema(database_url)
        return Stores(
            await PostgisBookingStore.connect(database_url),
            await PostgisLocationWriter.connect(database_url, min_size=1, max_size=4),
        )
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    return Stores(SqliteBookingStore(sqlite_path), SqliteLocationStore(sqlite_path))
