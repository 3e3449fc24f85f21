"""Location history ingest: binary COPY into the partitioned table, flushing, bounds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from storage.locations import LocationFix, LocationIngest, PostgisLocationWriter
from tests.conftest import migrate

T0 = 1_800_000_000.0  # 2027-01-15


def fixes(n: int, doctor: str = "doc-1", start_s: float = T0) -> list[LocationFix]:
    return [
        LocationFix(doctor, 55.75 + i * 1e-5, 37.62 - i * 1e-5, 5.0 + i % 7, start_s + i)
        for i in range(n)
    ]


async def test_fixes_land_in_their_daily_partition_with_exact_points(postgis_url: str) -> None:
    await migrate(postgis_url)
    conn = await asyncpg.connect(postgis_url)
    await conn.fetchval("SELECT geo.ensure_location_partitions('2027-01-14'::date, 3)")
    writer = await PostgisLocationWriter.connect(postgis_url, min_size=1, max_size=2)
    try:
        ingest = LocationIngest(writer, flush_rows=5_000)
        sent = fixes(12_000)
        assert ingest.submit(sent) == 12_000
        assert await ingest.flush() == 12_000
        assert ingest.buffered == 0
        rows = await conn.fetch(
            "SELECT ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lon, accuracy_m,"
            " extract(epoch FROM recorded_at) AS t, tableoid::regclass::text AS part"
            " FROM geo.location_history ORDER BY recorded_at"
        )
        assert len(rows) == 12_000
        for fix, row in zip(sent[::997], rows[::997], strict=True):
            assert (row["lat"], row["lon"]) == pytest.approx((fix.lat, fix.lon), abs=1e-12)
            assert float(row["t"]) == fix.recorded_s
            assert row["accuracy_m"] == fix.accuracy_m
        assert {r["part"] for r in rows} == {"geo.location_history_20270115"}
    finally:
        await writer.close()
        await conn.close()


class FlakyWriter:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.batches: list[int] = []
        self.latest: dict[str, tuple[Any, ...]] = {}

    async def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if self.fail:
            raise OSError("connection refused")
        self.batches.append(len(rows))

    async def write_latest(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if self.fail:
            raise OSError("connection refused")
        self.latest = {r[0]: r for r in rows}


async def test_flushes_by_size_without_waiting_for_the_timer() -> None:
    writer = FlakyWriter()
    ingest = LocationIngest(writer, flush_rows=100, flush_interval_s=30.0)
    task = asyncio.create_task(ingest.run())
    ingest.submit(fixes(250))
    for _ in range(100):
        await asyncio.sleep(0.01)
        if ingest.written >= 200:
            break
    assert ingest.written >= 200
    ingest.stop()
    await task
    assert ingest.written == 250  # the rest on the way out
    assert max(writer.batches) <= 100
    assert writer.latest["doc-1"][1].timestamp() == T0 + 249  # one last-known row, the newest


async def test_flushes_by_time() -> None:
    writer = FlakyWriter()
    ingest = LocationIngest(writer, flush_rows=10_000, flush_interval_s=0.1)
    task = asyncio.create_task(ingest.run())
    ingest.submit(fixes(50))
    started = time.monotonic()
    while ingest.written < 50 and time.monotonic() - started < 5:
        await asyncio.sleep(0.02)
    assert ingest.written == 50
    ingest.stop()
    await task


async def test_database_down_keeps_a_bounded_buffer_and_counts_drops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = FlakyWriter(fail=True)
    ingest = LocationIngest(
        writer, flush_rows=50, flush_interval_s=0.05, max_buffered=100, retry_backoff_s=0.01
    )
    task = asyncio.create_task(ingest.run())
    assert ingest.submit(fixes(150)) == 100
    assert ingest.dropped == 50
    assert "dropped 50" in caplog.text
    await asyncio.sleep(0.2)
    assert ingest.failed_flushes >= 1
    assert ingest.buffered == 100  # nothing lost while the database is away
    writer.fail = False  # it comes back
    started = time.monotonic()
    while ingest.buffered and time.monotonic() - started < 5:
        await asyncio.sleep(0.02)
    assert ingest.written == 100
    ingest.stop()
    await task


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="flush"):
        LocationIngest(FlakyWriter(), flush_rows=0)
    with pytest.raises(ValueError, match="flush"):
        LocationIngest(FlakyWriter(), flush_rows=10, max_buffered=5)


async def test_a_doctors_track_is_ordered_and_simplified(postgis_url: str) -> None:
    from storage.locations import doctor_track

    await migrate(postgis_url)
    writer = await PostgisLocationWriter.connect(postgis_url, min_size=1, max_size=1)
    try:
        ingest = LocationIngest(writer)
        # A straight drive north (one fix a second), another doctor, and fixes outside the window.
        drive = [LocationFix("doc-1", 55.75 + i * 1e-4, 37.62, 5.0, T0 + i) for i in range(600)]
        ingest.submit(reversed(drive))
        ingest.submit(fixes(300, doctor="doc-2"))
        ingest.submit(
            [
                LocationFix("doc-1", 50.0, 30.0, 5.0, T0 - 10),
                LocationFix("doc-1", 50.0, 30.0, 5.0, T0 + 600),
            ]
        )
        await ingest.flush()
        async with writer._pool.acquire() as conn:
            track = await doctor_track(conn, "doc-1", T0, T0 + 600)
    finally:
        await writer.close()
    assert track.times_s == [T0 + i for i in range(600)]
    assert track.points[0] == pytest.approx((55.75, 37.62))
    assert track.points[-1] == pytest.approx((55.75 + 599e-4, 37.62))
    assert len(track.simplified) == 2  # a straight line needs its two ends
    assert track.simplified[-1] == pytest.approx(track.points[-1], abs=1e-6)


async def test_last_known_positions_and_restoring_the_registry(postgis_url: str) -> None:
    from datetime import date

    from matching import DoctorProfile, DoctorRegistry, DoctorStatus
    from routing.geo import LocalProjection
    from services.engine import positions_into_registry
    from storage.locations import h3_cell, last_known_positions, maintain_partitions

    await migrate(postgis_url)
    writer = await PostgisLocationWriter.connect(postgis_url, min_size=1, max_size=2)
    try:
        ingest = LocationIngest(writer, flush_rows=100, parallel_writes=2)
        newer = [
            LocationFix("doc-1", 55.76, 37.63, 4.0, T0 + 100),
            LocationFix("doc-2", 55.70, 37.50, 9.0, T0 + 50),
        ]
        older = fixes(250, doctor="doc-1")  # T0 .. T0 + 249, written after the newer fix
        ingest.submit(newer)
        await ingest.flush()
        ingest.submit(older)
        await ingest.flush()
        async with writer._pool.acquire() as conn:
            last = await last_known_positions(conn)
            made, dropped = await maintain_partitions(
                conn, date(2027, 1, 15), days_ahead=2, retention_days=1
            )
            again = await maintain_partitions(
                conn, date(2027, 1, 15), days_ahead=2, retention_days=1
            )
            cells = {
                r["doctor_id"]: r["h3_cell"]
                for r in await conn.fetch("SELECT doctor_id, h3_cell FROM geo.locations")
            }
            # the rows that had landed in the default partition moved into their day's
            in_default = await conn.fetchval("SELECT count(*) FROM geo.location_history_default")
            in_day = await conn.fetchval("SELECT count(*) FROM geo.location_history_20270115")
            with pytest.raises(ValueError, match="at least 1"):
                await maintain_partitions(conn, date(2027, 1, 15), days_ahead=0)
    finally:
        await writer.close()
    by_doctor = {f.doctor_id: f for f in last}
    # doc-1's newest is the fix at T0 + 249 from the later batch, not the one at T0 + 100
    assert by_doctor["doc-1"].recorded_s == T0 + 249
    assert (
        by_doctor["doc-2"].lat,
        by_doctor["doc-2"].lon,
        by_doctor["doc-2"].accuracy_m,
    ) == pytest.approx((55.70, 37.50, 9.0))
    assert (made, dropped, again) == (3, 0, (0, 0))
    assert cells == {
        "doc-1": h3_cell(by_doctor["doc-1"].lat, by_doctor["doc-1"].lon),
        "doc-2": h3_cell(55.70, 37.50),
    }
    assert (in_default, in_day) == (0, 252)

    registry = DoctorRegistry(LocalProjection(55.75, 37.62))
    registry.upsert_doctor(DoctorProfile("doc-1"), DoctorStatus.AVAILABLE)
    result = positions_into_registry(registry, last, T0 + 300)
    assert result.accepted == 1  # doc-2 has no profile loaded: not placed
    position = registry.position("doc-1")
    assert position is not None
    assert position[3] == T0 + 249


async def test_stopping_while_the_database_is_away_says_what_was_not_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = FlakyWriter(fail=True)
    ingest = LocationIngest(writer, flush_rows=10, flush_interval_s=0.05, retry_backoff_s=0.01)
    task = asyncio.create_task(ingest.run())
    ingest.submit(fixes(25))
    await asyncio.sleep(0.1)
    ingest.stop()
    await asyncio.wait_for(task, 5)  # it stops, it does not hang or raise
    assert ingest.written == 0
    assert "25 fixes unwritten" in caplog.text
