"""Vector tile benchmark: cold and warm tiles at zoom 14 over a city.

    .venv/bin/python -m benchmarks.tiles [--osm PATH] [--quick] [--seed N]

Cold: a seeded sample of the zoom-14 tiles covering the city, each rendered with an
empty cache (select by the grid index, clip, simplify, encode, gzip) through the tile
service. Warm: the same tiles again through the route (`GET /tiles/z/x/y.mvt` on the
real FastAPI app, in process over ASGI), served from the in-memory cache; and through
the service alone. Baseline, in the same run on the same tiles: what one writes with
the usual libraries: every feature whose box meets the tile (a numpy scan, no index)
as shapely geometries, clipped with shapely and encoded with mapbox-vector-tile.

The map is the team's Porto extract (../shared/osm/porto.osm.pbf) when present, else a
generated city (a street grid with buildings), and it says so. The last line printed is
one JSON object.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    # `python benchmarks/tiles.py`: run it as `python -m benchmarks.tiles` from the root.
    import runpy
    from pathlib import Path

    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    runpy.run_module("benchmarks.tiles", run_name="__main__", alter_sys=True)
    raise SystemExit(0)

import argparse
import asyncio
import gc
import gzip
import json
import platform
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import mapbox_vector_tile
import numpy as np
import shapely

from api.app import create_app
from benchmarks._common import default_city_osm, p50, p99
from maptiles import FeatureBuilder, MapFeatureRule, MapFeatures
from maptiles.mvt import EXTENT
from maptiles.rules import BUILDINGS, ROADS
from maptiles.tiler import BUFFER
from services.map_tiles import MapTiles, TileLru
from storage.graph_cache import file_sha256
from storage.osm_features import read_map_features

ZOOM = 14
TARGET_COLD_P99_MS = 50.0
TARGET_WARM_P99_MS = 2.0


def generated_city(seed: int) -> MapFeatures:
    """A 12 x 12 km street grid (a main road every 500 m, streets every 100 m, points
    every 20 m) with a building on most plots, around Porto's latitude."""
    rng = np.random.default_rng(seed)
    builder = FeatureBuilder()
    lat0, lon0 = 41.10, -8.70
    dlat = 1 / 111_320
    dlon = dlat / np.cos(np.radians(lat0))
    steps = np.arange(0, 12_001, 20)
    for i, d in enumerate(range(0, 12_001, 100)):
        road = "secondary" if i % 5 == 0 else "residential"
        rule = MapFeatureRule(ROADS, {"class": road, "subclass": road, "name": f"Rua {i}"}, 9)
        lat_line = [lat0 + d * dlat] * steps.size
        lon_line = [lon0 + float(s) * dlon for s in steps]
        builder.add_line(rule, [(lat_line, lon_line)])
        builder.add_line(
            rule, [([lat0 + float(s) * dlat for s in steps], [lon0 + d * dlon] * steps.size)]
        )
    house = MapFeatureRule(BUILDINGS, {"building": "house"}, 14)
    for bx in range(0, 12_000, 100):
        for by in range(0, 12_000, 100):
            for ox, oy in ((20, 20), (55, 20), (20, 55), (55, 55)):
                if rng.random() < 0.3:
                    continue
                x, y = bx + ox, by + oy
                lats = [lat0 + (y + a) * dlat for a in (0, 0, 18, 18)]
                lons = [lon0 + (x + b) * dlon for b in (0, 22, 22, 0)]
                builder.add_polygon(house, [(lats, lons, True)])
    return builder.build({"source": "generated-city"})


def sample_tiles(features: MapFeatures, count: int, seed: int) -> list[tuple[int, int, int]]:
    bounds = features.world_bounds()
    assert bounds is not None
    n = 1 << ZOOM
    xs = range(int(bounds[0] * n), int(bounds[2] * n) + 1)
    ys = range(int(bounds[1] * n), int(bounds[3] * n) + 1)
    every = [(ZOOM, x, y) for x in xs for y in ys]
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(every), size=min(count, len(every)), replace=False)
    return [every[int(i)] for i in sorted(picked)]


def baseline_tile(features: MapFeatures, z: int, x: int, y: int) -> bytes:
    """Every feature whose box meets the tile, as shapely geometry in tile units, clipped
    by shapely, encoded by mapbox-vector-tile: no index, no simplification."""
    scale = float(1 << z)
    b = BUFFER / EXTENT
    x0, y0, x1, y1 = (x - b) / scale, (y - b) / scale, (x + 1 + b) / scale, (y + 1 + b) / scale
    layers = []
    for layer in features.layers.values():
        visible = int(np.searchsorted(layer.min_zoom, z, side="right"))
        bb = layer.bbox[:visible]
        hit = np.nonzero((bb[:, 0] <= x1) & (bb[:, 2] >= x0) & (bb[:, 1] <= y1) & (bb[:, 3] >= y0))[
            0
        ]
        out = []
        for f in hit.tolist():
            parts = []
            for p in range(int(layer.part_start[f]), int(layer.part_start[f + 1])):
                pts = layer.xy[layer.coord_start[p] : layer.coord_start[p + 1]]
                parts.append(
                    (
                        (pts[:, 0] * scale - x) * EXTENT,
                        (pts[:, 1] * scale - y) * EXTENT,
                        bool(layer.outer[p]),
                    )
                )
            if layer.geom_type == 1:
                geom: Any = shapely.Point(parts[0][0][0], parts[0][1][0])
            elif layer.geom_type == 2:
                geom = shapely.MultiLineString([np.column_stack((px, py)) for px, py, _ in parts])
            else:
                polys: list[list[Any]] = []
                for px, py, is_outer in parts:
                    ring = np.column_stack((px, py))
                    if is_outer:
                        polys.append([ring, []])
                    else:
                        polys[-1][1].append(ring)
                geom = shapely.MultiPolygon([shapely.Polygon(s, h) for s, h in polys])
            geom = shapely.clip_by_rect(geom, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
            if geom.is_empty:
                continue
            props = {
                key: features.values[int(v)]
                for key, v in zip(layer.keys, layer.props[f].tolist(), strict=True)
                if v >= 0
            }
            out.append({"geometry": geom, "properties": props})
        if out:
            layers.append({"name": layer.name, "features": out})
    if not layers:
        return b""
    data: bytes = mapbox_vector_tile.encode(
        layers,
        default_options={"quantize_bounds": None, "extents": EXTENT, "y_coord_down": True},
    )
    return data


def time_ms(fn: Any, inputs: list[tuple[int, int, int]]) -> np.ndarray:
    out = np.empty(len(inputs))
    for i, tile in enumerate(inputs):
        t0 = time.perf_counter_ns()
        fn(tile)
        out[i] = (time.perf_counter_ns() - t0) / 1e6
    return out


async def warm_through_route(
    tiles: MapTiles, sample: list[tuple[int, int, int]], rounds: int
) -> np.ndarray:
    async def never() -> Any:
        raise AssertionError("not started")

    app = create_app(never)
    app.state.runtime = SimpleNamespace(
        config=SimpleNamespace(osm_path=tiles.osm_path, graph_cache_dir=Path("."))
    )
    app.state.map_tiles = tiles
    transport = httpx.ASGITransport(app=app)
    out = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        headers = {"Accept-Encoding": "gzip"}
        for z, x, y in sample[:20]:  # warm-up: imports, the app's first requests
            await client.get(f"/tiles/{z}/{x}/{y}.mvt", headers=headers)
        for _ in range(rounds):
            for z, x, y in sample:
                t0 = time.perf_counter_ns()
                r = await client.get(f"/tiles/{z}/{x}/{y}.mvt", headers=headers)
                out.append((time.perf_counter_ns() - t0) / 1e6)
                assert r.status_code == 200
    return np.array(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Vector tiles at zoom 14: cold, warm, baseline.")
    parser.add_argument("--osm", type=Path, default=None, help="an extract (default: Porto)")
    parser.add_argument("--quick", action="store_true", help="fewer tiles (about 20 s)")
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    osm = args.osm or default_city_osm()
    started = time.perf_counter()
    if osm is not None and osm.is_file():
        features = read_map_features(osm, {"source": osm.name})
        source, sha = osm.name, file_sha256(osm)
    else:
        print("note: ../shared/osm/porto.osm.pbf is absent: a generated city stands in")
        features = generated_city(args.seed)
        source, sha = "generated city", "0" * 64
    read_s = time.perf_counter() - started
    sample = sample_tiles(features, 150 if args.quick else 600, args.seed)
    baseline_sample = sample[:: 5 if args.quick else 3]
    print(f"map: {source}, {features.feature_count:,} features read in {read_s:.1f} s; "
          f"{len(sample)} tiles at z{ZOOM} (seed {args.seed}); {platform.python_version()}")  # fmt: skip
    gc.collect()
    gc.freeze()

    tiles = MapTiles.from_features(features, sha)

    def cold(tile: tuple[int, int, int]) -> None:
        tiles.memory = TileLru(64 * 1024 * 1024)  # a fresh cache: nothing is warm
        tiles.render(*tile)

    time_ms(cold, sample[:10])
    cold_ms = time_ms(cold, sample)
    sizes = [len(tiles.render(*t).gzipped) for t in sample]
    raw_sizes = [
        len(gzip.decompress(tiles.render(*t).gzipped)) if tiles.render(*t).gzipped else 0
        for t in sample
    ]
    warm_service_ms = time_ms(lambda t: tiles.cached_tile(*t), sample * 3)
    warm_route_ms = asyncio.run(warm_through_route(tiles, sample, 2 if args.quick else 3))
    base_ms = time_ms(lambda t: baseline_tile(features, *t), baseline_sample)
    ours_on_base = time_ms(cold, baseline_sample)

    print(f"{'z14 tile (ms)':<44} {'p50':>8} {'p99':>8} {'n':>6}")
    for name, ms in (
        ("cold: index, clip, simplify, encode, gzip", cold_ms),
        ("warm: GET /tiles/z/x/y.mvt from the cache", warm_route_ms),
        ("warm: the service's cache alone", warm_service_ms),
        ("baseline: scan + shapely + mapbox-vector-tile", base_ms),
        ("ours on the baseline's tiles (cold)", ours_on_base),
    ):
        print(f"{name:<44} {p50(ms):>8.2f} {p99(ms):>8.2f} {len(ms):>6d}")
    nonempty = sum(1 for s in sizes if s)
    print(f"tiles with data {nonempty}/{len(sample)}; gzip {np.mean([s for s in sizes if s]) / 1024:.1f} KiB "
          f"mean, largest {max(sizes) / 1024:.1f} KiB gzip, {max(raw_sizes) / 1024:.1f} KiB raw")  # fmt: skip
    cold_p99, warm_p99 = p99(cold_ms), p99(warm_route_ms)
    print(f"targets: cold p99 {cold_p99:.2f} ms <= {TARGET_COLD_P99_MS} ms "
          f"{'met' if cold_p99 <= TARGET_COLD_P99_MS else 'MISSED'}; warm p99 {warm_p99:.3f} ms <= "
          f"{TARGET_WARM_P99_MS} ms {'met' if warm_p99 <= TARGET_WARM_P99_MS else 'MISSED'}")  # fmt: skip
    result = {
        "map": source,
        "zoom": ZOOM,
        "tiles": len(sample),
        "tiles_with_data": nonempty,
        "tile_cold_p50_ms": round(p50(cold_ms), 3),
        "tile_cold_p99_ms": round(cold_p99, 3),
        "tile_warm_p50_ms": round(p50(warm_route_ms), 3),
        "tile_warm_p99_ms": round(warm_p99, 3),
        "tile_warm_service_p99_ms": round(p99(warm_service_ms), 4),
        "baseline_cold_p50_ms": round(p50(base_ms), 3),
        "baseline_cold_p99_ms": round(p99(base_ms), 3),
        "speedup_p50": round(p50(base_ms) / max(p50(ours_on_base), 1e-9), 1),
        "gzip_kib_max": round(max(sizes) / 1024, 1),
        "targets_met": cold_p99 <= TARGET_COLD_P99_MS and warm_p99 <= TARGET_WARM_P99_MS,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
