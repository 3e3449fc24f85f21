"""The `tot` command: help, graph build with its cache, routes, ETA tables and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from routing import haversine_m
from tests.conftest import HELSINKI_OSM_PATH
from tot.cli import main
from tot.settings import BUNDLED_OSM_PATH

STATION = (60.1710, 24.9414)  # Mannerheimintie by the railway station
MARKET = (60.1673, 24.9534)  # by the market square
NEAR_MARKET = (60.1650, 24.9450)
FAR_AWAY = (61.0, 25.0)  # ~90 km north of the bundled extract
FIFTY_KM_NORTH = (MARKET[0] + 0.45, MARKET[1])  # 50 km north of the market, in open country


def pt(p: tuple[float, float]) -> str:
    return f"{p[0]},{p[1]}"


def dist_m(a: tuple[float, float] | list[float], b: tuple[float, float] | list[float]) -> float:
    return float(haversine_m(a[0], a[1], b[0], b[1]))


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN/Infinity, which are not JSON."""

    def reject(token: str) -> Any:
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=reject)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests state their inputs: no TOT_* setting from the caller's shell leaks in. They
    route on the small Helsinki extract (TOT_OSM_PATH); the default map has its own test."""
    for name in ("TOT_GRAPH_CACHE_DIR", "TOT_MAX_SNAP_DISTANCE_M"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TOT_OSM_PATH", str(HELSINKI_OSM_PATH))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def route_argv(
    origin: tuple[float, float], to: tuple[float, float], cache: Path, *extra: str
) -> list[str]:
    return ["route", "--from", pt(origin), "--to", pt(to), "--cache-dir", str(cache), *extra]


def run_ok(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    """Run `tot argv` in-process; it must succeed and print one JSON object."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return strict_json(out)


def run_fail(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run `tot argv` in-process; it must exit 2 with a message and no traceback. Returns stderr."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("tot: ")
    assert "Traceback" not in err
    return err


class TestHelp:
    def test_console_script_is_installed(self) -> None:
        exe = Path(sys.executable).parent / "tot"
        assert exe.is_file()
        done = subprocess.run(
            [str(exe), "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        assert "usage: tot" in done.stdout
        assert "route" in done.stdout and "graph" in done.stdout

    def test_top_level_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exc:
            main(["--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "usage: tot" in out
        assert "dispatch" in out
        assert "route" in out and "graph" in out

    def test_route_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exc:
            main(["route", "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "usage: tot route" in out
        for option in ("--from", "--to", "--geometry", "--json", "--osm", "--cache-dir"):
            assert option in out
        assert "LAT,LON" in out
        assert "many-to-one" in out

    def test_graph_build_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exc:
            main(["graph", "build", "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert "usage: tot graph build" in out
        for option in ("--force", "--json", "--osm", "--cache-dir"):
            assert option in out
        assert "cache" in out

    @pytest.mark.parametrize("argv", [[], ["graph"], ["route", "--to", pt(MARKET)]])
    def test_missing_arguments_are_usage_errors(
        self, capsys: pytest.CaptureFixture[str], argv: list[str]
    ) -> None:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "usage: tot" in err
        assert "required" in err


class TestGraphBuild:
    def test_build_then_cache_hit(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        cache = tmp_path / "graphs"
        first = run_ok(capsys, ["graph", "build", "--cache-dir", str(cache), "--json"])
        assert first["cache_hit"] is False
        assert first["nodes"] > 0 and first["edges"] > 0
        assert first["osm"].endswith("helsinki.osm.pbf")
        cache_file = Path(first["cache"])
        assert cache_file.is_file() and cache_file.parent == cache
        assert int(first["ways_drivable"]) > 0

        second = run_ok(capsys, ["graph", "build", "--cache-dir", str(cache), "--json"])
        assert second["cache_hit"] is True
        assert second["cache"] == first["cache"]
        assert (second["nodes"], second["edges"]) == (first["nodes"], first["edges"])

        forced = run_ok(capsys, ["graph", "build", "--cache-dir", str(cache), "--json", "--force"])
        assert forced["cache_hit"] is False
        assert (forced["nodes"], forced["edges"]) == (first["nodes"], first["edges"])

    def test_cache_dir_from_environment(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        cache = tmp_path / "env-cache"
        monkeypatch.setenv("TOT_GRAPH_CACHE_DIR", str(cache))
        out = run_ok(capsys, ["graph", "build", "--json"])
        assert Path(out["cache"]).parent == cache

    def test_plain_text_output(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        assert main(["graph", "build", "--cache-dir", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("built helsinki.osm.pbf: ")
        assert "nodes" in out and "edges" in out
        assert main(["graph", "build", "--cache-dir", str(tmp_path)]) == 0
        assert capsys.readouterr().out.startswith("loaded from cache helsinki.osm.pbf: ")


class TestDefaultMap:
    """With nothing configured, `tot` routes on the bundled central Nizhny Novgorod."""

    # The route scripts/run.sh shows: Minin and Pozharsky Square (by the Kremlin) to Gorky Square.
    MININ_SQUARE = (56.3269, 44.0065)
    GORKY_SQUARE = (56.3139, 43.9917)

    def test_the_default_is_nizhny_novgorod_and_it_routes(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("TOT_OSM_PATH")
        assert BUNDLED_OSM_PATH.name == "nizhny_novgorod_center.osm.pbf"
        assert BUNDLED_OSM_PATH.is_file()
        built = run_ok(capsys, ["graph", "build", "--cache-dir", str(tmp_path), "--json"])
        assert built["osm"] == str(BUNDLED_OSM_PATH)
        assert built["nodes"] > 15_000  # the whole centre, not a district
        out = run_ok(capsys, route_argv(self.MININ_SQUARE, self.GORKY_SQUARE, tmp_path, "--json"))
        straight = dist_m(self.MININ_SQUARE, self.GORKY_SQUARE)
        assert straight < out["distance_m"] < 2 * straight
        assert 60 < out["eta_s"] < 15 * 60
        assert out["snap_from_m"] < 100 and out["snap_to_m"] < 100

    def test_run_sh_routes_the_same_trip(self) -> None:
        script = (Path(__file__).parent.parent / "scripts" / "run.sh").read_text()
        assert f"--from {pt(self.MININ_SQUARE)} --to {pt(self.GORKY_SQUARE)}" in script

    def test_the_extract_carries_its_attribution(self) -> None:
        text = (BUNDLED_OSM_PATH.parent / "ATTRIBUTION.md").read_text()
        assert "© OpenStreetMap contributors" in text and "ODbL" in text
        assert BUNDLED_OSM_PATH.name in text and "helsinki.osm.pbf" in text


class TestRoute:
    def test_route_json(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        out = run_ok(
            capsys,
            route_argv(STATION, MARKET, tmp_path, "--json"),
        )
        straight = dist_m(STATION, MARKET)
        assert out["eta_s"] > 0
        assert straight < out["distance_m"] < 3 * straight
        # Under 130 km/h and over walking pace on average.
        assert out["distance_m"] / 36.2 < out["eta_s"] < out["distance_m"] / 1.5
        assert out["from"] == list(STATION) and out["to"] == list(MARKET)
        assert 0 <= out["snap_from_m"] <= 1000 and 0 <= out["snap_to_m"] <= 1000
        assert out["points"] >= 2
        assert "path" not in out

    def test_route_geometry(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        out = run_ok(
            capsys,
            route_argv(STATION, MARKET, tmp_path, "--json", "--geometry"),
        )
        path = out["path"]
        assert len(path) == out["points"] >= 2
        assert all(len(p) == 2 for p in path)
        # The path starts and ends at the snapped road nodes.
        assert dist_m(path[0], STATION) == pytest.approx(out["snap_from_m"], abs=1.0)
        assert dist_m(path[-1], MARKET) == pytest.approx(out["snap_to_m"], abs=1.0)
        assert dist_m(path[0], STATION) < 200 and dist_m(path[-1], MARKET) < 200
        # Its length matches the reported road distance.
        length = sum(dist_m(a, b) for a, b in pairwise(path))
        assert length == pytest.approx(out["distance_m"], rel=0.01)

    def test_route_plain_text(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        argv = ["route", "--from", pt(STATION), "--to", pt(MARKET), "--cache-dir", str(tmp_path)]
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert " min, " in out and " km by road" in out

    def test_same_point_is_a_zero_route(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        out = run_ok(
            capsys,
            route_argv(MARKET, MARKET, tmp_path, "--json"),
        )
        assert out["eta_s"] == 0 and out["distance_m"] == 0

    def test_many_to_one_table(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        origins = [STATION, FAR_AWAY, NEAR_MARKET]
        argv = ["route", "--to", pt(MARKET), "--cache-dir", str(tmp_path), "--json"]
        for o in origins:
            argv += ["--from", pt(o)]
        out = run_ok(capsys, argv)
        assert out["to"] == list(MARKET)
        etas = out["etas"]
        assert [row["from"] for row in etas] == [list(o) for o in origins]
        assert [row["status"] for row in etas] == ["ok", "off_network", "ok"]
        assert etas[0]["eta_s"] > 0 and etas[2]["eta_s"] > 0
        assert etas[1]["eta_s"] is None
        assert etas[1]["detail"].startswith("outside the map (helsinki.osm.pbf)")

        # The table agrees with the single-route answer for the same origin.
        single = run_ok(
            capsys,
            route_argv(STATION, MARKET, tmp_path, "--json"),
        )
        assert etas[0]["eta_s"] == pytest.approx(single["eta_s"], abs=0.11)

    def test_many_to_one_plain_text_sorted_by_eta(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        argv = ["route", "--to", pt(MARKET), "--cache-dir", str(tmp_path)]
        for o in (FAR_AWAY, STATION, NEAR_MARKET):
            argv += ["--from", pt(o)]
        assert main(argv) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 3
        # Fastest first, the point without an ETA last.
        assert lines[0].startswith("60.165000,24.945000")
        assert lines[1].startswith("60.171000,24.941400")
        assert lines[2].startswith("61.000000,25.000000") and "off_network" in lines[2]

    def test_invalid_origin_in_a_table_is_reported_not_fatal(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        argv = ["route", "--to", pt(MARKET), "--cache-dir", str(tmp_path), "--json"]
        argv += ["--from", "95,24", "--from", pt(STATION)]
        out = run_ok(capsys, argv)
        assert [row["status"] for row in out["etas"]] == ["invalid_coordinate", "ok"]
        assert out["etas"][0]["eta_s"] is None

    def test_nan_origin_in_a_table_still_prints_valid_json(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        argv = ["route", "--to", pt(MARKET), "--cache-dir", str(tmp_path), "--json"]
        argv += ["--from", "nan,24", "--from", pt(STATION)]
        out = run_ok(capsys, argv)
        assert [row["status"] for row in out["etas"]] == ["invalid_coordinate", "ok"]
        assert out["etas"][0]["from"] == [None, 24.0]


class TestBadInput:
    @pytest.mark.parametrize(
        ("to", "message"),
        [
            ("95,24", "latitude 95.0 is outside [-90, 90]"),
            ("60,200", "longitude 200.0 is outside [-180, 180]"),
            ("nan,24", "finite"),
            ("inf,24", "finite"),
            (pt(FIFTY_KM_NORTH), "is outside the map (helsinki.osm.pbf), 48.7 km from its"),
        ],
    )
    def test_bad_destination(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, to: str, message: str
    ) -> None:
        err = run_fail(
            capsys, ["route", "--from", pt(STATION), "--to", to, "--cache-dir", str(tmp_path)]
        )
        assert message in err

    def test_bad_destination_in_a_table(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        argv = ["route", "--to", pt(FIFTY_KM_NORTH), "--cache-dir", str(tmp_path), "--json"]
        argv += ["--from", pt(STATION), "--from", pt(NEAR_MARKET)]
        assert "is outside the map" in run_fail(capsys, argv)

    def test_fifty_km_point_really_is_that_far(self) -> None:
        assert dist_m(FIFTY_KM_NORTH, MARKET) == pytest.approx(50_000, rel=0.01)

    def test_off_network_origin_of_a_single_route(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        err = run_fail(
            capsys,
            ["route", "--from", pt(FAR_AWAY), "--to", pt(MARKET), "--cache-dir", str(tmp_path)],
        )
        assert "point (61.000000, 25.000000)" in err

    def test_nan_origin_of_a_single_route(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        err = run_fail(
            capsys, ["route", "--from", "nan,nan", "--to", pt(MARKET), "--cache-dir", str(tmp_path)]
        )
        assert "finite" in err

    @pytest.mark.parametrize("value", ["abc", "60.17", "1,2,3", "60.1,x"])
    def test_unparseable_point_is_an_argparse_error(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, value: str
    ) -> None:
        with pytest.raises(SystemExit) as exc:
            main(["route", "--from", value, "--to", pt(MARKET), "--cache-dir", str(tmp_path)])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "argument --from" in err and "LAT,LON" in err
        assert repr(value) in err
        assert "Traceback" not in err

    @pytest.mark.parametrize("name", ["notes.txt", "notes.osm.pbf", "notes.osm", "empty.osm.pbf"])
    @pytest.mark.parametrize("command", ["route", "build"])
    def test_osm_file_that_is_not_osm_data(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, command: str
    ) -> None:
        bogus = tmp_path / name
        bogus.write_text("" if name.startswith("empty") else "these are my shopping notes\n")
        err = run_fail(capsys, self._argv(command, bogus, tmp_path / "cache"))
        assert f"{bogus}: not a readable OpenStreetMap file" in err
        assert not list((tmp_path / "cache").glob("*.npz"))

    @pytest.mark.parametrize("command", ["route", "build"])
    def test_missing_osm_file(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str
    ) -> None:
        missing = tmp_path / "nowhere.osm.pbf"
        err = run_fail(capsys, self._argv(command, missing, tmp_path / "cache"))
        assert f"{missing}: no such file" in err

    def test_osm_file_without_roads(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        xml = tmp_path / "empty-map.osm"
        xml.write_text('<?xml version="1.0"?>\n<osm version="0.6"></osm>\n')
        err = run_fail(capsys, self._argv("build", xml, tmp_path / "cache"))
        assert "no drivable roads" in err

    def test_invalid_setting_from_environment(
        self,
        capsys: pytest.CaptureFixture[str],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("TOT_MAX_SNAP_DISTANCE_M", "-1")
        err = run_fail(
            capsys,
            ["route", "--from", pt(STATION), "--to", pt(MARKET), "--cache-dir", str(tmp_path)],
        )
        assert err.startswith("tot: invalid setting")
        assert "max_snap_distance_m" in err

    def test_cache_dir_that_is_a_file(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        not_a_dir = tmp_path / "cache"
        not_a_dir.write_text("I am a file\n")
        err = run_fail(capsys, ["graph", "build", "--cache-dir", str(not_a_dir)])
        assert "not cached" in err
        assert str(not_a_dir) in err
        # routing still answers: the graph is built in memory, only the cache is lost
        out = run_ok(
            capsys,
            [
                "route",
                "--from",
                pt(STATION),
                "--to",
                pt(MARKET),
                "--cache-dir",
                str(not_a_dir),
                "--json",
            ],
        )
        assert out["eta_s"] > 0

    @staticmethod
    def _argv(command: str, osm: Path, cache: Path) -> list[str]:
        if command == "route":
            head = ["route", "--from", pt(STATION), "--to", pt(MARKET)]
        else:
            head = ["graph", "build"]
        return [*head, "--osm", str(osm), "--cache-dir", str(cache), "--json"]
