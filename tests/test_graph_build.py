"""Compiling OSM extracts into the routing graph."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from routing import GraphBuildError, RoadGraph, compile_road_graph
from routing.osm_tags import MAX_SPEED_KPH, MIN_SPEED_KPH
from storage.osm_pbf import OsmFileError, read_drivable_segments

OSM_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="tot-tests">\n'


def write_osm(
    path: Path,
    nodes: dict[int, tuple[float, float]],
    ways: list[tuple[int, list[int], dict[str, str]]],
) -> Path:
    parts = [OSM_XML_HEAD]
    for node_id, (lat, lon) in nodes.items():
        parts.append(f'  <node id="{node_id}" lat="{lat}" lon="{lon}" version="1"/>\n')
    for way_id, refs, tags in ways:
        parts.append(f'  <way id="{way_id}" version="1">')
        parts.extend(f'<nd ref="{r}"/>' for r in refs)
        parts.extend(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        parts.append("</way>\n")
    parts.append("</osm>\n")
    path.write_text("".join(parts))
    return path


def compile_file(path: Path, keep_largest_component: bool = True) -> RoadGraph:
    s = read_drivable_segments(path)
    return compile_road_graph(
        node_osm_id=s.node_osm_id,
        node_lat=s.node_lat,
        node_lon=s.node_lon,
        seg_from_osm_id=s.seg_from_osm_id,
        seg_to_osm_id=s.seg_to_osm_id,
        seg_forward=s.seg_forward,
        seg_backward=s.seg_backward,
        seg_speed_forward_kph=s.seg_speed_forward_kph,
        seg_speed_backward_kph=s.seg_speed_backward_kph,
        seg_highway=s.seg_highway,
        seg_way_id=s.seg_way_id,
        keep_largest_component=keep_largest_component,
    )


def edge_set(g: RoadGraph) -> set[tuple[int, int]]:
    ids = g.node_osm_id
    return {(int(ids[t]), int(ids[h])) for t, h in zip(g.edge_tail, g.edge_head, strict=True)}


class TestBundledHelsinki:
    def test_counts_are_those_of_a_city_centre(self, helsinki_graph: RoadGraph) -> None:
        g = helsinki_graph
        assert 1_000 < g.node_count < 10_000
        assert g.edge_count > g.node_count  # mostly two-way streets
        assert g.meta["source"] == "helsinki.osm.pbf"
        assert int(g.meta["ways_drivable"]) > 100

    def test_no_dangling_nodes_and_strongly_connected(self, helsinki_graph: RoadGraph) -> None:
        g = helsinki_graph
        n = g.node_count
        assert g.edge_tail.min() >= 0
        assert g.edge_head.max() < n
        # every node has a way in and a way out
        assert np.all(np.bincount(g.edge_tail, minlength=n) > 0)
        assert np.all(np.bincount(g.edge_head, minlength=n) > 0)
        adj = csr_matrix((np.ones(g.edge_count), (g.edge_tail, g.edge_head)), shape=(n, n))
        count, _ = connected_components(adj, directed=True, connection="strong")
        assert count == 1

    def test_no_self_loops_or_parallel_edges(self, helsinki_graph: RoadGraph) -> None:
        g = helsinki_graph
        assert not np.any(g.edge_tail == g.edge_head)
        pairs = g.edge_tail.astype(np.int64) * g.node_count + g.edge_head
        assert np.unique(pairs).size == g.edge_count

    def test_speeds_and_times_are_sane(self, helsinki_graph: RoadGraph) -> None:
        g = helsinki_graph
        assert g.edge_speed_kph.min() >= MIN_SPEED_KPH
        assert g.edge_speed_kph.max() <= MAX_SPEED_KPH
        # a city centre: mostly 30-50 km/h
        assert 20 <= float(np.median(g.edge_speed_kph)) <= 60
        assert np.all(g.edge_length_m >= 0)
        assert g.edge_length_m.max() < 2_000
        expected_ms = g.edge_length_m / (g.edge_speed_kph / 3.6) * 1000
        assert np.allclose(g.edge_travel_time_ms, expected_ms, atol=1.0)

    def test_coordinates_are_in_central_helsinki(self, helsinki_graph: RoadGraph) -> None:
        g = helsinki_graph
        assert g.node_lat.min() > 60.1 and g.node_lat.max() < 60.25
        assert g.node_lon.min() > 24.8 and g.node_lon.max() < 25.1

    def test_one_way_street_is_driven_one_way(
        self, bundled_osm: Path, helsinki_graph: RoadGraph
    ) -> None:
        # Erottajankatu (way 1372477605's street) is tagged oneway=yes in the extract.
        import osmium

        way_nodes: list[int] | None = None
        for way in osmium.FileProcessor(str(bundled_osm), osmium.osm.WAY):
            if way.tags.get("name") == "Erottajankatu" and way.tags.get("oneway") == "yes":
                way_nodes = [r.ref for r in way.nodes]
                break
        assert way_nodes is not None, "the extract should hold one-way Erottajankatu"
        edges = edge_set(helsinki_graph)
        along = list(pairwise(way_nodes))
        present = [p for p in along if p in edges]
        assert present, "the street is in the graph"
        for a, b in present:
            assert (b, a) not in edges, f"one-way segment {a}->{b} must not be drivable backwards"

    def test_bidirectional_street_has_both_directions(self, helsinki_graph: RoadGraph) -> None:
        edges = edge_set(helsinki_graph)
        both = sum(1 for a, b in edges if (b, a) in edges)
        assert both > len(edges) / 2


class TestSmallExtracts:
    def test_oneway_roundabout_and_access(self, tmp_path: Path) -> None:
        nodes = {i: (60.0 + i * 0.001, 25.0) for i in range(1, 7)}
        ways = [
            (100, [1, 2, 3], {"highway": "residential"}),
            (101, [3, 4], {"highway": "residential", "oneway": "yes"}),
            (102, [4, 5], {"highway": "residential", "oneway": "-1"}),
            (103, [5, 6], {"highway": "footway"}),
            (104, [5, 1], {"highway": "primary", "junction": "roundabout"}),
            (105, [2, 6], {"highway": "residential", "access": "private"}),
        ]
        g = compile_file(write_osm(tmp_path / "x.osm", nodes, ways), keep_largest_component=False)
        edges = edge_set(g)
        assert {(1, 2), (2, 1), (2, 3), (3, 2)} <= edges
        assert (3, 4) in edges and (4, 3) not in edges
        assert (5, 4) in edges and (4, 5) not in edges
        assert (5, 1) in edges and (1, 5) not in edges
        assert not any(6 in e for e in edges)  # footway and private road left out

    def test_clipped_way_is_split_at_the_missing_node(self, tmp_path: Path) -> None:
        nodes = {1: (60.0, 25.0), 2: (60.001, 25.0), 4: (60.003, 25.0), 5: (60.004, 25.0)}
        ways = [(10, [1, 2, 3, 4, 5], {"highway": "residential"})]
        s = read_drivable_segments(write_osm(tmp_path / "clip.osm", nodes, ways))
        assert s.node_refs_missing == 1
        segs = set(zip(s.seg_from_osm_id.tolist(), s.seg_to_osm_id.tolist(), strict=True))
        assert segs == {(1, 2), (4, 5)}  # never joined across the gap 2..4
        g = compile_file(tmp_path / "clip.osm", keep_largest_component=False)
        assert edge_set(g) == {(1, 2), (2, 1), (4, 5), (5, 4)}

    def test_largest_strongly_connected_component_is_kept(self, tmp_path: Path) -> None:
        nodes = {i: (60.0 + i * 0.001, 25.0) for i in range(1, 8)}
        ways = [
            (1, [1, 2, 3, 4], {"highway": "residential"}),  # the big component
            (2, [4, 5], {"highway": "residential", "oneway": "yes"}),  # dead end: 5 is a sink
            (3, [6, 7], {"highway": "residential"}),  # an island
        ]
        g = compile_file(write_osm(tmp_path / "scc.osm", nodes, ways))
        assert sorted(g.node_osm_id.tolist()) == [1, 2, 3, 4]
        # the nodes left out are kept apart, for "this road does not connect"
        assert sorted(g.detached_lat.tolist()) == pytest.approx([nodes[i][0] for i in (5, 6, 7)])
        assert g.detached_lon.tolist() == [25.0] * 3
        whole = compile_file(tmp_path / "scc.osm", keep_largest_component=False)
        assert whole.detached_lat.size == 0

    def test_no_drivable_roads_is_a_clear_error(self, tmp_path: Path) -> None:
        nodes = {1: (60.0, 25.0), 2: (60.001, 25.0)}
        path = write_osm(tmp_path / "paths.osm", nodes, [(1, [1, 2], {"highway": "footway"})])
        with pytest.raises(GraphBuildError, match="no drivable"):
            compile_file(path)

    def test_a_file_that_is_not_osm_data(self, tmp_path: Path) -> None:
        bogus = tmp_path / "notes.osm.pbf"
        bogus.write_bytes(b"these are my shopping notes, not a map\n" * 50)
        with pytest.raises(OsmFileError, match="not a readable OpenStreetMap file"):
            read_drivable_segments(bogus)

    def test_a_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(OsmFileError, match="no such file"):
            read_drivable_segments(tmp_path / "nope.osm.pbf")

    def test_nan_coordinates_are_refused(self) -> None:
        one = np.array([1, 2], dtype=np.int64)
        with pytest.raises(GraphBuildError.__mro__[1], match="finite"):
            compile_road_graph(
                node_osm_id=one,
                node_lat=np.array([60.0, np.nan]),
                node_lon=np.array([25.0, 25.0]),
                seg_from_osm_id=one[:1],
                seg_to_osm_id=one[1:],
                seg_forward=np.array([True]),
                seg_backward=np.array([True]),
                seg_speed_forward_kph=np.array([30.0]),
                seg_speed_backward_kph=np.array([30.0]),
                seg_highway=np.array([0], dtype=np.uint8),
                seg_way_id=one[:1],
            )


def test_shared_porto_extract_when_present() -> None:
    """The team's city-sized network loads, when ../shared is beside the project."""
    porto = Path(__file__).resolve().parents[2] / "shared" / "osm" / "porto.osm.pbf"
    if not porto.is_file():
        pytest.skip("../shared/osm/porto.osm.pbf not present")
    s = read_drivable_segments(porto)
    assert s.ways_drivable > 20_000
    assert s.node_osm_id.size > 200_000
