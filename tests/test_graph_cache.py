"""The compiled-graph cache: hits, invalidation by content and by rules, and rot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import storage.graph_cache as graph_cache
from routing import GraphBuildError, RoadGraph
from services.road_network import load_road_graph
from tests.test_graph_build import write_osm

NODES = {i: (60.0 + i * 0.001, 25.0 + (i % 2) * 0.001) for i in range(1, 6)}


def small_extract(path: Path, maxspeed: str = "30") -> Path:
    ways = [(1, [1, 2, 3, 4, 5, 1], {"highway": "residential", "maxspeed": maxspeed})]
    return write_osm(path, NODES, ways)


def assert_same_graph(a: RoadGraph, b: RoadGraph) -> None:
    for name, arr in a.to_arrays().items():
        np.testing.assert_array_equal(arr, b.to_arrays()[name], err_msg=name)
    assert a.meta == b.meta


def test_second_load_is_a_cache_hit_with_identical_graph(bundled_osm: Path, tmp_path: Path) -> None:
    first = load_road_graph(bundled_osm, tmp_path)
    second = load_road_graph(bundled_osm, tmp_path)
    assert not first.cache_hit
    assert second.cache_hit
    assert second.cache_path == first.cache_path and first.cache_path.is_file()
    assert_same_graph(first.graph, second.graph)


def test_force_rebuild_ignores_the_cache(tmp_path: Path) -> None:
    osm = small_extract(tmp_path / "a.osm")
    load_road_graph(osm, tmp_path / "cache")
    assert not load_road_graph(osm, tmp_path / "cache", force_rebuild=True).cache_hit


def test_changed_content_is_rebuilt(tmp_path: Path) -> None:
    osm = small_extract(tmp_path / "a.osm", maxspeed="30")
    slow = load_road_graph(osm, tmp_path / "cache")
    small_extract(osm, maxspeed="50")  # same name, new bytes
    fast = load_road_graph(osm, tmp_path / "cache")
    assert not fast.cache_hit
    assert fast.cache_path != slow.cache_path
    assert fast.graph.edge_travel_time_ms.sum() < slow.graph.edge_travel_time_ms.sum()
    assert float(fast.graph.edge_speed_kph.max()) == 50.0


def test_changed_rules_are_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    osm = small_extract(tmp_path / "a.osm")
    before = load_road_graph(osm, tmp_path / "cache")
    monkeypatch.setattr(graph_cache, "BUILD_PROFILE_VERSION", "rules-changed")
    after = load_road_graph(osm, tmp_path / "cache")
    assert not after.cache_hit
    assert after.cache_path != before.cache_path


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_arrays"])
def test_rotten_cache_is_rebuilt_not_fatal(tmp_path: Path, damage: str) -> None:
    osm = small_extract(tmp_path / "a.osm")
    good = load_road_graph(osm, tmp_path / "cache")
    path = good.cache_path
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 500)
    else:
        arrays = good.graph.to_arrays()
        arrays["edge_head"] = arrays["edge_head"] + 1_000  # edges to nodes that do not exist
        with path.open("wb") as fh:
            np.savez(fh, meta_json=np.array("{}"), **arrays)
    again = load_road_graph(osm, tmp_path / "cache")
    assert not again.cache_hit
    assert_same_graph(good.graph, again.graph)
    assert load_road_graph(osm, tmp_path / "cache").cache_hit  # and the cache is whole again


def test_from_arrays_checks_shapes_and_order(helsinki_graph: RoadGraph) -> None:
    arrays = helsinki_graph.to_arrays()
    with pytest.raises(GraphBuildError, match="missing"):
        RoadGraph.from_arrays({k: v for k, v in arrays.items() if k != "cch_order"}, {})
    bad_shape = dict(arrays, edge_length_m=arrays["edge_length_m"][:-1])
    with pytest.raises(GraphBuildError, match="shape"):
        RoadGraph.from_arrays(bad_shape, {})
    bad_order = dict(arrays, cch_order=np.zeros_like(arrays["cch_order"]))
    with pytest.raises(GraphBuildError, match="permutation"):
        RoadGraph.from_arrays(bad_order, {})
