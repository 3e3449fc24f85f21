"""The map's features in memory: per layer, flat coordinate arrays in Web Mercator world
units, feature -> parts -> points offsets, a property table of value ids, the zoom each
feature appears from (features sorted by it), and a grid index.

`FeatureBuilder` collects what the OSM reader finds; `MapFeatures` answers the tiler and
converts to and from plain arrays for the on-disk cache.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from maptiles.arrays import F64, I64, offsets, ranges, world_to_lat_lon, world_xy
from maptiles.rules import (
    BUILDINGS,
    HOUSENUMBER_MIN_ZOOM,
    HOUSENUMBERS,
    LAYERS,
    MIN_POLYGON_PX2,
    POINT,
    POLYGON,
    MapFeatureRule,
)

Value = str | int | bool
FEATURES_FORMAT_VERSION = "1"
INDEX_ZOOM = 14  # the grid index's cells are the tiles of this zoom
MAX_CELLS_PER_FEATURE = 64  # bigger features are checked by their box on every query
MAX_ZOOM = 16  # the deepest tiles made; clients over-zoom beyond it


def _value_key(value: Value) -> tuple[str, Value]:
    return (type(value).__name__, value)  # True and 1 are equal keys in a dict


@dataclass
class _LayerParts:
    xs: list[float] = field(default_factory=list)  # longitudes
    ys: list[float] = field(default_factory=list)  # latitudes
    part_len: list[int] = field(default_factory=list)
    feature_parts: list[int] = field(default_factory=list)
    outer: list[bool] = field(default_factory=list)
    props: list[dict[str, Value]] = field(default_factory=list)
    min_zoom: list[int] = field(default_factory=list)


class FeatureBuilder:
    """Collects features as the reader meets them; `build()` makes a `MapFeatures`.

    Coordinates come as latitude and longitude sequences; rings need not repeat their
    first point. Degenerate input (a line of one point, a ring of two) is skipped.
    """

    def __init__(self) -> None:
        self._layers = {name: _LayerParts() for name in LAYERS}
        self.skipped = 0

    def add_point(self, rule: MapFeatureRule, lat: float, lon: float) -> None:
        layer = self._layers[rule.layer]
        layer.xs.append(lon)
        layer.ys.append(lat)
        layer.part_len.append(1)
        layer.feature_parts.append(1)
        layer.outer.append(True)
        layer.props.append(rule.properties)
        layer.min_zoom.append(rule.min_zoom)

    def add_line(
        self, rule: MapFeatureRule, parts: Sequence[tuple[Sequence[float], Sequence[float]]]
    ) -> None:
        """One feature of one or more parts, each (lats, lons) of at least two points."""
        kept = [(lats, lons) for lats, lons in parts if len(lats) >= 2]
        if not kept:
            self.skipped += 1
            return
        layer = self._layers[rule.layer]
        for lats, lons in kept:
            layer.xs.extend(lons)
            layer.ys.extend(lats)
            layer.part_len.append(len(lats))
            layer.outer.append(True)
        layer.feature_parts.append(len(kept))
        layer.props.append(rule.properties)
        layer.min_zoom.append(rule.min_zoom)

    def add_polygon(
        self,
        rule: MapFeatureRule,
        rings: Sequence[tuple[Sequence[float], Sequence[float], bool]],
    ) -> None:
        """One polygon feature: rings (lats, lons, is_outer), each outer ring followed by
        its holes. A closing point equal to the first is dropped."""
        kept: list[tuple[Sequence[float], Sequence[float], bool]] = []
        for lats, lons, is_outer in rings:
            n = len(lats)
            if n >= 2 and lats[0] == lats[-1] and lons[0] == lons[-1]:
                lats, lons, n = lats[:-1], lons[:-1], n - 1
            if n < 3 or (not is_outer and not kept):
                continue
            kept.append((lats, lons, is_outer))
        if not kept:
            self.skipped += 1
            return
        layer = self._layers[rule.layer]
        for lats, lons, is_outer in kept:
            layer.xs.extend(lons)
            layer.ys.extend(lats)
            layer.part_len.append(len(lats))
            layer.outer.append(is_outer)
        layer.feature_parts.append(len(kept))
        layer.props.append(rule.properties)
        layer.min_zoom.append(rule.min_zoom)
        number = rule.properties.get("housenumber")
        if rule.layer == BUILDINGS and isinstance(number, str):
            lat, lon = _ring_centroid(kept[0][0], kept[0][1])
            self.add_point(
                MapFeatureRule(HOUSENUMBERS, {"housenumber": number}, HOUSENUMBER_MIN_ZOOM),
                lat,
                lon,
            )

    def build(self, meta: dict[str, str] | None = None) -> MapFeatures:
        values: list[Value] = []
        value_ids: dict[tuple[str, Value], int] = {}
        layers: dict[str, LayerData] = {}
        for name, parts in self._layers.items():
            geom_type, keys = LAYERS[name]
            layers[name] = _compile_layer(name, geom_type, keys, parts, values, value_ids)
        return MapFeatures(layers, values, dict(meta or {}))


def _ring_centroid(lats: Sequence[float], lons: Sequence[float]) -> tuple[float, float]:
    """The area centroid of a small ring (the mean of its points when it has no area)."""
    y = np.asarray(lats, dtype=np.float64)
    x = np.asarray(lons, dtype=np.float64)
    x0, y0 = x.mean(), y.mean()
    xr, yr = x - x0, y - y0
    cross = xr * np.roll(yr, -1) - np.roll(xr, -1) * yr
    area = cross.sum() / 2.0
    if abs(area) < 1e-14:
        return float(y0), float(x0)
    cx = ((xr + np.roll(xr, -1)) * cross).sum() / (6.0 * area)
    cy = ((yr + np.roll(yr, -1)) * cross).sum() / (6.0 * area)
    return float(y0 + cy), float(x0 + cx)


def ring_areas(x: F64, y: F64, part_len: I64) -> F64:
    """Signed area of each ring (no closing point) by the surveyor's formula, in the
    units of x and y; positive when clockwise on screen (y growing downwards)."""
    n = x.size
    if n == 0:
        return np.zeros(part_len.size, dtype=np.float64)
    starts = offsets(part_len)
    nxt = np.arange(1, n + 1, dtype=np.int64)
    nonempty = part_len > 0
    nxt[starts[1:][nonempty] - 1] = starts[:-1][nonempty]
    ring = np.repeat(np.arange(part_len.size), part_len)
    # relative to each ring's first point, for precision
    first = starts[:-1][ring]
    xr, yr = x - x[first], y - y[first]
    cross = xr * yr[nxt] - xr[nxt] * yr
    return np.bincount(ring, weights=cross, minlength=part_len.size) / 2.0


@dataclass
class LayerData:
    """One layer's features, sorted by the zoom they appear from."""

    name: str
    geom_type: int
    keys: tuple[str, ...]
    props: npt.NDArray[np.int32]  # (features, keys): value ids, -1 when absent
    min_zoom: npt.NDArray[np.uint8]  # ascending
    bbox: F64  # (features, 4): min x, min y, max x, max y in world units
    part_start: I64  # (features + 1): feature f owns parts part_start[f]:part_start[f+1]
    coord_start: I64  # (parts + 1)
    xy: F64  # (points, 2) world units
    outer: npt.NDArray[np.bool_]  # (parts,): an outer ring (polygons); True otherwise
    index_keys: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    index_features: npt.NDArray[np.int32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int32)
    )
    large: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    @property
    def count(self) -> int:
        return int(self.min_zoom.size)

    def build_index(self) -> None:
        """Grid cells at INDEX_ZOOM -> features whose box touches them (CSR, by key)."""
        n = self.count
        scale = float(1 << INDEX_ZOOM)
        top = (1 << INDEX_ZOOM) - 1
        c = np.clip(np.floor(self.bbox * scale), 0, top).astype(np.int64)
        if n == 0:
            c = c.reshape(0, 4)
        w = c[:, 2] - c[:, 0] + 1
        h = c[:, 3] - c[:, 1] + 1
        cells = w * h
        small = cells <= MAX_CELLS_PER_FEATURE
        ids = np.nonzero(small)[0]
        self.large = np.nonzero(~small)[0].astype(np.int32)
        counts = cells[ids]
        feature = np.repeat(ids, counts)
        local = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(
            offsets(counts)[:-1], counts
        )
        cx = c[feature, 0] + local % w[feature]
        cy = c[feature, 1] + local // w[feature]
        keys = (cx << INDEX_ZOOM) | cy
        order = np.lexsort((feature, keys))
        self.index_keys = keys[order]
        self.index_features = feature[order].astype(np.int32)

    def candidates(self, z: int, box: tuple[float, float, float, float]) -> I64:
        """Ids of the features visible at zoom z whose box meets `box` (world units),
        ascending."""
        visible = int(np.searchsorted(self.min_zoom, z, side="right"))
        if visible == 0:
            return np.zeros(0, dtype=np.int64)
        x0, y0, x1, y1 = box
        scale = float(1 << INDEX_ZOOM)
        top = (1 << INDEX_ZOOM) - 1
        cx0, cx1 = (min(max(math.floor(v * scale), 0), top) for v in (x0, x1))
        cy0, cy1 = (min(max(math.floor(v * scale), 0), top) for v in (y0, y1))
        columns = cx1 - cx0 + 1
        if columns * (cy1 - cy0 + 1) > 4 * visible or columns > 256:
            ids = np.arange(visible, dtype=np.int64)  # a scan is cheaper than the grid
        else:
            col = np.arange(cx0, cx1 + 1, dtype=np.int64) << INDEX_ZOOM
            lo = np.searchsorted(self.index_keys, col | cy0, side="left")
            hi = np.searchsorted(self.index_keys, col | cy1, side="right")
            found = self.index_features[ranges(lo, hi)]
            ids = np.unique(np.concatenate((found, self.large)).astype(np.int64))
            ids = ids[: int(np.searchsorted(ids, visible))]
        b = self.bbox[ids]
        hit = (b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0)
        return ids[hit]


def _compile_layer(
    name: str,
    geom_type: int,
    keys: tuple[str, ...],
    parts: _LayerParts,
    values: list[Value],
    value_ids: dict[tuple[str, Value], int],
) -> LayerData:
    n = len(parts.feature_parts)
    lon = np.asarray(parts.xs, dtype=np.float64)
    lat = np.asarray(parts.ys, dtype=np.float64)
    x, y = world_xy(lat, lon)
    part_len = np.asarray(parts.part_len, dtype=np.int64)
    feature_parts = np.asarray(parts.feature_parts, dtype=np.int64)
    outer = np.asarray(parts.outer, dtype=bool)
    min_zoom = np.asarray(parts.min_zoom, dtype=np.int64)
    part_feature = np.repeat(np.arange(n), feature_parts)
    coord_start = offsets(part_len)

    if geom_type == POLYGON and n:
        # Outer rings clockwise on screen (positive area), holes anticlockwise.
        area = ring_areas(x, y, part_len)
        flip = (area < 0) == outer
        if flip.any():
            idx = np.arange(x.size, dtype=np.int64)
            ring = np.repeat(np.arange(part_len.size), part_len)
            start = coord_start[:-1][ring]
            end = coord_start[1:][ring]
            reversed_idx = start + (end - 1 - idx)
            idx = np.where(flip[ring], reversed_idx, idx)
            x, y = x[idx], y[idx]
        feature_area = np.bincount(part_feature, weights=np.abs(area) * np.where(outer, 1, -1))
        feature_area = np.maximum(feature_area, 1e-30)
        # shown from the zoom where it covers MIN_POLYGON_PX2 of a 512-px tile
        size_zoom = np.ceil(np.log2(np.sqrt(MIN_POLYGON_PX2 / feature_area) / 512.0))
        min_zoom = np.maximum(min_zoom, np.clip(size_zoom, 0, MAX_ZOOM).astype(np.int64))

    props = np.full((n, len(keys)), -1, dtype=np.int32)
    column = {key: i for i, key in enumerate(keys)}
    for f, fprops in enumerate(parts.props):
        for key, value in fprops.items():
            vk = _value_key(value)
            vid = value_ids.get(vk)
            if vid is None:
                vid = value_ids[vk] = len(values)
                values.append(value)
            props[f, column[key]] = vid

    # bounding boxes per feature
    point_feature = np.repeat(part_feature, part_len)
    bbox = np.zeros((n, 4), dtype=np.float64)
    if n:
        bbox[:, 0] = np.inf
        bbox[:, 1] = np.inf
        bbox[:, 2] = -np.inf
        bbox[:, 3] = -np.inf
        np.minimum.at(bbox[:, 0], point_feature, x)
        np.minimum.at(bbox[:, 1], point_feature, y)
        np.maximum.at(bbox[:, 2], point_feature, x)
        np.maximum.at(bbox[:, 3], point_feature, y)

    # sort features by the zoom they appear from (stable: the reader's order within)
    order = np.argsort(min_zoom, kind="stable")
    part_start = offsets(feature_parts)
    new_parts = ranges(part_start[:-1][order], part_start[1:][order])
    new_points = ranges(coord_start[:-1][new_parts], coord_start[1:][new_parts])
    layer = LayerData(
        name=name,
        geom_type=geom_type,
        keys=keys,
        props=props[order],
        min_zoom=min_zoom[order].astype(np.uint8),
        bbox=bbox[order],
        part_start=offsets(feature_parts[order]),
        coord_start=offsets(part_len[new_parts]),
        xy=np.column_stack((x[new_points], y[new_points])) if n else np.zeros((0, 2)),
        outer=outer[new_parts],
    )
    layer.build_index()
    return layer


_LAYER_ARRAYS = ("props", "min_zoom", "bbox", "part_start", "coord_start", "xy", "outer")


@dataclass
class MapFeatures:
    """Every layer's features, the values their properties refer to, and where they lie."""

    layers: dict[str, LayerData]
    values: list[Value]
    meta: dict[str, str]
    value_fields: list[bytes] = field(default_factory=list)  # each value as an MVT field

    def __post_init__(self) -> None:
        from maptiles.mvt import value_field

        self.value_fields = [value_field(v) for v in self.values]

    @property
    def feature_count(self) -> int:
        return sum(layer.count for layer in self.layers.values())

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(south, west, north, east) of every feature, or None for an empty map."""
        boxes = [layer.bbox for layer in self.layers.values() if layer.count]
        if not boxes:
            return None
        b = np.concatenate(boxes)
        north, west = world_to_lat_lon(float(b[:, 0].min()), float(b[:, 1].min()))
        south, east = world_to_lat_lon(float(b[:, 2].max()), float(b[:, 3].max()))
        return south, west, north, east

    def world_bounds(self) -> tuple[float, float, float, float] | None:
        boxes = [layer.bbox for layer in self.layers.values() if layer.count]
        if not boxes:
            return None
        b = np.concatenate(boxes)
        return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
                float(b[:, 3].max()))  # fmt: skip

    def to_arrays(self) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
        """Plain arrays and a JSON-able description, for the cache."""
        arrays: dict[str, npt.NDArray[Any]] = {}
        for name, layer in self.layers.items():
            for attr in _LAYER_ARRAYS:
                arrays[f"{name}.{attr}"] = getattr(layer, attr)
        description = {
            "format": FEATURES_FORMAT_VERSION,
            "values": self.values,
            "meta": self.meta,
            "layers": {
                name: {"geom_type": layer.geom_type, "keys": list(layer.keys)}
                for name, layer in self.layers.items()
            },
        }
        return arrays, description

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, npt.NDArray[Any]], description: dict[str, Any]
    ) -> MapFeatures:
        """The inverse of to_arrays; ValueError when the two do not fit together."""
        if description.get("format") != FEATURES_FORMAT_VERSION:
            raise ValueError(f"features format {description.get('format')!r} is not current")
        values: list[Value] = list(description["values"])
        layers: dict[str, LayerData] = {}
        for name, info in description["layers"].items():
            got = {attr: arrays[f"{name}.{attr}"] for attr in _LAYER_ARRAYS}
            layer = LayerData(
                name=name,
                geom_type=int(info["geom_type"]),
                keys=tuple(info["keys"]),
                props=got["props"].astype(np.int32),
                min_zoom=got["min_zoom"].astype(np.uint8),
                bbox=got["bbox"].astype(np.float64).reshape(-1, 4),
                part_start=got["part_start"].astype(np.int64),
                coord_start=got["coord_start"].astype(np.int64),
                xy=got["xy"].astype(np.float64).reshape(-1, 2),
                outer=got["outer"].astype(bool),
            )
            n, parts = layer.count, layer.outer.size
            if (
                layer.props.shape != (n, len(layer.keys))
                or layer.bbox.shape[0] != n
                or layer.part_start.size != n + 1
                or layer.coord_start.size != parts + 1
                or int(layer.part_start[-1]) != parts
                or int(layer.coord_start[-1]) != layer.xy.shape[0]
                or (layer.props.size and int(layer.props.max()) >= len(values))
            ):
                raise ValueError(f"layer {name}: arrays do not fit together")
            layer.build_index()
            layers[name] = layer
        return cls(layers, values, {str(k): str(v) for k, v in description["meta"].items()})


def empty_features(meta: dict[str, str] | None = None) -> MapFeatures:
    return FeatureBuilder().build(meta)


__all__ = ["POINT", "FeatureBuilder", "LayerData", "MapFeatures"]
