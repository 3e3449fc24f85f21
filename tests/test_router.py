"""Snapping, routes and many-to-one ETAs: exact against plain Dijkstra, explicit on bad input."""

from __future__ import annotations

import itertools
import math
from itertools import pairwise

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing import InvalidCoordinateError, RoadGraph, Router, RoutingError, SnapError, haversine_m
from routing.router import EtaStatus
from routing.synthetic import generate_city

# A point on a street in central Helsinki (Mannerheimintie by the station) and one near the market.
STATION = (60.1710, 24.9414)
MARKET = (60.1673, 24.9534)


@pytest.fixture(scope="module")
def helsinki_nx(helsinki_graph: RoadGraph) -> nx.DiGraph:
    g = nx.DiGraph()
    for t, h, w in zip(
        helsinki_graph.edge_tail.tolist(),
        helsinki_graph.edge_head.tolist(),
        helsinki_graph.edge_travel_time_ms.tolist(),
        strict=True,
    ):
        g.add_edge(t, h, w=w)
    return g


@pytest.fixture(scope="module")
def city() -> tuple[RoadGraph, Router, np.ndarray, np.ndarray]:
    """A generated 60x60 grid with one-way streets, its router and all-pairs-from-targets times."""
    graph = generate_city(60, seed=7)
    router = Router(graph)
    n = graph.node_count
    reverse = csr_matrix(
        (graph.edge_travel_time_ms.astype(np.float64), (graph.edge_head, graph.edge_tail)),
        shape=(n, n),
    )
    targets = np.arange(0, n, max(1, n // 40))
    # to_target_ms[j, v] = time from v to targets[j]
    to_target_ms = dijkstra(reverse, directed=True, indices=targets)
    return graph, router, targets, to_target_ms


class TestSnap:
    def test_a_node_snaps_to_itself(
        self, helsinki_router: Router, helsinki_graph: RoadGraph
    ) -> None:
        for node in (0, helsinki_graph.node_count // 2, helsinki_graph.node_count - 1):
            snap = helsinki_router.snap(
                float(helsinki_graph.node_lat[node]), float(helsinki_graph.node_lon[node])
            )
            assert snap.distance_m == pytest.approx(0.0, abs=1e-6)
            assert (snap.lat, snap.lon) == (
                helsinki_graph.node_lat[node],
                helsinki_graph.node_lon[node],
            )

    def test_snap_is_the_true_nearest_node(
        self, helsinki_router: Router, helsinki_graph: RoadGraph
    ) -> None:
        rng = np.random.default_rng(3)
        lat = rng.uniform(helsinki_graph.node_lat.min(), helsinki_graph.node_lat.max(), 200)
        lon = rng.uniform(helsinki_graph.node_lon.min(), helsinki_graph.node_lon.max(), 200)
        for a, b in zip(lat.tolist(), lon.tolist(), strict=True):
            d_all = haversine_m(a, b, helsinki_graph.node_lat, helsinki_graph.node_lon)
            snap = helsinki_router.snap(a, b)
            # the projected KD-tree may pick a node a hair farther than the true nearest
            assert snap.distance_m <= float(d_all.min()) * 1.01 + 0.01
            assert snap.distance_m == pytest.approx(float(d_all[snap.node]), abs=1e-6)

    def test_far_point_is_refused_as_outside_the_map(self, helsinki_router: Router) -> None:
        with pytest.raises(SnapError) as info:
            helsinki_router.snap(60.5, 25.5)
        assert info.value.distance_m > 30_000
        message = str(info.value)
        assert "is outside the map (helsinki.osm.pbf), 46.9 km from its nearest road" in message
        assert "the map covers latitude 60.1642 to 60.1791, longitude 24.9352 to 24.9534" in message

    @pytest.mark.parametrize(
        ("lat", "lon", "message"),
        [
            (math.nan, 24.9, "finite"),
            (60.1, math.inf, "finite"),
            (91.0, 24.9, "latitude"),
            (-90.5, 24.9, "latitude"),
            (60.1, 180.01, "longitude"),
            (60.1, -181.0, "longitude"),
        ],
    )
    def test_invalid_coordinates(
        self, helsinki_router: Router, lat: float, lon: float, message: str
    ) -> None:
        with pytest.raises(InvalidCoordinateError, match=message):
            helsinki_router.snap(lat, lon)

    @given(
        lat=st.floats(allow_nan=True, allow_infinity=True),
        lon=st.floats(allow_nan=True, allow_infinity=True),
    )
    @settings(max_examples=300, deadline=None)
    def test_any_float_pair_is_answered_or_refused_clearly(
        self, helsinki_router: Router, lat: float, lon: float
    ) -> None:
        try:
            snap = helsinki_router.snap(lat, lon)
        except (InvalidCoordinateError, SnapError):
            return
        assert snap.distance_m <= helsinki_router.max_snap_distance_m


class TestExactness:
    @given(data=st.data())
    @settings(max_examples=150, deadline=None)
    def test_point_to_point_equals_networkx_dijkstra(
        self,
        helsinki_router: Router,
        helsinki_graph: RoadGraph,
        helsinki_nx: nx.DiGraph,
        data: st.DataObject,
    ) -> None:
        n = helsinki_graph.node_count
        s = data.draw(st.integers(0, n - 1), label="source")
        t = data.draw(st.integers(0, n - 1), label="target")
        expected_ms = nx.dijkstra_path_length(helsinki_nx, s, t, weight="w")
        assert helsinki_router.travel_time_s(s, t) == pytest.approx(expected_ms / 1000.0, abs=1e-9)

    @given(data=st.data())
    @settings(max_examples=100, deadline=None)
    def test_many_to_one_equals_scipy_dijkstra_on_one_way_grid(
        self, city: tuple, data: st.DataObject
    ) -> None:
        graph, router, targets, to_target_ms = city
        j = data.draw(st.integers(0, len(targets) - 1), label="target")
        sources = data.draw(
            st.lists(st.integers(0, graph.node_count - 1), min_size=1, max_size=30), label="sources"
        )
        etas = router.etas_from_nodes(sources, int(targets[j]))
        np.testing.assert_allclose(etas * 1000.0, to_target_ms[j, sources], atol=1e-6)

    def test_duplicate_sources_and_the_target_itself(self, city: tuple) -> None:
        _, router, targets, to_target_ms = city
        t = int(targets[5])
        etas = router.etas_from_nodes([3, 3, t, 3], t)
        assert etas[2] == 0.0
        assert etas[0] == etas[1] == etas[3] == pytest.approx(to_target_ms[5, 3] / 1000.0)

    def test_one_way_grid_is_asymmetric_somewhere(self, city: tuple) -> None:
        # guards the exactness tests above against a graph where direction never matters
        graph, router, _, _ = city
        pairs = np.random.default_rng(0).integers(0, graph.node_count, (200, 2)).tolist()
        asym = [
            (a, b) for a, b in pairs if router.travel_time_s(a, b) != router.travel_time_s(b, a)
        ]
        assert len(asym) > 10


class TestRoute:
    def test_route_geometry_follows_edges_and_sums_up(
        self, helsinki_router: Router, helsinki_graph: RoadGraph
    ) -> None:
        route = helsinki_router.route(STATION, MARKET)
        g = helsinki_graph
        edge_time = {
            (t, h): w
            for t, h, w in zip(
                g.edge_tail.tolist(),
                g.edge_head.tolist(),
                g.edge_travel_time_ms.tolist(),
                strict=True,
            )
        }
        edge_len = {
            (t, h): float(m)
            for t, h, m in zip(
                g.edge_tail.tolist(), g.edge_head.tolist(), g.edge_length_m.tolist(), strict=True
            )
        }
        coords = {
            (float(a), float(b)): i
            for i, (a, b) in enumerate(zip(g.node_lat, g.node_lon, strict=True))
        }
        nodes = [coords[(p.lat, p.lon)] for p in route.path]
        assert nodes[0] == route.origin.node and nodes[-1] == route.destination.node
        hops = list(pairwise(nodes))
        assert sum(edge_time[h] for h in hops) / 1000.0 == pytest.approx(route.eta_s)
        assert sum(edge_len[h] for h in hops) == pytest.approx(route.distance_m, rel=1e-5)
        straight = float(haversine_m(*STATION, *MARKET))
        assert straight * 0.9 < route.distance_m < straight * 3
        assert 30 < route.eta_s < 900

    def test_route_to_the_same_point(self, helsinki_router: Router) -> None:
        route = helsinki_router.route(STATION, STATION)
        assert route.eta_s == 0.0
        assert route.distance_m == 0.0
        assert len(route.path) == 1


class TestManyToOne:
    def test_mixed_sources_each_get_a_reason(self, helsinki_router: Router) -> None:
        sources = [STATION, (math.nan, 24.94), (60.5, 25.5), MARKET, (95.0, 24.9)]
        results = helsinki_router.etas_to(sources, MARKET)
        assert [r.status for r in results] == [
            EtaStatus.OK,
            EtaStatus.INVALID_COORDINATE,
            EtaStatus.OFF_NETWORK,
            EtaStatus.OK,
            EtaStatus.INVALID_COORDINATE,
        ]
        assert results[0].eta_s is not None and results[0].eta_s > 0
        assert results[3].eta_s == 0.0
        assert results[2].detail.startswith("outside the map (helsinki.osm.pbf)")
        assert results[1].eta_s is None and results[1].detail

    def test_positions_agree_with_snapped_nodes(
        self, helsinki_router: Router, helsinki_graph: RoadGraph
    ) -> None:
        rng = np.random.default_rng(11)
        idx = rng.integers(0, helsinki_graph.node_count, 20)
        lat = helsinki_graph.node_lat[idx] + rng.normal(0, 1e-4, 20)
        lon = helsinki_graph.node_lon[idx] + rng.normal(0, 1e-4, 20)
        batch = helsinki_router.many_to_one(lat, lon, *MARKET)
        nodes, _ = helsinki_router.nearest_nodes(lat, lon)
        target = helsinki_router.snap(*MARKET).node
        np.testing.assert_array_equal(
            batch.eta_s, helsinki_router.etas_from_nodes(nodes.tolist(), target)
        )
        assert all(r.ok for r in batch.explain())

    def test_bad_target_is_an_error_not_a_result(self, helsinki_router: Router) -> None:
        with pytest.raises(InvalidCoordinateError):
            helsinki_router.etas_to([STATION], (math.nan, 1.0))
        with pytest.raises(SnapError):
            helsinki_router.etas_to([STATION], (61.0, 25.0))

    def test_no_sources(self, helsinki_router: Router) -> None:
        assert helsinki_router.etas_to([], MARKET) == []
        assert helsinki_router.etas_from_nodes([], 0).size == 0

    def test_unreachable_pairs_are_reported(self) -> None:
        # Without the strongly-connected filter a one-way dead end cannot get back out.
        graph = generate_city(12, seed=1, one_way_share=0.9, keep_largest_component=False)
        router = Router(graph)
        n = graph.node_count
        adj = csr_matrix(
            (graph.edge_travel_time_ms.astype(float), (graph.edge_tail, graph.edge_head)),
            shape=(n, n),
        )
        times = dijkstra(adj, directed=True, indices=[0])[0]
        unreachable = np.flatnonzero(np.isinf(times))
        if unreachable.size == 0:
            pytest.skip("this seed's grid happens to be strongly connected")
        target = int(unreachable[0])
        etas = router.etas_from_nodes([0, target], target)
        assert math.isnan(etas[0]) and etas[1] == 0.0
        batch = router.many_to_one(
            graph.node_lat[[0, target]],
            graph.node_lon[[0, target]],
            float(graph.node_lat[target]),
            float(graph.node_lon[target]),
        )
        assert [r.status for r in batch.explain()] == [EtaStatus.UNREACHABLE, EtaStatus.OK]
        with pytest.raises(RoutingError, match="no drivable route"):
            router.route(
                (float(graph.node_lat[0]), float(graph.node_lon[0])),
                (float(graph.node_lat[target]), float(graph.node_lon[target])),
            )


def test_router_rejects_a_bad_snap_limit(helsinki_graph: RoadGraph) -> None:
    for bad in (0.0, -5.0, math.nan, math.inf):
        with pytest.raises(ValueError, match="max_snap_distance_m"):
            Router(helsinki_graph, max_snap_distance_m=bad)


def test_a_route_lists_the_streets_to_take(helsinki_router: Router) -> None:
    """Steps: consecutive edges on one street as one stretch, named from the extract;
    their lengths and times add up to the route's."""
    route = helsinki_router.route((60.1710, 24.9414), (60.1673, 24.9534))
    assert route.steps
    assert sum(s.distance_m for s in route.steps) == pytest.approx(route.distance_m, abs=1.0)
    assert sum(s.duration_s for s in route.steps) == pytest.approx(route.eta_s, abs=1.0)
    named = [s.street for s in route.steps if s.street]
    assert named, route.steps
    assert all(a.street != b.street for a, b in itertools.pairwise(route.steps))
    assert set(named) <= set(helsinki_router.graph.street_names)
    assert "Mannerheimintie" in helsinki_router.graph.street_names
