"""The dispatch engine's write path: the core's decisions, stored before anyone is told."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dispatch_core import CandidateSource, DispatchCore, DispatchPolicy
from dispatch_core.messages import Command, Event
from dispatch_core.model import WITH_DOCTOR, Booking
from dispatch_core.ports import BookingStore
from matching import BatchUpdateResult, DoctorRegistry
from services.database import require_current_schema
from storage.locations import LocationFix, PostgisLocationWriter
from storage.postgis import PostgisBookingStore
from storage.sqlite import SqliteBookingStore
from storage.sqlite_locations import SqliteLocationStore

log = logging.getLogger(__name__)


EventListener = Callable[[list[Event]], None]


class Engine:
    """Runs commands through the pure core and saves every booking they touched.

    `handle` returns only after the touched bookings are committed, so whatever the
    caller acknowledges has reached storage; after a crash, `recover` rebuilds the core
    from the open bookings and carries on.

    Saves go through one writer task (group commit): commands are decided at once, in
    order, and their bookings are written in that order, several per round when many
    arrive together, so one slow disk write does not hold the decisions up and a
    booking is never written by two tasks at once. Listeners hear the events after
    they are stored; finished bookings leave memory once stored.
    """

    def __init__(self, core: DispatchCore, store: BookingStore) -> None:
        self.core = core
        self.store = store
        self.listeners: list[EventListener] = []
        self.forgotten: list[
            Callable[[str], None]
        ] = []  # told when a finished booking leaves memory
        self._queue: list[tuple[list[str], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._unsaved: dict[str, None] = {}  # failed last time: written again next round

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
        for listener in self.listeners:
            try:
                listener(events)
            except Exception:  # a listener's bug must not undo a stored decision
                log.exception("event listener failed")
        return events

    async def close(self) -> None:
        """Wait for the writes in flight."""
        if self._writer is not None:
            await asyncio.shield(self._writer)

    async def _save(self, events: list[Event]) -> None:
        touched = list(
            dict.fromkeys(
                booking_id
                for e in events
                if (booking_id := getattr(e, "booking_id", None)) is not None
            )
        )
        if not touched:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((touched, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_rounds())
        await done

    async def _write_rounds(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            failed: dict[str, BaseException] = {}
            unexpected: BaseException | None = None
            try:
                await self._write_round(batch, failed)
            except BaseException as exc:  # never leave a caller waiting forever
                unexpected = exc
                log.exception("engine writer round failed")
            finally:
                for ids, done in batch:
                    if done.done():
                        continue
                    error = unexpected or next((failed[b] for b in ids if b in failed), None)
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
            if isinstance(unexpected, asyncio.CancelledError):
                raise unexpected

    async def _write_round(
        self, batch: list[tuple[list[str], asyncio.Future[None]]], failed: dict[str, BaseException]
    ) -> None:
        order = dict(self._unsaved)
        for ids, _ in batch:
            order.update(dict.fromkeys(ids))
        self._unsaved = {}
        # Snapshots, taken together before any await: the core keeps deciding while the
        # store writes, and a half-changed booking must never reach the database.
        bookings = [_snapshot(b) for i in order if (b := self.core.bookings.get(i)) is not None]
        # Releases first: the snapshot holds one active booking per doctor, but a doctor
        # freed by one booking and bound by another in this round must be freed in
        # storage before the database's one-active-booking index sees the new one. (The
        # stores also free every batch booking's doctor first, for swaps.)
        bookings.sort(key=lambda b: b.status in WITH_DOCTOR)
        try:
            await self.store.save_many(bookings)
        except Exception:
            # Find the culprit(s): one by one, so the others still land.
            for booking in bookings:
                try:
                    await self.store.save(booking)
                except Exception as exc:  # told to the callers of this booking
                    failed[booking.booking_id] = exc
                    self._unsaved[booking.booking_id] = None
        for booking in bookings:
            if booking.terminal and booking.booking_id not in failed:
                self.core.forget(booking.booking_id)
                for hook in self.forgotten:
                    try:
                        hook(booking.booking_id)
                    except Exception:  # a hook's bug must not stall the writer
                        log.exception("forget hook failed")


def _snapshot(booking: Booking) -> Booking:
    return dataclasses.replace(
        booking,
        history=list(booking.history),
        messages=list(booking.messages),
        excluded_doctors=set(booking.excluded_doctors),
    )


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
