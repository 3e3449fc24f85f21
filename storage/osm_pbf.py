"""Reading drivable roads out of an OpenStreetMap .osm.pbf file (pyosmium)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import osmium

from routing import classify_way


class OsmFileError(ValueError):
    """The file is missing, unreadable or not OpenStreetMap data."""


OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")


def check_osm_path(path: Path) -> None:
    """OsmFileError, in words a user can act on, unless `path` is a file one may read."""
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.name.endswith(OSM_SUFFIXES))
        hint = (
            f"; it holds {', '.join(inside[:5])}{', ...' if len(inside) > 5 else ''}: "
            "give one of them"
            if inside
            else "; give an .osm.pbf or .osm file"
        )
        raise OsmFileError(f"{path}: a folder, not an OpenStreetMap file{hint}")
    if not path.exists():
        raise OsmFileError(f"{path}: no such file")
    if not path.is_file():
        raise OsmFileError(f"{path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise OsmFileError(f"{path}: not readable by this user (permission denied)")


@dataclass(frozen=True)
class DrivableSegments:
    """Consecutive node pairs of drivable ways, with the nodes' coordinates.

    The arguments of routing.compile_road_graph, as arrays.
    """

    node_osm_id: npt.NDArray[np.int64]
    node_lat: npt.NDArray[np.float64]
    node_lon: npt.NDArray[np.float64]
    seg_from_osm_id: npt.NDArray[np.int64]
    seg_to_osm_id: npt.NDArray[np.int64]
    seg_forward: npt.NDArray[np.bool_]
    seg_backward: npt.NDArray[np.bool_]
    seg_speed_forward_kph: npt.NDArray[np.float64]
    seg_speed_backward_kph: npt.NDArray[np.float64]
    seg_highway: npt.NDArray[np.uint8]
    seg_way_id: npt.NDArray[np.int64]
    way_names: dict[int, str]  # drivable way id -> its street name (or number, `ref`)
    ways_read: int
    ways_drivable: int
    node_refs_missing: int


def read_drivable_segments(
    path: Path, on_way: Callable[[int], None] | None = None
) -> DrivableSegments:
    """All drivable segments of the extract at `path`.

    Extracts are clipped at their border, so some ways reference nodes the file does
    not hold: those nodes are dropped and the way is split there, never joined across
    the gap. `on_way(n)` is called every 10 000 ways for a progress display.
    """
    check_osm_path(path)
    node_ids: list[int] = []
    node_lat: list[float] = []
    node_lon: list[float] = []
    seen: set[int] = set()
    seg_from: list[int] = []
    seg_to: list[int] = []
    seg_way: list[int] = []
    seg_rule_index: list[int] = []
    rules: list[tuple[bool, bool, float, float, int]] = []
    rule_index: dict[tuple[bool, bool, float, float, int], int] = {}
    way_names: dict[int, str] = {}
    ways_read = ways_drivable = missing = 0
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        )
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue  # the filter passes ways only; this narrows the type
            ways_read += 1
            if on_way is not None and ways_read % 10_000 == 0:
                on_way(ways_read)
            rule = classify_way(way.tags)
            if rule is None:
                continue
            ways_drivable += 1
            street = way.tags.get("name") or way.tags.get("ref")
            if street:
                way_names[way.id] = street
            key = (
                rule.forward,
                rule.backward,
                rule.speed_forward_kph,
                rule.speed_backward_kph,
                rule.highway_code,
            )
            ri = rule_index.get(key)
            if ri is None:
                ri = rule_index[key] = len(rules)
                rules.append(key)
            prev: int | None = None
            for ref in way.nodes:
                location = ref.location
                if not location.valid():
                    missing += 1
                    prev = None  # split the way at the gap
                    continue
                node_id = ref.ref
                if node_id not in seen:
                    seen.add(node_id)
                    node_ids.append(node_id)
                    node_lat.append(location.lat)
                    node_lon.append(location.lon)
                if prev is not None and prev != node_id:
                    seg_from.append(prev)
                    seg_to.append(node_id)
                    seg_way.append(way.id)
                    seg_rule_index.append(ri)
                prev = node_id
    except RuntimeError as exc:  # libosmium's parse errors arrive as RuntimeError
        raise OsmFileError(f"{path}: not a readable OpenStreetMap file ({exc})") from exc
    if on_way is not None:
        on_way(ways_read)

    rule_arr = np.array(rules, dtype=np.float64).reshape(-1, 5)
    ri_arr = np.asarray(seg_rule_index, dtype=np.int64)
    per_seg = rule_arr[ri_arr] if ri_arr.size else np.zeros((0, 5))
    return DrivableSegments(
        node_osm_id=np.asarray(node_ids, dtype=np.int64),
        node_lat=np.asarray(node_lat, dtype=np.float64),
        node_lon=np.asarray(node_lon, dtype=np.float64),
        seg_from_osm_id=np.asarray(seg_from, dtype=np.int64),
        seg_to_osm_id=np.asarray(seg_to, dtype=np.int64),
        seg_forward=per_seg[:, 0].astype(bool),
        seg_backward=per_seg[:, 1].astype(bool),
        seg_speed_forward_kph=per_seg[:, 2].copy(),
        seg_speed_backward_kph=per_seg[:, 3].copy(),
        seg_highway=per_seg[:, 4].astype(np.uint8),
        seg_way_id=np.asarray(seg_way, dtype=np.int64),
        way_names=way_names,
        ways_read=ways_read,
        ways_drivable=ways_drivable,
        node_refs_missing=missing,
    )
