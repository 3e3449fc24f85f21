"""The dispatch engine's write path: the core's decisions, stored before anyone is told."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dispatch_core import CandidateSource, DispatchCore, DispatchPolicy
from dispatch_core.messages import Command, CommandRejected, Event, OfferSent
from dispatch_core.model import WITH_DOCTOR, Booking
from dispatch_core.ports import BookingStore
from matching import BatchUpdateResult, DoctorRegistry
from services.database import require_current_schema
from services.errors import ChangeNotStoredError, StorageUnavailableError
from storage.errors import is_unavailable
from storage.locations import LocationFix, PostgisLocationWriter
from storage.postgis import PostgisBookingStore
from storage.sqlite import SqliteBookingStore
from storage.sqlite_locations import SqliteLocationStore

log = logging.getLogger(__name__)


EventListener = Callable[[list[Event]], None]


@dataclass(eq=False, slots=True)
class _Pending:
    """One command's events, waiting to be stored before anyone hears of them."""

    ids: list[str]
    events: list[Event]
    done: asyncio.Future[None] | None  # None: nobody waits (recovery, undo)


DECISION_SAMPLES = 1_024


class Engine:
    """Runs commands through the pure core and saves every booking they touched.

    `handle` returns only after the touched bookings are committed, and listeners hear
    the events only then, so whatever anyone is told has reached storage; after a crash,
    `recover` rebuilds the core from the open bookings and carries on.

    Saves go through one writer task (group commit): commands are decided at once, in
    order, and their bookings are written in that order, several per round when many
    arrive together, so one slow disk write does not hold the decisions up and a
    booking is never written by two tasks at once.

    When storage cannot be reached the writer retries the round until it lands (with
    backoff); a caller waits `save_timeout_s` and then gets StorageUnavailableError (503)
    while the decision stays queued, to be stored and told when storage is back. When
    storage refuses a round (a constraint, a bug), the round's bookings, and those of
    any later command that touched them, are put back in the core as stored, and those
    callers get ChangeNotStoredError: memory and storage never silently disagree.
    """

    def __init__(
        self, core: DispatchCore, store: BookingStore, *, save_timeout_s: float = 10.0
    ) -> None:
        self.core = core
        self.store = store
        self.save_timeout_s = save_timeout_s
        self.listeners: list[EventListener] = []
        self.forgotten: list[
            Callable[[str], None]
        ] = []  # told when a finished booking leaves memory
        self._queue: list[_Pending] = []
        self._writer: asyncio.Task[None] | None = None
        self.storage_down_since_s: float | None = None  # monotonic; None while it answers
        self.retry_backoff_s = (0.05, 2.0)  # first and longest wait between attempts
        # How long the core took over its last decisions that offered a booking to
        # doctors (matching included), in seconds: the admins' status shows p50 and p99.
        self.decision_times_s: deque[float] = deque(maxlen=DECISION_SAMPLES)

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

    @property
    def storage_available(self) -> bool:
        return self.storage_down_since_s is None

    async def handle(self, command: Command, now_s: float) -> list[Event]:
        started = time.perf_counter()
        events = self.core.handle(command, now_s)
        if any(isinstance(e, OfferSent) for e in events):
            self.decision_times_s.append(time.perf_counter() - started)
        await self._save(events)
        return events

    async def close(self, timeout_s: float = 15.0) -> None:
        """Wait for the writes in flight; at most `timeout_s` when storage is away (the
        process is stopping: what was not stored by then was answered 503, never 2xx)."""
        if self._writer is None or self._writer.done():
            return
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(self._writer)
        except TimeoutError:
            pending = sum(len(entry.ids) for entry in self._queue)
            log.error(
                "stopping with changes not stored: storage did not answer within %.0f s "
                "(%d more queued)",
                timeout_s,
                pending,
            )
            self._writer.cancel()

    def _tell(self, events: list[Event]) -> None:
        for listener in self.listeners:
            try:
                listener(events)
            except Exception:  # a listener's bug must not undo a stored decision
                log.exception("event listener failed")

    async def _save(self, events: list[Event], *, wait: bool = True) -> None:
        touched = _touched(events)
        if not touched:
            self._tell(events)  # nothing to store (a refusal, a doctor's presence)
            return
        done: asyncio.Future[None] | None = (
            asyncio.get_running_loop().create_future() if wait else None
        )
        self._queue.append(_Pending(touched, events, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_rounds())
        if done is None:
            return
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancellation
            # that arrives as `done` resolves, and the cancelled caller runs on.
            async with asyncio.timeout(self.save_timeout_s):
                await asyncio.shield(done)
        except TimeoutError:
            raise StorageUnavailableError(
                "storage is not answering: the change is kept and will be stored when it "
                "is back; retry the request to see its outcome"
            ) from None

    async def _write_rounds(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._write_round(batch)
            except BaseException as exc:  # never leave a caller waiting forever
                log.exception("engine writer round failed")
                for entry in batch:
                    if entry.done is not None and not entry.done.done():
                        entry.done.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise

    async def _write_round(self, batch: list[_Pending]) -> None:
        order = list(dict.fromkeys(i for entry in batch for i in entry.ids))
        # Snapshots, taken together before any await: the core keeps deciding while the
        # store writes, and a half-changed booking must never reach the database.
        bookings = [_snapshot(b) for i in order if (b := self.core.bookings.get(i)) is not None]
        # Releases first: the snapshot holds one active booking per doctor, but a doctor
        # freed by one booking and bound by another in this round must be freed in
        # storage before the database's one-active-booking index sees the new one. (The
        # stores also free every batch booking's doctor first, for swaps.)
        bookings.sort(key=lambda b: b.status in WITH_DOCTOR)
        refused = await self._store_until_it_answers(bookings)
        if refused is not None:
            await self._undo(batch, refused)
            return
        for entry in batch:
            self._tell(entry.events)
            if entry.done is not None and not entry.done.done():
                entry.done.set_result(None)
        for booking in bookings:
            if booking.terminal:
                self.core.forget(booking.booking_id)
                for hook in self.forgotten:
                    try:
                        hook(booking.booking_id)
                    except Exception:  # a hook's bug must not stall the writer
                        log.exception("forget hook failed")

    async def _store_until_it_answers(self, bookings: list[Booking]) -> Exception | None:
        """Save; while storage is unreachable, wait and try again. The refusal, if any."""
        wait_s, longest_s = self.retry_backoff_s
        while True:
            try:
                await self.store.save_many(bookings)
            except Exception as exc:
                if not is_unavailable(exc):
                    self._storage_back()
                    return exc
                if self.storage_down_since_s is None:
                    self.storage_down_since_s = time.monotonic()
                    log.error("storage unreachable (%s); retrying until it answers", exc)
                await asyncio.sleep(wait_s * (0.5 + random.random()))
                wait_s = min(longest_s, wait_s * 2)
                continue
            self._storage_back()
            return None

    def _storage_back(self) -> None:
        if self.storage_down_since_s is not None:
            log.warning(
                "storage answers again after %.1f s",
                time.monotonic() - self.storage_down_since_s,
            )
            self.storage_down_since_s = None

    async def _undo(self, batch: list[_Pending], error: Exception) -> None:
        """Storage refused the round: put its bookings (and those of every queued command
        that touched them) back as stored, and tell those callers."""
        log.error("storage refused a change, undone in memory: %s", error)
        failed = list(batch)
        ids = {i for entry in batch for i in entry.ids}
        grew = True
        while grew:  # later commands that touched these bookings built on the refused state
            grew = False
            for entry in list(self._queue):
                if ids.intersection(entry.ids):
                    self._queue.remove(entry)
                    failed.append(entry)
                    ids.update(entry.ids)
                    grew = True
        stored: dict[str, Booking | None] = {}
        for booking_id in sorted(ids):
            while True:
                try:
                    stored[booking_id] = await self.store.load(booking_id)
                    break
                except Exception as exc:
                    if not is_unavailable(exc):
                        raise
                    await asyncio.sleep(self.retry_backoff_s[1])
        events = self.core.reload(stored, time.time())
        refusal = ChangeNotStoredError(
            f"the change could not be stored and was undone ({type(error).__name__}: {error})"
        )
        for entry in failed:
            if entry.done is not None and not entry.done.done():
                entry.done.set_exception(refusal)
        touched = _touched(events)
        if touched:  # the undo's own moves (re-offers, releases) are stored like any other
            self._queue.insert(0, _Pending(touched, events, None))


def _touched(events: list[Event]) -> list[str]:
    return list(
        dict.fromkeys(
            booking_id
            for e in events
            if not isinstance(e, CommandRejected)
            and (booking_id := getattr(e, "booking_id", None)) is not None
        )
    )


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
