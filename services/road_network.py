"""Load-or-build the road graph for an extract and open a Router on it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from routing import RoadGraph, Router, compile_road_graph
from routing.router import DEFAULT_MAX_SNAP_DISTANCE_M
from storage.graph_cache import GraphCache, cache_key, file_sha256
from storage.osm_pbf import check_osm_path, read_drivable_segments

log = logging.getLogger(__name__)

ProgressFactory = Callable[[str], Callable[[int], None]]
"""Called with a stage's name when the stage starts; returns a callback that takes a running
count within the stage (0: no count). Only a build reports progress: a cache hit is quick."""


@dataclass(frozen=True)
class LoadedGraph:
    graph: RoadGraph
    cache_path: Path
    cache_hit: bool
    seconds: float
    cache_error: str | None = None  # why the built graph could not be cached, if it could not


def load_road_graph(
    osm_path: Path,
    cache_dir: Path,
    *,
    force_rebuild: bool = False,
    progress: ProgressFactory | None = None,
) -> LoadedGraph:
    """The compiled graph for `osm_path`: from the cache when it is current, else built and cached."""
    started = time.perf_counter()
    cache = GraphCache(cache_dir)

    check_osm_path(osm_path)
    content_sha = file_sha256(osm_path)
    path = cache.path_for(osm_path, cache_key(content_sha))
    graph = None if force_rebuild else cache.load(path)
    if graph is not None:
        return LoadedGraph(graph, path, True, time.perf_counter() - started)

    log.info("building the road graph from %s", osm_path)
    on_way = progress(f"reading the ways of {osm_path.name}") if progress else None
    segments = read_drivable_segments(osm_path, on_way)

    def say(message: str) -> None:
        log.info("graph build: %s", message)
        if progress is not None:
            progress(message)

    graph = compile_road_graph(
        node_osm_id=segments.node_osm_id,
        node_lat=segments.node_lat,
        node_lon=segments.node_lon,
        seg_from_osm_id=segments.seg_from_osm_id,
        seg_to_osm_id=segments.seg_to_osm_id,
        seg_forward=segments.seg_forward,
        seg_backward=segments.seg_backward,
        seg_speed_forward_kph=segments.seg_speed_forward_kph,
        seg_speed_backward_kph=segments.seg_speed_backward_kph,
        seg_highway=segments.seg_highway,
        seg_way_id=segments.seg_way_id,
        meta={
            "source": osm_path.name,
            "source_sha256": content_sha,
            "ways_read": str(segments.ways_read),
            "ways_drivable": str(segments.ways_drivable),
            "node_refs_missing": str(segments.node_refs_missing),
        },
        progress=say,
    ).with_street_names(segments.way_names)
    try:
        cache.save(path, graph)
    except OSError as exc:  # a read-only or broken cache folder must not stop routing
        log.warning("could not cache the road graph at %s: %s", path, exc)
        return LoadedGraph(graph, path, False, time.perf_counter() - started, str(exc))
    return LoadedGraph(graph, path, False, time.perf_counter() - started)


def open_router(
    osm_path: Path,
    cache_dir: Path,
    *,
    max_snap_distance_m: float = DEFAULT_MAX_SNAP_DISTANCE_M,
    progress: ProgressFactory | None = None,
) -> tuple[Router, LoadedGraph]:
    loaded = load_road_graph(osm_path, cache_dir, progress=progress)
    return Router(loaded.graph, max_snap_distance_m=max_snap_distance_m), loaded
