"""One contract for the location stores: PostGIS (binary COPY) and embedded SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage.locations import LocationFix, LocationIngest, PostgisLocationWriter
from storage.sqlite_locations import SqliteLocationStore
from tests.conftest import migrate, scratch_postgis_database

T0 = 1_800_000_000.0


@pytest.fixture(params=["sqlite", "postgis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "sqlite":
        s: Any = SqliteLocationStore(tmp_path / "tot.sqlite3")
        try:
            yield s
        finally:
            await s.close()
        return
    async with scratch_postgis_database() as url:
        await migrate(url)
        s = await PostgisLocationWriter.connect(url, min_size=1, max_size=2)
        try:
            yield s
        finally:
            await s.close()


async def test_history_tracks_and_last_known(store: Any) -> None:
    ingest = LocationIngest(store, flush_rows=40)
    drive = [LocationFix("doc-1", 55.75 + i * 1e-4, 37.62, 5.0, T0 + i) for i in range(100)]
    ingest.submit(reversed(drive))  # out of order on the way in
    ingest.submit([LocationFix("doc-2", 55.70, 37.50, 9.0, T0 + 5)])
    await ingest.flush()
    ingest.submit([LocationFix("doc-2", 55.60, 37.40, 9.0, T0 + 1)])  # older than the stored one
    await ingest.flush()
    track = await store.track("doc-1", T0 + 10, T0 + 20)
    assert track.times_s == [T0 + i for i in range(10, 20)]
    assert track.points[0] == pytest.approx((55.75 + 10e-4, 37.62))
    assert len(track.simplified) == 2  # straight north
    last = {f.doctor_id: f for f in await store.last_known()}
    assert last["doc-1"].recorded_s == T0 + 99
    assert (last["doc-2"].lat, last["doc-2"].lon, last["doc-2"].recorded_s) == pytest.approx(
        (55.70, 37.50, T0 + 5)
    )
    assert (await store.track("nobody", T0, T0 + 100)).points == []


async def test_shifts_are_kept_until_they_end(store: Any) -> None:
    assert await store.shifts() == {}
    await store.save_shift("doc-1", "available", T0)
    await store.save_shift("doc-2", "available", T0 + 1)
    await store.save_shift("doc-1", "on_break", T0 + 2)
    shifts = await store.shifts()
    assert {d: status for d, (status, _) in shifts.items()} == {
        "doc-1": "on_break",
        "doc-2": "available",
    }
    assert shifts["doc-1"][1] == pytest.approx(T0 + 2)
    await store.save_shift("doc-2", None, T0 + 3)  # the shift ended
    await store.save_shift("nobody", None, T0 + 3)  # ending a shift twice is harmless
    assert set(await store.shifts()) == {"doc-1"}
    with pytest.raises(Exception):  # noqa: B017, PT011 - each adapter's own error type
        await store.save_shift("doc-3", "napping", T0)
    assert set(await store.shifts()) == {"doc-1"}
