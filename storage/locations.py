"""Location history at rate: a bounded in-memory buffer flushed to PostGIS with binary COPY.

Fixes are buffered and written in batches, by size or by time. The buffer is bounded:
when the database is slow or down, new fixes beyond the bound are dropped, counted and
logged (never silently, never blocking the dispatch path). A crash loses at most what is
in the buffer: at most `max_buffered` rows, normally under `flush_rows` or
`flush_interval_s` worth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import asyncpg

from storage.pg import Pool, create_pool

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ("doctor_id", "recorded_at", "latitude", "longitude", "accuracy_m", "booking_id")


@dataclass(frozen=True, slots=True)
class LocationFix:
    doctor_id: str
    lat: float
    lon: float
    accuracy_m: float
    recorded_s: float  # epoch seconds
    booking_id: str | None = None

    def row(self) -> tuple[Any, ...]:
        return (
            self.doctor_id,
            datetime.fromtimestamp(self.recorded_s, UTC),
            self.lat,
            self.lon,
            self.accuracy_m,
            self.booking_id,
        )


class LocationWriter(Protocol):
    async def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Append rows (HISTORY_COLUMNS order) to the location history."""
        ...

    async def write_latest(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Record each row's doctor's last known position (one row per doctor)."""
        ...


H3_RESOLUTION = 8  # as the matcher's registry: cells of about 0.7 km²

_UPSERT_LAST_KNOWN = """
INSERT INTO geo.locations (doctor_id, recorded_at, location, accuracy_m, h3_cell)
SELECT d, t, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, a, c
FROM unnest($1::text[], $2::timestamptz[], $3::float8[], $4::float8[], $5::float4[], $6::int8[])
    AS u(d, t, lat, lon, a, c)
ON CONFLICT (doctor_id) DO UPDATE
SET recorded_at = EXCLUDED.recorded_at, location = EXCLUDED.location,
    accuracy_m = EXCLUDED.accuracy_m, h3_cell = EXCLUDED.h3_cell
WHERE geo.locations.recorded_at < EXCLUDED.recorded_at
"""


def h3_cell(lat: float, lon: float) -> int:
    """The H3 cell (as a signed 64-bit int, PostgreSQL's bigint) holding the point."""
    import h3.api.basic_int as h3

    cell = int(h3.latlng_to_cell(lat, lon, H3_RESOLUTION))
    return cell - (1 << 64) if cell >= 1 << 63 else cell


async def last_known_positions(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
) -> list[LocationFix]:
    """Every doctor's last stored fix (for rebuilding the registry after a restart)."""
    rows = await conn.fetch(
        "SELECT doctor_id, ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lon,"
        " accuracy_m, extract(epoch FROM recorded_at)::float8 AS t FROM geo.locations ORDER BY doctor_id"
    )
    return [
        LocationFix(r["doctor_id"], r["lat"], r["lon"], float(r["accuracy_m"]), r["t"])
        for r in rows
    ]


async def maintain_partitions(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    today: date,
    *,
    days_ahead: int = 3,
    retention_days: int = 30,
) -> tuple[int, int]:
    """Create tomorrow's partitions ahead and drop those past the retention: (made, dropped).

    Run it daily (the engine's housekeeping); a missed run only lands rows in the
    default partition, never loses them.
    """
    if days_ahead < 1 or retention_days < 1:
        raise ValueError("days_ahead and retention_days must be at least 1")
    made = await conn.fetchval(
        "SELECT geo.ensure_location_partitions($1::date, $2)", today, days_ahead + 1
    )
    dropped = await conn.fetchval(
        "SELECT geo.drop_location_partitions_before($1::date)",
        today - timedelta(days=retention_days),
    )
    return int(made), int(dropped)


class PostgisLocationWriter:
    """Writes buffered fixes into geo.location_history with binary COPY."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, database_url: str, **pool_args: Any) -> PostgisLocationWriter:
        pool = await create_pool(database_url, **pool_args)
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    async def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        async with self._pool.acquire() as conn:
            await conn.copy_records_to_table(
                "location_history", schema_name="geo", columns=HISTORY_COLUMNS, records=rows
            )

    async def last_known(self) -> list[LocationFix]:
        async with self._pool.acquire() as conn:
            return await last_known_positions(conn)

    async def track(
        self, doctor_id: str, from_s: float, to_s: float, tolerance_m: float = 10.0
    ) -> Track:
        async with self._pool.acquire() as conn:
            return await doctor_track(conn, doctor_id, from_s, to_s, tolerance_m)

    async def save_shift(self, doctor_id: str, status: str | None, at_s: float) -> None:
        """A doctor's shift: 'available' or 'on_break' while on shift, None when it ended."""
        async with self._pool.acquire() as conn:
            if status is None:
                await conn.execute(
                    "DELETE FROM geo.doctor_availability WHERE doctor_id = $1", doctor_id
                )
            else:
                await conn.execute(
                    "INSERT INTO geo.doctor_availability (doctor_id, status, updated_at)"
                    " VALUES ($1, $2, $3) ON CONFLICT (doctor_id) DO UPDATE"
                    " SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at",
                    doctor_id,
                    status,
                    datetime.fromtimestamp(at_s, UTC),
                )

    async def shifts(self) -> dict[str, tuple[str, float]]:
        """Doctors on shift: id -> (status, since when)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT doctor_id, status, updated_at FROM geo.doctor_availability"
            )
        return {r["doctor_id"]: (r["status"], r["updated_at"].timestamp()) for r in rows}

    async def write_latest(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Each doctor's newest fix into geo.locations, unless a newer one is there."""
        newest = sorted(rows, key=lambda r: r[0])  # one lock order for concurrent writers
        async with self._pool.acquire() as conn:
            await conn.execute(
                _UPSERT_LAST_KNOWN,
                [r[0] for r in newest],
                [r[1] for r in newest],
                [r[2] for r in newest],
                [r[3] for r in newest],
                [r[4] for r in newest],
                [h3_cell(r[2], r[3]) for r in newest],
            )


class LocationIngest:
    """The buffer and its flusher. `submit` never waits; `run` flushes in the background."""

    def __init__(
        self,
        writer: LocationWriter,
        *,
        flush_rows: int = 5_000,
        flush_interval_s: float = 1.0,
        max_buffered: int = 200_000,
        retry_backoff_s: float = 1.0,
        parallel_writes: int = 2,
    ) -> None:
        if not (0 < flush_rows <= max_buffered) or not (
            flush_interval_s > 0 and math.isfinite(flush_interval_s)
        ):
            raise ValueError("need 0 < flush_rows <= max_buffered and a positive flush interval")
        self.writer = writer
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self.max_buffered = max_buffered
        self.retry_backoff_s = retry_backoff_s
        self.parallel_writes = max(1, parallel_writes)  # the pool needs as many connections
        self._buffer: deque[tuple[Any, ...]] = deque()
        # Each doctor's newest buffered fix: written once per flush, not once per row.
        self._latest: dict[str, tuple[Any, ...]] = {}
        self._wake = asyncio.Event()
        self.written = 0
        self.dropped = 0
        self.failed_flushes = 0
        self._stopping = False
        self._warned_at = -math.inf

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def submit(self, fixes: Iterable[LocationFix]) -> int:
        """Buffer fixes for writing; returns how many were taken (the rest were dropped)."""
        taken = 0
        dropped = 0
        for fix in fixes:
            if len(self._buffer) >= self.max_buffered:
                dropped += 1
                continue
            row = fix.row()
            self._buffer.append(row)
            seen = self._latest.get(fix.doctor_id)
            if seen is None or row[1] > seen[1]:
                self._latest[fix.doctor_id] = row
            taken += 1
        if dropped:
            self.dropped += dropped
            now = time.monotonic()
            if now - self._warned_at >= 5.0:  # one line per 5 s, not one per fix
                self._warned_at = now
                log.warning(
                    "location buffer full (%d rows): dropped %d fixes, %d in all",
                    self.max_buffered,
                    dropped,
                    self.dropped,
                )
        if len(self._buffer) >= self.flush_rows:
            self._wake.set()
        return taken

    async def flush(self) -> int:
        """Write everything buffered now, `parallel_writes` batches at a time.

        Batches that fail stay buffered (in order, ahead of newer fixes) and the first
        failure is raised after the others finished. Returns the rows written.
        """
        total = 0
        while self._buffer:
            batches: list[list[tuple[Any, ...]]] = []
            for _ in range(self.parallel_writes):
                if not self._buffer:
                    break
                n = min(len(self._buffer), self.flush_rows)
                batches.append([self._buffer.popleft() for _ in range(n)])
            results = await asyncio.gather(
                *(self.writer.write(b) for b in batches), return_exceptions=True
            )
            failed = [
                b for b, r in zip(batches, results, strict=True) if isinstance(r, BaseException)
            ]
            done = sum(
                len(b)
                for b, r in zip(batches, results, strict=True)
                if not isinstance(r, BaseException)
            )
            self.written += done
            total += done
            if failed:
                for batch in reversed(failed):
                    self._buffer.extendleft(reversed(batch))
                self.failed_flushes += 1
                error = next(r for r in results if isinstance(r, BaseException))
                log.warning(
                    "location flush of %d rows failed (%s); kept for a retry",
                    sum(map(len, failed)),
                    error,
                )
                raise error
        if self._latest:
            latest, self._latest = self._latest, {}
            try:
                await self.writer.write_latest(list(latest.values()))
            except BaseException:
                for doctor, row in latest.items():  # keep them for the next flush
                    seen = self._latest.get(doctor)
                    if seen is None or row[1] > seen[1]:
                        self._latest[doctor] = row
                raise
        return total

    async def run(self) -> None:
        """Flush by size or time until stop(); a last flush on the way out."""
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the flusher must outlive any failure; flush() logged it
                await asyncio.sleep(self.retry_backoff_s)
        try:
            await self.flush()
        except Exception:
            log.error("location ingest stopped with %d fixes unwritten", len(self._buffer))

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()


@dataclass(frozen=True, slots=True)
class Track:
    """A doctor's fixes in a time window, ordered, and a simplified line for the map."""

    times_s: list[float]
    points: list[tuple[float, float]]  # (lat, lon)
    simplified: list[tuple[float, float]]  # (lat, lon)


_TRACK = (
    "SELECT extract(epoch FROM recorded_at)::float8 AS t, latitude, longitude FROM geo.location_history"
    " WHERE doctor_id = $1 AND recorded_at >= $2 AND recorded_at < $3 ORDER BY recorded_at"
)


async def doctor_track(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
    doctor_id: str,
    from_s: float,
    to_s: float,
    tolerance_m: float = 10.0,
) -> Track:
    """The doctor's ordered fixes in [from_s, to_s) and the line simplified to tolerance_m."""
    rows = await conn.fetch(
        _TRACK, doctor_id, datetime.fromtimestamp(from_s, UTC), datetime.fromtimestamp(to_s, UTC)
    )
    times = [float(r["t"]) for r in rows]
    points = [(float(r["latitude"]), float(r["longitude"])) for r in rows]
    return simplified_track(times, points, tolerance_m)


def simplified_track(
    times: list[float], points: list[tuple[float, float]], tolerance_m: float
) -> Track:
    """A Track whose line keeps the shape within tolerance_m (Douglas-Peucker, via shapely)."""
    from shapely.geometry import LineString

    if len(points) < 3:
        return Track(times, points, list(points))
    lat0 = points[0][0]
    kx = 111_320.0 * math.cos(math.radians(lat0))
    line = LineString(
        [((lon - points[0][1]) * kx, (lat - lat0) * 111_320.0) for lat, lon in points]
    )
    simple = line.simplify(tolerance_m, preserve_topology=False)
    simplified = [(lat0 + y / 111_320.0, points[0][1] + x / kx) for x, y in simple.coords]
    return Track(times, points, simplified)
