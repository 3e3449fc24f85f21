"""Messages that say what is wrong: a folder given as the map, a point outside the map (with
the map's bounds), a point by a road that does not connect to the routed network (an island
reached by ferry), and a point inside the map but far from any road. On a hand-written
extract with two road networks that do not connect: a mainland and an island."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routing import DisconnectedRoadError, OutsideMapError, Router, SnapError
from services.road_network import load_road_graph, open_router
from storage.osm_pbf import OsmFileError
from tests.test_graph_build import write_osm
from tot.cli import main

# A 5 x 5 street grid (the mainland, 200-ish m blocks) and, 4.7 km east across the water,
# a 3 x 3 grid on an island that only a ferry reaches: two networks, no road between them.
MAINLAND = (59.900, 10.700)
ISLAND = (59.900, 10.800)
ON_THE_ISLAND = (59.9011, 10.8012)  # between the island's streets, some 80 m from them
IN_THE_WATER = (59.904, 10.750)  # within the map's box, 2.5 km from any road
AIRPORT = (60.050, 10.750)  # 15 km north: beyond the map
ON_THE_MAINLAND = (59.9041, 10.7041)


def grid(
    first_id: int, corner: tuple[float, float], side: int, step: float
) -> tuple[dict[int, tuple[float, float]], list[tuple[int, list[int], dict[str, str]]]]:
    nodes = {
        first_id + r * side + c: (corner[0] + r * step, corner[1] + c * step * 2)
        for r in range(side)
        for c in range(side)
    }
    street = {"highway": "residential"}
    ways = [
        (first_id + r, [first_id + r * side + c for c in range(side)], street) for r in range(side)
    ]
    ways += [
        (first_id + side + c, [first_id + r * side + c for r in range(side)], street)
        for c in range(side)
    ]
    return nodes, ways


@pytest.fixture(scope="module")
def island_map(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mainland_nodes, mainland_ways = grid(1_000, MAINLAND, 5, 0.002)
    island_nodes, island_ways = grid(5_000, ISLAND, 3, 0.001)
    return write_osm(
        tmp_path_factory.mktemp("osm") / "mainland-and-island.osm",
        {**mainland_nodes, **island_nodes},
        mainland_ways + island_ways,
    )


@pytest.fixture(scope="module")
def island_router(island_map: Path, tmp_path_factory: pytest.TempPathFactory) -> Router:
    router, _ = open_router(island_map, tmp_path_factory.mktemp("cache"))
    return router


def test_the_build_keeps_the_mainland_and_remembers_the_island(island_router: Router) -> None:
    g = island_router.graph
    assert g.node_count == 25 and g.node_lon.max() < 10.72  # the mainland only is routed
    assert g.detached_lat.size == 9  # the island's nodes, kept apart
    assert np.all(g.detached_lon >= ISLAND[1])


def test_a_point_on_the_island_is_told_its_road_does_not_connect(island_router: Router) -> None:
    with pytest.raises(DisconnectedRoadError) as info:
        island_router.snap(*ON_THE_ISLAND)
    message = str(info.value)
    assert "from a road that does not connect to the rest of the map's road network" in message
    assert "island reached by ferry" in message
    assert info.value.detached_m < 150
    assert info.value.distance_m > 4_000  # the nearest connected road is on the mainland
    assert "beyond the 1000 m limit" in message
    assert "no road" not in message and "nearest drivable road" not in message


def test_a_point_beyond_the_map_is_outside_it_with_the_maps_bounds(island_router: Router) -> None:
    with pytest.raises(OutsideMapError) as info:
        island_router.snap(*AIRPORT)
    message = str(info.value)
    assert "point (60.050000, 10.750000) is outside the map (mainland-and-island.osm)" in message
    # the bounds cover both networks, the island too: latitude first, then longitude
    assert "the map covers latitude 59.9000 to 59.9080, longitude 10.7000 to 10.8040" in message
    assert "15.9 km from its nearest road" in message
    assert info.value.bounds == pytest.approx((59.9, 10.7, 59.908, 10.804))


def test_a_point_in_the_map_far_from_roads_is_told_the_distance(island_router: Router) -> None:
    with pytest.raises(SnapError) as info:
        island_router.snap(*IN_THE_WATER)
    assert type(info.value) is SnapError
    assert "m from the nearest drivable road; the limit is 1000 m" in str(info.value)


def test_the_cache_keeps_what_the_explanations_need(
    island_map: Path, island_router: Router, tmp_path: Path
) -> None:
    load_road_graph(island_map, tmp_path)
    cached = load_road_graph(island_map, tmp_path)
    assert cached.cache_hit
    np.testing.assert_array_equal(cached.graph.detached_lat, island_router.graph.detached_lat)
    with pytest.raises(DisconnectedRoadError):
        Router(cached.graph).snap(*ON_THE_ISLAND)


def test_an_eta_table_says_why_each_point_has_no_eta(island_router: Router) -> None:
    origins = [ON_THE_MAINLAND, ON_THE_ISLAND, AIRPORT, IN_THE_WATER]
    rows = island_router.etas_to(origins, (59.9002, 10.7002))
    assert [r.status.value for r in rows] == ["ok", "off_network", "off_network", "off_network"]
    assert rows[1].detail.endswith("beyond the 1000 m limit")
    assert "does not connect" in rows[1].detail
    assert rows[2].detail.startswith("outside the map (mainland-and-island.osm)")
    assert rows[3].detail.endswith("m from the nearest drivable road; the limit is 1000 m")


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tot: error: ")
    return lines[0]


def test_the_command_line_says_it_in_one_line(
    capsys: pytest.CaptureFixture[str], island_map: Path, tmp_path: Path
) -> None:
    def route(origin: tuple[float, float]) -> list[str]:
        return [
            "route", "--osm", str(island_map), "--cache-dir", str(tmp_path),
            "--from", f"{origin[0]},{origin[1]}", "--to", f"{ON_THE_MAINLAND[0]},{ON_THE_MAINLAND[1]}",
        ]  # fmt: skip

    assert "does not connect" in _fails(capsys, route(ON_THE_ISLAND))
    assert "is outside the map" in _fails(capsys, route(AIRPORT))
    assert "from the nearest drivable road" in _fails(capsys, route(IN_THE_WATER))


@pytest.mark.parametrize("command", [["graph", "build"], ["route", "--from", "1,1", "--to", "1,1"]])
def test_a_folder_is_not_called_a_missing_file(
    capsys: pytest.CaptureFixture[str], island_map: Path, tmp_path: Path, command: list[str]
) -> None:
    argv = [*command, "--cache-dir", str(tmp_path / "cache")]
    line = _fails(capsys, [*argv, "--osm", str(island_map.parent)])
    assert f"{island_map.parent}: a folder, not an OpenStreetMap file" in line
    assert "it holds mainland-and-island.osm: give one of them" in line
    assert "no such file" not in line
    empty = tmp_path / "empty"
    empty.mkdir()
    line = _fails(capsys, [*argv, "--osm", str(empty)])
    assert "a folder, not an OpenStreetMap file; give an .osm.pbf or .osm file" in line
    with pytest.raises(OsmFileError, match="no such file"):
        load_road_graph(tmp_path / "nowhere.osm.pbf", tmp_path)
