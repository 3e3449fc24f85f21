"""One vector tile z/x/y from the features in memory: select by the grid index, clip to
the tile with a buffer, simplify for the zoom, encode (Mapbox Vector Tile 2.1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from maptiles.arrays import F64, I64, offsets, ranges
from maptiles.features import MAX_ZOOM, LayerData, MapFeatures, ring_areas
from maptiles.mvt import EXTENT, encode_layer, encode_tile
from maptiles.rules import LINE, POINT, POLYGON

BUFFER = 64  # tile units (of 4096) kept beyond each edge: lines and fills join seamlessly
FULL_DETAIL_ZOOM = 14  # from here on, coordinates keep the tile's whole precision
COARSE_GRID = 4  # below it, points snap to a grid of this many units (1/1024 of the tile)


class TileOutOfRangeError(ValueError):
    """z/x/y names no tile: z outside 0..MAX_ZOOM or x, y outside 0..2**z - 1."""


def check_tile(z: int, x: int, y: int, max_zoom: int = MAX_ZOOM) -> None:
    if not 0 <= z <= max_zoom:
        raise TileOutOfRangeError(f"zoom {z} is outside 0..{max_zoom}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise TileOutOfRangeError(f"at zoom {z}, x and y run from 0 to {n - 1}")


@dataclass(frozen=True, slots=True)
class _Shapes:
    """A layer's clipped features: which, how many parts each, points per part."""

    features: I64
    part_count: I64
    point_count: I64
    qx: I64
    qy: I64


def render_tile(features: MapFeatures, z: int, x: int, y: int) -> bytes:
    """The encoded tile (b"" when nothing lies in it)."""
    check_tile(z, x, y)
    scale = float(1 << z)
    b = BUFFER / EXTENT
    box = ((x - b) / scale, (y - b) / scale, (x + 1 + b) / scale, (y + 1 + b) / scale)
    world = features.world_bounds()
    if (
        world is None
        or box[0] > world[2]
        or box[2] < world[0]
        or box[1] > world[3]
        or box[3] < world[1]
    ):
        return b""
    grid = 1 if z >= FULL_DETAIL_ZOOM else COARSE_GRID
    encoded = []
    for layer in features.layers.values():
        ids = layer.candidates(z, box)
        if ids.size == 0:
            continue
        shapes = _shapes(layer, ids, z, x, y, grid)
        if shapes.features.size == 0:
            continue
        encoded.append(
            encode_layer(
                layer.name,
                layer.geom_type,
                layer.keys,
                layer.props[shapes.features],
                shapes.part_count,
                shapes.point_count,
                shapes.qx,
                shapes.qy,
                features.value_fields,
            )
        )
    return encode_tile(encoded)


def _shapes(layer: LayerData, ids: I64, z: int, x: int, y: int, grid: int) -> _Shapes:
    parts = ranges(layer.part_start[ids], layer.part_start[ids + 1])
    points = ranges(layer.coord_start[parts], layer.coord_start[parts + 1])
    scale = float(1 << z) * EXTENT
    xy = layer.xy[points]
    px = xy[:, 0] * scale - x * EXTENT
    py = xy[:, 1] * scale - y * EXTENT
    part_count = layer.part_start[ids + 1] - layer.part_start[ids]
    point_count = layer.coord_start[parts + 1] - layer.coord_start[parts]
    part_feature = np.repeat(np.arange(ids.size), part_count)
    if layer.geom_type == POINT:
        return _points(ids, px, py)
    if layer.geom_type == LINE:
        return _lines(ids, part_feature, point_count, px, py, grid)
    assert layer.geom_type == POLYGON
    return _polygons(ids, part_feature, point_count, layer.outer[parts], px, py, grid, z)


def _points(ids: I64, px: F64, py: F64) -> _Shapes:
    lo, hi = -BUFFER, EXTENT + BUFFER
    inside = (px >= lo) & (px <= hi) & (py >= lo) & (py <= hi)
    n = int(inside.sum())
    ones = np.ones(n, dtype=np.int64)
    return _Shapes(
        ids[inside], ones, ones, np.rint(px[inside]).astype(np.int64),
        np.rint(py[inside]).astype(np.int64),
    )  # fmt: skip


def _quantize(v: F64, grid: int) -> I64:
    if grid == 1:
        return np.rint(v).astype(np.int64)
    return (np.rint(v / grid) * grid).astype(np.int64)


def _lines(ids: I64, part_feature: I64, point_count: I64, px: F64, py: F64, grid: int) -> _Shapes:
    lo, hi = float(-BUFFER), float(EXTENT + BUFFER)
    point_part = np.repeat(np.arange(point_count.size), point_count)
    seg = np.nonzero(point_part[:-1] == point_part[1:])[0]
    x0, y0 = px[seg], py[seg]
    ddx, ddy = px[seg + 1] - x0, py[seg + 1] - y0
    # Liang-Barsky against the buffered tile, every segment at once
    t0 = np.zeros(seg.size)
    t1 = np.ones(seg.size)
    ok = np.ones(seg.size, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        for p, q in ((-ddx, x0 - lo), (ddx, hi - x0), (-ddy, y0 - lo), (ddy, hi - y0)):
            ok &= ~((p == 0) & (q < 0))
            r = q / p
            t0 = np.where(p < 0, np.maximum(t0, r), t0)
            t1 = np.where(p > 0, np.minimum(t1, r), t1)
    ok &= t0 <= t1
    k = np.nonzero(ok)[0]
    s = seg[k]
    kt0, kt1 = t0[k], t1[k]
    start = np.ones(k.size, dtype=bool)
    start[1:] = (s[1:] != s[:-1] + 1) | (kt1[:-1] < 1.0) | (kt0[1:] > 0.0)
    count = 1 + start.astype(np.int64)
    end_pos = np.cumsum(count) - 1
    ox = np.empty(int(count.sum()))
    oy = np.empty(ox.size)
    ox[end_pos] = x0[k] + kt1 * ddx[k]
    oy[end_pos] = y0[k] + kt1 * ddy[k]
    sp = end_pos[start] - 1
    ox[sp] = x0[k][start] + kt0[start] * ddx[k][start]
    oy[sp] = y0[k][start] + kt0[start] * ddy[k][start]
    run = np.cumsum(start) - 1
    run_len = np.bincount(run, weights=count, minlength=int(start.sum())).astype(np.int64)
    run_feature = part_feature[point_part[s[start]]]
    return _finish_lines(ids, run_feature, run_len, _quantize(ox, grid), _quantize(oy, grid))


def _dedupe(qx: I64, qy: I64, part_len: I64) -> tuple[I64, I64, I64]:
    """Drops each point equal to the one before it in its part."""
    if qx.size == 0:
        return qx, qy, part_len
    keep = np.ones(qx.size, dtype=bool)
    keep[1:] = (qx[1:] != qx[:-1]) | (qy[1:] != qy[:-1])
    keep[offsets(part_len)[:-1][part_len > 0]] = True
    part = np.repeat(np.arange(part_len.size), part_len)
    new_len = np.bincount(part[keep], minlength=part_len.size).astype(np.int64)
    return qx[keep], qy[keep], new_len


def _select_parts(qx: I64, qy: I64, part_len: I64, keep: npt.NDArray[np.bool_]) -> tuple[I64, I64]:
    point_keep = np.repeat(keep, part_len)
    return qx[point_keep], qy[point_keep]


def _finish_lines(ids: I64, part_feature: I64, part_len: I64, qx: I64, qy: I64) -> _Shapes:
    qx, qy, part_len = _dedupe(qx, qy, part_len)
    keep = part_len >= 2
    qx, qy = _select_parts(qx, qy, part_len, keep)
    part_feature, part_len = part_feature[keep], part_len[keep]
    per_feature = np.bincount(part_feature, minlength=ids.size).astype(np.int64)
    has = per_feature > 0
    return _Shapes(ids[has], per_feature[has], part_len, qx, qy)


def _clip_rings(
    px: F64, py: F64, ring_len: I64, ring_id: I64, lo: float, hi: float
) -> tuple[F64, F64, I64, I64]:
    """Sutherland-Hodgman against the box [lo, hi]², all rings at once. Rings that
    shrink below three points are dropped; ring_id says which input ring each output
    ring came from."""
    for axis, bound, keep_above in ((0, lo, True), (0, hi, False), (1, lo, True), (1, hi, False)):
        v = px if axis == 0 else py
        inside = v >= bound if keep_above else v <= bound
        if inside.all():
            continue
        n = v.size
        starts = offsets(ring_len)
        nxt = np.arange(1, n + 1, dtype=np.int64)
        nxt[starts[1:] - 1] = starts[:-1]
        in_j = inside[nxt]
        cross = inside != in_j
        cnt = in_j.astype(np.int64) + cross
        first = np.cumsum(cnt) - cnt
        vj = v[nxt]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(cross, (bound - v) / (vj - v), 0.0)
        ix = px + t * (px[nxt] - px)
        iy = py + t * (py[nxt] - py)
        total = int(cnt.sum())
        ox = np.empty(total)
        oy = np.empty(total)
        has = cnt > 0
        ox[first[has]] = np.where(cross, ix, px[nxt])[has]
        oy[first[has]] = np.where(cross, iy, py[nxt])[has]
        two = cnt == 2
        ox[first[two] + 1] = px[nxt][two]
        oy[first[two] + 1] = py[nxt][two]
        ring = np.repeat(np.arange(ring_len.size), ring_len)
        new_len = np.bincount(ring, weights=cnt, minlength=ring_len.size).astype(np.int64)
        keep = new_len >= 3
        point_keep = np.repeat(keep, new_len)
        px, py = ox[point_keep], oy[point_keep]
        ring_len, ring_id = new_len[keep], ring_id[keep]
        if ring_len.size == 0:
            break
    return px, py, ring_len, ring_id


def _polygons(
    ids: I64,
    part_feature: I64,
    ring_len: I64,
    outer: npt.NDArray[np.bool_],
    px: F64,
    py: F64,
    grid: int,
    z: int,
) -> _Shapes:
    lo, hi = float(-BUFFER), float(EXTENT + BUFFER)
    point_ring = np.repeat(np.arange(ring_len.size), ring_len)
    # Features wholly inside the buffered tile pass; the others are clipped.
    n_features = ids.size
    fx0 = np.full(n_features, np.inf)
    fx1 = np.full(n_features, -np.inf)
    fy0 = np.full(n_features, np.inf)
    fy1 = np.full(n_features, -np.inf)
    pf = part_feature[point_ring]
    np.minimum.at(fx0, pf, px)
    np.maximum.at(fx1, pf, px)
    np.minimum.at(fy0, pf, py)
    np.maximum.at(fy1, pf, py)
    inside_f = (fx0 >= lo) & (fx1 <= hi) & (fy0 >= lo) & (fy1 <= hi)
    ring_inside = inside_f[part_feature]
    ring_ids = np.arange(ring_len.size, dtype=np.int64)
    if not ring_inside.all():
        pin = ring_inside[point_ring]
        cx, cy, clen, cid = _clip_rings(
            px[~pin], py[~pin], ring_len[~ring_inside], ring_ids[~ring_inside], lo, hi
        )
        # whole features first, then the clipped ones (each feature's rings stay in order)
        px = np.concatenate((px[pin], cx))
        py = np.concatenate((py[pin], cy))
        order_ids = np.concatenate((ring_ids[ring_inside], cid))
        ring_len = np.concatenate((ring_len[ring_inside], clen))
        ring_ids = order_ids
        # group rings by feature, keeping their order (a stable sort by feature)
        feature_of_ring = part_feature[ring_ids]
        order = np.argsort(feature_of_ring, kind="stable")
        starts = offsets(ring_len)
        pts = ranges(starts[:-1][order], starts[1:][order])
        px, py = px[pts], py[pts]
        ring_len, ring_ids = ring_len[order], ring_ids[order]
    qx, qy = _quantize(px, grid), _quantize(py, grid)
    qx, qy, ring_len = _dedupe(qx, qy, ring_len)
    # a last point equal to the first is the closing point: drop it
    if ring_len.size:
        first = offsets(ring_len)[:-1]
        last = first + ring_len - 1
        closing = (ring_len > 1) & (qx[last] == qx[first]) & (qy[last] == qy[first])
        if closing.any():
            drop = np.zeros(qx.size, dtype=bool)
            drop[last[closing]] = True
            qx, qy = qx[~drop], qy[~drop]
            ring_len = ring_len - closing
    area = ring_areas(qx.astype(np.float64), qy.astype(np.float64), ring_len)
    is_outer = outer[ring_ids]
    min_area = 0.5 if z >= FULL_DETAIL_ZOOM else float(grid * grid)
    good = (ring_len >= 3) & np.where(is_outer, area >= min_area, area <= -min_area)
    # holes go with their outer ring
    ring_pos = np.arange(ring_len.size)
    owner = np.maximum.accumulate(np.where(is_outer, ring_pos, -1)) if ring_len.size else ring_pos
    ring_feature = part_feature[ring_ids]
    safe_owner = np.maximum(owner, 0)
    good &= (owner >= 0) & good[safe_owner] & (ring_feature[safe_owner] == ring_feature)
    qx, qy = _select_parts(qx, qy, ring_len, good)
    ring_len, ring_ids = ring_len[good], ring_ids[good]
    per_feature = np.bincount(part_feature[ring_ids], minlength=n_features).astype(np.int64)
    has = per_feature > 0
    return _Shapes(ids[has], per_feature[has], ring_len, qx, qy)


TILER_VERSION = f"tiler-1:{BUFFER}:{FULL_DETAIL_ZOOM}:{COARSE_GRID}"
