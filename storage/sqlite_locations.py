"""Location history in the embedded SQLite store (the default without DATABASE_URL).

Same duties as the PostGIS writer, for one machine's scale: history rows, each doctor's
last known position, and tracks. Runs in a worker thread, like the booking store.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from storage.locations import LocationFix, Track, simplified_track

SQLITE_BUSY_S = 10.0  # how long a write waits for another connection's lock

_SCHEMA = """
CREATE TABLE IF NOT EXISTS location_history (
    doctor_id TEXT NOT NULL,
    recorded_at REAL NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    accuracy_m REAL NOT NULL,
    booking_id TEXT
);
CREATE INDEX IF NOT EXISTS location_history_doctor_time ON location_history (doctor_id, recorded_at);
CREATE TABLE IF NOT EXISTS locations (
    doctor_id TEXT PRIMARY KEY,
    recorded_at REAL NOT NULL,
    latitude REAL NOT NULL,
    longitude REAL NOT NULL,
    accuracy_m REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS doctor_availability (
    doctor_id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('available', 'on_break')),
    updated_at REAL NOT NULL
);
"""


@contextlib.contextmanager
def _transaction(c: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error: a failed write must never
    leave the shared file locked for the engine's other connections."""
    c.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        c.execute("ROLLBACK")
        raise
    c.execute("COMMIT")


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


class SqliteLocationStore:
    def __init__(self, path: Path | str) -> None:
        self._conn = sqlite3.connect(
            str(path), check_same_thread=False, isolation_level=None, timeout=SQLITE_BUSY_S
        )
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.executescript(_SCHEMA)

    async def close(self) -> None:
        await asyncio.to_thread(self._conn.close)

    async def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        await asyncio.to_thread(self._write, rows)

    def _write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        with self._lock:
            c = self._conn
            with _transaction(c):
                c.executemany(
                    "INSERT INTO location_history VALUES (?, ?, ?, ?, ?, ?)",
                    [(r[0], _epoch(r[1]), r[2], r[3], r[4], r[5]) for r in rows],
                )

    async def write_latest(self, rows: Sequence[tuple[Any, ...]]) -> None:
        await asyncio.to_thread(self._write_latest, rows)

    def _write_latest(self, rows: Sequence[tuple[Any, ...]]) -> None:
        with self._lock:
            c = self._conn
            with _transaction(c):
                c.executemany(
                    "INSERT INTO locations VALUES (?, ?, ?, ?, ?) ON CONFLICT (doctor_id) DO UPDATE SET"
                    " recorded_at = excluded.recorded_at, latitude = excluded.latitude,"
                    " longitude = excluded.longitude, accuracy_m = excluded.accuracy_m"
                    " WHERE locations.recorded_at < excluded.recorded_at",
                    [(r[0], _epoch(r[1]), r[2], r[3], r[4]) for r in rows],
                )

    async def last_known(self) -> list[LocationFix]:
        return await asyncio.to_thread(self._last_known)

    def _last_known(self) -> list[LocationFix]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT doctor_id, latitude, longitude, accuracy_m, recorded_at FROM locations ORDER BY doctor_id"
            ).fetchall()
        return [LocationFix(d, lat, lon, acc, t) for d, lat, lon, acc, t in rows]

    async def save_shift(self, doctor_id: str, status: str | None, at_s: float) -> None:
        """A doctor's shift: 'available' or 'on_break' while on shift, None when it ended."""
        await asyncio.to_thread(self._save_shift, doctor_id, status, at_s)

    def _save_shift(self, doctor_id: str, status: str | None, at_s: float) -> None:
        with self._lock:
            if status is None:
                self._conn.execute(
                    "DELETE FROM doctor_availability WHERE doctor_id = ?", (doctor_id,)
                )
            else:
                self._conn.execute(
                    "INSERT INTO doctor_availability VALUES (?, ?, ?) ON CONFLICT (doctor_id)"
                    " DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at",
                    (doctor_id, status, at_s),
                )

    async def shifts(self) -> dict[str, tuple[str, float]]:
        """Doctors on shift: id -> (status, since when)."""
        return await asyncio.to_thread(self._shifts)

    def _shifts(self) -> dict[str, tuple[str, float]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT doctor_id, status, updated_at FROM doctor_availability"
            ).fetchall()
        return {d: (status, float(at)) for d, status, at in rows}

    async def track(
        self, doctor_id: str, from_s: float, to_s: float, tolerance_m: float = 10.0
    ) -> Track:
        rows = await asyncio.to_thread(self._track, doctor_id, from_s, to_s)
        return simplified_track([r[0] for r in rows], [(r[1], r[2]) for r in rows], tolerance_m)

    def _track(
        self, doctor_id: str, from_s: float, to_s: float
    ) -> list[tuple[float, float, float]]:
        with self._lock:
            return self._conn.execute(
                "SELECT recorded_at, latitude, longitude FROM location_history"
                " WHERE doctor_id = ? AND recorded_at >= ? AND recorded_at < ? ORDER BY recorded_at",
                (doctor_id, from_s, to_s),
            ).fetchall()
