"""Storage benchmark: location ingest through the project's path versus plain executemany,
and the track query for a one-hour track, against the test PostgreSQL (a scratch database).

    .venv/bin/python -m benchmarks.storage [--quick] [--database-url URL]

The last line printed is one JSON object.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    # `python benchmarks/storage.py`: Python put benchmarks/ first on the path, where this
    # file would stand in for the project's `storage` package. Run it as what it is,
    # `python -m benchmarks.storage`, from the project's root.
    import runpy
    from pathlib import Path

    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    runpy.run_module("benchmarks.storage", run_name="__main__", alter_sys=True)
    raise SystemExit(0)

import argparse
import asyncio
import gc
import json
import os
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import numpy as np

from benchmarks._common import p50, p99
from services.database import upgrade
from storage.locations import LocationFix, LocationIngest, PostgisLocationWriter, doctor_track

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC
# The usual way: one INSERT per row, the point built in SQL.
INSERT = (
    "INSERT INTO geo.location_history (doctor_id, recorded_at, latitude, longitude, accuracy_m, booking_id)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
)


def make_fixes(n: int, doctors: int, rng: np.random.Generator) -> list[LocationFix]:
    lat = 55.75 + rng.normal(0, 0.05, n)
    lon = 37.62 + rng.normal(0, 0.08, n)
    acc = rng.uniform(3, 30, n)
    who = rng.integers(0, doctors, n)
    t = T0 + np.sort(rng.uniform(0, 3_600, n))
    return [
        LocationFix(f"doc-{int(d):05d}", float(a), float(b), float(c), float(s))
        for d, a, b, c, s in zip(who, lat, lon, acc, t, strict=True)
    ]


async def run(args: argparse.Namespace) -> dict[str, object]:
    rng = np.random.default_rng(args.seed)
    n = 200_000 if args.quick else 1_000_000
    base = args.database_url.rsplit("/", 1)[0]
    name = f"tot_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(args.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    try:
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        await asyncio.to_thread(upgrade, url)
        await conn.fetchval("SELECT geo.ensure_location_partitions('2027-01-14'::date, 3)")
        rows = make_fixes(n, 2_000, rng)

        # -- the project's path: buffer + binary COPY in batches ----------------------------
        writer = await PostgisLocationWriter.connect(url, min_size=1, max_size=2)
        ingest = LocationIngest(writer, flush_rows=10_000, max_buffered=n)
        gc.collect()
        t0 = time.perf_counter()
        ingest.submit(rows)
        await ingest.flush()
        ours_s = time.perf_counter() - t0
        assert ingest.written == n and ingest.dropped == 0

        # -- the usual way: executemany of the same rows into a twin table ---------------------
        await conn.execute("CREATE TABLE geo.bench_twin (LIKE geo.location_history INCLUDING ALL)")
        twin = INSERT.replace("geo.location_history", "geo.bench_twin")
        n_many = n // 4  # executemany is slow; a quarter of the rows is plenty to time it
        params = [
            (
                f.doctor_id,
                datetime.fromtimestamp(f.recorded_s, UTC),
                f.lat,
                f.lon,
                f.accuracy_m,
                None,
            )
            for f in rows[:n_many]
        ]
        t0 = time.perf_counter()
        await conn.executemany(twin, params)
        many_s = time.perf_counter() - t0

        # -- the track query: one doctor's hour, among everyone's ------------------------------
        # A long-running engine freezes its start-up heap (gc.freeze) so that full GC passes
        # do not walk every imported module on a query's clock; so does this part.
        del rows, params
        gc.collect()
        gc.freeze()
        track_rows = [
            LocationFix("doc-track", 55.75 + i * 2e-5, 37.62 + i * 1e-5, 5.0, T0 + i)
            for i in range(3_600)
        ]
        ingest.submit(track_rows)
        await ingest.flush()
        await conn.execute("ANALYZE geo.location_history")
        queries = 100 if args.quick else 500
        times = np.empty(queries)
        async with writer._pool.acquire() as tconn:
            for i in range(queries + 10):
                t0 = time.perf_counter()
                track = await doctor_track(tconn, "doc-track", T0, T0 + 3_600)
                if i >= 10:
                    times[i - 10] = (time.perf_counter() - t0) * 1e3
        assert len(track.points) == 3_600
        await writer.close()
        await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    ours_rate = n / ours_s
    many_rate = n_many / many_s
    print(
        f"rows: {n:,} fixes of 2,000 doctors over an hour, into daily partitions (PostgreSQL {args.database_url.split('@')[-1]})"
    )
    print(f"{'path':<48} {'rows/s':>12}")
    print(f"{'ours: buffer + binary COPY (10k-row batches)':<48} {ours_rate:>12,.0f}")
    print(f"{'executemany INSERT (same rows)':<48} {many_rate:>12,.0f}")
    print(f"ingest ratio {ours_rate / many_rate:.1f}x")
    print(
        f"track query, 3,600 fixes in an hour + simplified line: p50 {p50(times):.2f} ms, p99 {p99(times):.2f} ms ({queries} queries)"
    )
    return {
        "benchmark": "storage",
        "rows": n,
        "ingest_rows_per_s": round(ours_rate),
        "executemany_rows_per_s": round(many_rate),
        "ingest_ratio": round(ours_rate / many_rate, 2),
        "track_points": 3_600,
        "track_query_p50_ms": round(p50(times), 2),
        "track_query_p99_ms": round(p99(times), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="200,000 rows; within 60 s")
    ap.add_argument(
        "--database-url",
        default=os.environ.get(
            "TOT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a server where a scratch database may be created and dropped",
    )
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args()
    try:
        summary = asyncio.run(run(args))
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"storage benchmark: cannot use {args.database_url}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
