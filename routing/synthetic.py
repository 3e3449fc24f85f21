"""A generated city: a jittered street grid with one-way streets and mixed speeds.

Used where a real extract is absent (benchmarks' fallback) and by tests that need a
graph of a chosen shape. Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np

from routing.graph import RoadGraph, compile_road_graph
from routing.osm_tags import DEFAULT_SPEED_KPH, HIGHWAY_CODES


def generate_city(
    side: int,
    *,
    seed: int = 0,
    spacing_m: float = 80.0,
    center: tuple[float, float] = (41.15, -8.61),
    one_way_share: float = 0.15,
    keep_largest_component: bool = True,
) -> RoadGraph:
    """A side x side grid of intersections about `spacing_m` apart around `center` (lat, lon).

    Every 10th street is an arterial (primary, faster); a share of the others are one-way.
    """
    rng = np.random.default_rng(seed)
    n = side * side
    rows, cols = np.divmod(np.arange(n), side)
    lat0, lon0 = center
    m_per_deg_lat = 111_195.0
    m_per_deg_lon = m_per_deg_lat * np.cos(np.radians(lat0))
    jitter = rng.normal(0.0, spacing_m * 0.15, size=(n, 2))
    y = (rows - side / 2) * spacing_m + jitter[:, 0]
    x = (cols - side / 2) * spacing_m + jitter[:, 1]
    lat = lat0 + y / m_per_deg_lat
    lon = lon0 + x / m_per_deg_lon

    ids = np.arange(n, dtype=np.int64) + 1
    horiz = np.flatnonzero(cols < side - 1)
    vert = np.flatnonzero(rows < side - 1)
    seg_u = np.concatenate([horiz, vert])
    seg_v = np.concatenate([horiz + 1, vert + side])
    street = np.concatenate([rows[horiz], side + cols[vert]])  # which street a segment is on
    arterial = street % 10 == 0
    highway_name = np.where(arterial, "primary", "residential")
    speed = np.array([DEFAULT_SPEED_KPH[h] for h in highway_name], dtype=np.float64)
    speed *= rng.uniform(0.8, 1.2, size=speed.size)
    one_way_street = rng.random(2 * side) < one_way_share
    one_way = one_way_street[street] & ~arterial
    flip = rng.random(2 * side) < 0.5  # one-way streets alternate direction
    forward = ~one_way | ~flip[street]
    backward = ~one_way | flip[street]
    codes = np.array([HIGHWAY_CODES.index(h) for h in highway_name], dtype=np.uint8)
    return compile_road_graph(
        node_osm_id=ids,
        node_lat=lat,
        node_lon=lon,
        seg_from_osm_id=ids[seg_u],
        seg_to_osm_id=ids[seg_v],
        seg_forward=forward,
        seg_backward=backward,
        seg_speed_forward_kph=speed,
        seg_speed_backward_kph=speed,
        seg_highway=codes,
        seg_way_id=street.astype(np.int64),
        keep_largest_component=keep_largest_component,
        meta={"source": f"generated grid {side}x{side} seed {seed}"},
    )
