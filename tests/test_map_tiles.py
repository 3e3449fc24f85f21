"""The map's vector tiles: what the extract holds comes out in the right tile, named,
clipped within the buffer, encoded as MVT 2.1 (decoded here by mapbox-vector-tile);
the style refers only to layers the tiles have and fonts the engine serves; glyphs
decode; the routes answer with caching headers, 304s and problem documents."""

from __future__ import annotations

import gzip
import math
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box, shape

from api.app import create_app
from maptiles import LAYERS, MAX_ZOOM, FeatureBuilder, MapFeatures, render_tile
from maptiles.arrays import world_xy
from maptiles.features import MapFeatureRule
from maptiles.glyphs import GlyphRangeError, parse_range
from maptiles.mvt import EXTENT
from maptiles.rules import BUILDINGS, GREEN, PLACES, ROADS, WATER, road_rule
from maptiles.style import FONTS, map_style, style_fonts
from maptiles.tiler import BUFFER, TileOutOfRangeError
from routing import Router
from services.map_tiles import TileLru
from storage.osm_features import FeatureCache, features_cache_key, read_map_features
from storage.tile_files import GlyphFiles
from tests.api_harness import Api, running_api
from tests.conftest import HELSINKI_OSM_PATH
from tot.settings import PROJECT_ROOT

NIZHNY_OSM_PATH = PROJECT_ROOT / "data" / "osm" / "nizhny_novgorod_center.osm.pbf"


def tile_of(lat: float, lon: float, z: int) -> tuple[int, int, int]:
    x, y = world_xy(np.array([lat]), np.array([lon]))
    return z, int(x[0] * (1 << z)), int(y[0] * (1 << z))


def decode(data: bytes) -> dict[str, Any]:
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})  # type: ignore[no-any-return]


def names(tile: dict[str, Any], layer: str) -> set[str]:
    return {
        f["properties"]["name"]
        for f in tile.get(layer, {}).get("features", [])
        if "name" in f["properties"]
    }


@pytest.fixture(scope="module")
def helsinki() -> MapFeatures:
    return read_map_features(HELSINKI_OSM_PATH)


@pytest.fixture(scope="module")
def nizhny() -> MapFeatures:
    return read_map_features(NIZHNY_OSM_PATH)


# -- what the tiles hold --------------------------------------------------------------------


def test_a_named_street_is_in_its_tile_with_its_name_and_class(helsinki: MapFeatures) -> None:
    tile = decode(render_tile(helsinki, *tile_of(60.1699, 24.9384, 16)))
    roads = tile["roads"]
    assert roads["extent"] == EXTENT and roads["version"] == 2
    mannerheimintie = [
        f for f in roads["features"] if f["properties"].get("name") == "Mannerheimintie"
    ]
    assert mannerheimintie
    assert mannerheimintie[0]["properties"]["class"] == "primary"
    assert mannerheimintie[0]["geometry"]["type"] in ("LineString", "MultiLineString")


def test_cyrillic_names_buildings_and_places_of_nizhny_novgorod(nizhny: MapFeatures) -> None:
    tile = decode(render_tile(nizhny, *tile_of(56.3269, 44.0065, 15)))  # Minin Square
    assert "Большая Покровская улица" in names(tile, "roads")
    assert "Нижний Новгород" in names(tile, "places")
    city = next(
        f for f in tile["places"]["features"] if f["properties"]["name"] == "Нижний Новгород"
    )
    assert (
        city["properties"]["class"] == "city" and city["properties"]["name_en"] == "Nizhny Novgorod"
    )
    assert len(tile["buildings"]["features"]) > 50
    assert any("housenumber" in f["properties"] for f in tile["buildings"]["features"])
    deeper = decode(render_tile(nizhny, *tile_of(56.3269, 44.0065, 16)))
    assert len(deeper["housenumbers"]["features"]) > 20


@pytest.mark.parametrize("layer", [WATER, GREEN, BUILDINGS, PLACES])
def test_each_layer_the_extract_has_is_in_the_tile_over_it(
    helsinki: MapFeatures, layer: str
) -> None:
    data = helsinki.layers[layer]
    assert data.count > 0
    f = int(np.argmax(data.bbox[:, 2] - data.bbox[:, 0]))  # its biggest feature
    z = max(int(data.min_zoom[f]), 15)
    cx = (data.bbox[f, 0] + data.bbox[f, 2]) / 2
    cy = (data.bbox[f, 1] + data.bbox[f, 3]) / 2
    tile = decode(render_tile(helsinki, z, int(cx * (1 << z)), int(cy * (1 << z))))
    assert tile[layer]["features"]


def test_minor_roads_and_buildings_wait_for_their_zoom(helsinki: MapFeatures) -> None:
    low = decode(render_tile(helsinki, *tile_of(60.1699, 24.9384, 12)))
    classes = {f["properties"]["class"] for f in low["roads"]["features"]}
    subclasses = {f["properties"]["subclass"] for f in low["roads"]["features"]}
    assert "primary" in classes and not classes & {"service", "path"}
    assert "residential" not in subclasses  # unclassified roads are the only minor ones
    assert "buildings" not in low and "housenumbers" not in low
    high = decode(render_tile(helsinki, *tile_of(60.1699, 24.9384, 16)))
    assert {"minor", "path"} <= {f["properties"]["class"] for f in high["roads"]["features"]}


def test_outside_the_map_a_tile_is_empty(helsinki: MapFeatures) -> None:
    assert render_tile(helsinki, *tile_of(40.0, -3.7, 14)) == b""  # Madrid
    assert render_tile(helsinki, 0, 0, 0) == b""  # nothing shows from so far out
    assert render_tile(helsinki, *tile_of(60.17, 24.94, 8)) != b""  # main roads do


def test_tiles_that_do_not_exist_are_refused(helsinki: MapFeatures) -> None:
    for z, x, y in ((-1, 0, 0), (MAX_ZOOM + 1, 0, 0), (3, 8, 0), (3, 0, 8), (0, -1, 0)):
        with pytest.raises(TileOutOfRangeError):
            render_tile(helsinki, z, x, y)


# -- clipping and geometry ------------------------------------------------------------------


def _original(features: MapFeatures, layer: str, z: int, x: int, y: int) -> list[Any]:
    """Every feature's geometry in this tile's units, unclipped (shapely)."""
    data = features.layers[layer]
    scale = float(1 << z) * EXTENT
    out = []
    for f in range(data.count):
        if data.min_zoom[f] > z:
            continue
        rings = []
        for p in range(int(data.part_start[f]), int(data.part_start[f + 1])):
            pts = data.xy[data.coord_start[p] : data.coord_start[p + 1]] * scale
            pts = pts - np.array([x * EXTENT, y * EXTENT])
            rings.append((pts, bool(data.outer[p])))
        if data.geom_type == 2:
            out.extend(shapely.LineString(r) for r, _ in rings)
        else:
            polygons: list[tuple[Any, list[Any]]] = []
            for r, is_outer in rings:
                if is_outer:
                    polygons.append((r, []))
                else:
                    polygons[-1][1].append(r)
            out.extend(shapely.Polygon(shell, holes).buffer(0) for shell, holes in polygons)
    return out


def _signed_area(coords: Any) -> float:
    xy = np.asarray(coords, dtype=np.float64)
    x, y = xy[:, 0], xy[:, 1]
    return float((x * np.roll(y, -1) - np.roll(x, -1) * y).sum() / 2)


def _decoded_geoms(tile: dict[str, Any], layer: str) -> list[Any]:
    return [shape(f["geometry"]) for f in tile.get(layer, {}).get("features", [])]


@pytest.mark.parametrize(("lat", "lon", "z"), [(60.1699, 24.9384, 15), (60.1675, 24.9450, 16)])
def test_lines_are_clipped_to_the_buffer_and_keep_their_length(
    helsinki: MapFeatures, lat: float, lon: float, z: int
) -> None:
    _, x, y = tile_of(lat, lon, z)
    tile = decode(render_tile(helsinki, z, x, y))
    clip = box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    got = _decoded_geoms(tile, "roads")
    coords = np.concatenate([np.asarray(shapely.get_coordinates(g)) for g in got])
    assert coords.min() >= -BUFFER and coords.max() <= EXTENT + BUFFER
    assert (np.abs(coords) >= EXTENT).any() or (coords < 0).any()  # something was cut
    expected = sum(g.intersection(clip).length for g in _original(helsinki, ROADS, z, x, y))
    length = sum(g.length for g in got)
    assert length == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize(("lat", "lon", "z"), [(60.1699, 24.9384, 15), (60.1675, 24.9450, 16)])
def test_polygons_are_clipped_and_keep_their_area_with_outer_rings_clockwise(
    helsinki: MapFeatures, lat: float, lon: float, z: int
) -> None:
    _, x, y = tile_of(lat, lon, z)
    data = render_tile(helsinki, z, x, y)
    tile = decode(data)
    clip = box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    for layer in (BUILDINGS, GREEN):
        got = _decoded_geoms(tile, layer)
        assert got, layer
        area = sum(g.area for g in got)
        expected = sum(g.intersection(clip).area for g in _original(helsinki, layer, z, x, y))
        assert area == pytest.approx(expected, rel=0.01), layer
        for g in got:
            for polygon in getattr(g, "geoms", [g]):
                # MVT: outer rings have a positive area by the surveyor's formula in tile
                # coordinates (clockwise on screen, y growing downwards), holes negative
                assert _signed_area(polygon.exterior.coords) > 0
                assert all(_signed_area(r.coords) < 0 for r in polygon.interiors)


def test_a_hole_stays_a_hole() -> None:
    builder = FeatureBuilder()
    rule = MapFeatureRule(BUILDINGS, {"building": "yes"}, 14)
    lat0, lon0 = 60.17, 24.94
    d = 0.0005
    outer = ([lat0, lat0, lat0 + d, lat0 + d], [lon0, lon0 + d, lon0 + d, lon0], True)
    e = d / 4
    inner = (
        [lat0 + e, lat0 + 3 * e, lat0 + 3 * e, lat0 + e],
        [lon0 + e, lon0 + e, lon0 + 3 * e, lon0 + 3 * e],
        False,
    )
    builder.add_polygon(rule, [outer, inner])
    features = builder.build()
    tile = decode(render_tile(features, *tile_of(lat0 + d / 2, lon0 + d / 2, 16)))
    polygon = shape(tile["buildings"]["features"][0]["geometry"])
    assert len(polygon.interiors) == 1
    assert polygon.area == pytest.approx(polygon.exterior.convex_hull.area * (1 - 0.25), rel=0.05)


# -- reading extracts -----------------------------------------------------------------------


def test_a_clipped_extract_with_missing_nodes_and_members_is_read(tmp_path: Path) -> None:
    osm = tmp_path / "clipped.osm"
    osm.write_text(
        """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="60.170" lon="24.940" version="1"/>
  <node id="2" lat="60.171" lon="24.941" version="1"/>
  <node id="4" lat="60.172" lon="24.943" version="1"/>
  <node id="5" lat="60.173" lon="24.944" version="1"/>
  <node id="6" lat="60.1705" lon="24.9405" version="1"><tag k="place" v="suburb"/><tag k="name" v="Кесква"/></node>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="5"/>
    <tag k="highway" v="residential"/><tag k="name" v="Улица"/></way>
  <way id="11" version="1"><nd ref="1"/><nd ref="2"/><nd ref="99"/><tag k="natural" v="water"/></way>
  <relation id="20" version="1"><member type="way" ref="11" role="outer"/>
    <member type="way" ref="12" role="outer"/><tag k="type" v="multipolygon"/>
    <tag k="natural" v="water"/></relation>
</osm>
"""
    )
    features = read_map_features(osm)
    roads = features.layers[ROADS]
    assert roads.count == 1 and roads.outer.size == 2  # split at the missing node 3
    assert features.layers[WATER].count == 0  # nothing closes: left out, no failure
    tile = decode(render_tile(features, *tile_of(60.1705, 24.9405, 14)))
    assert names(tile, "roads") == {"Улица"} and names(tile, "places") == {"Кесква"}


def test_the_features_cache_round_trips(helsinki: MapFeatures, tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    path = cache.path_for(HELSINKI_OSM_PATH, features_cache_key("0" * 64))
    cache.save(path, helsinki)
    loaded = cache.load(path)
    assert loaded is not None and loaded.values == helsinki.values
    for z, x, y in (tile_of(60.1699, 24.9384, 16), tile_of(60.17, 24.94, 13), (0, 0, 0)):
        assert render_tile(loaded, z, x, y) == render_tile(helsinki, z, x, y)
    path.write_bytes(b"not a zip file")
    assert cache.load(path) is None  # unreadable: rebuilt, not a failure


def test_road_rules_read_the_tags_a_map_needs() -> None:
    rule = road_rule(
        {"highway": "primary_link", "name": "A", "oneway": "-1", "layer": "1", "bridge": "yes"}
    )  # type: ignore[arg-type]
    assert rule is not None
    assert rule.properties == {
        "class": "primary", "subclass": "primary_link", "name": "A", "oneway": -1, "layer": 1,
        "bridge": True, "ramp": True,
    }  # fmt: skip
    assert road_rule({"highway": "proposed"}) is None  # type: ignore[arg-type]
    assert road_rule({"highway": "pedestrian", "area": "yes"}) is None  # type: ignore[arg-type]


def test_the_lru_is_bounded_by_bytes() -> None:
    lru = TileLru(10_000)
    for i in range(100):
        lru.put((14, i, 0), b"x" * 1_000)
    assert lru.bytes <= 10_000 and len(lru) == 9
    assert lru.get((14, 99, 0)) is not None and lru.get((14, 0, 0)) is None


# -- the style and the glyphs -----------------------------------------------------------------


def _style() -> dict[str, Any]:
    return map_style(
        tiles_url="http://h/tiles/{z}/{x}/{y}.mvt",
        glyphs_url="http://h/map/fonts/{fontstack}/{range}.pbf",
        bounds=(60.16, 24.93, 60.18, 24.96),
        name="helsinki",
        attribution="© OpenStreetMap contributors",
    )


def _gets(value: Any) -> set[str]:
    if isinstance(value, list):
        found = {value[1]} if len(value) == 2 and value[0] in ("get", "has") else set()
        for item in value:
            found |= _gets(item)
        return found
    if isinstance(value, dict):
        return set().union(*(_gets(v) for v in value.values())) if value else set()
    return set()


def test_the_style_uses_only_layers_properties_and_fonts_that_exist() -> None:
    style = _style()
    assert style["version"] == 8 and set(style["sources"]) == {"tot"}
    ids = [layer["id"] for layer in style["layers"]]
    assert len(ids) == len(set(ids))
    used = set()
    for layer in style["layers"]:
        if layer["type"] == "background":
            continue
        assert layer["source"] == "tot"
        name = layer["source-layer"]
        assert name in LAYERS, name
        used.add(name)
        keys = set(LAYERS[name][1])
        assert _gets([layer.get("filter"), layer.get("layout"), layer.get("paint")]) <= keys
    assert used == set(LAYERS)  # every layer is drawn
    fonts = style_fonts(style)
    assert fonts and fonts <= set(FONTS)
    served = GlyphFiles().fonts()
    for font in fonts:
        assert font in served
        for glyph_range in ("0-255", "1024-1279"):
            assert GlyphFiles().read(font, glyph_range)


def _fields(data: bytes) -> list[tuple[int, Any]]:
    """A protobuf message's (field, value) pairs: varints as ints, the rest as bytes."""
    out = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        if key & 7 == 0:
            value, i = _varint(data, i)
        else:
            assert key & 7 == 2
            n, i = _varint(data, i)
            value, i = data[i : i + n], i + n
        out.append((key >> 3, value))
    return out


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


@pytest.mark.parametrize("font", FONTS)
def test_glyph_ranges_decode_with_cyrillic_sdf_glyphs(font: str) -> None:
    data = GlyphFiles().read(font, "1024-1279")
    assert data is not None
    ((field, stack),) = _fields(data)
    assert field == 1
    parts = _fields(stack)
    assert (1, font.encode()) in parts and (2, b"1024-1279") in parts
    glyphs = {g[1]: g for g in (dict(_fields(v)) for f, v in parts if f == 3)}
    assert len(glyphs) > 200
    zhe = glyphs[ord("Ж")]
    width, height = zhe[3], zhe[4]
    bitmap = np.frombuffer(zhe[2], dtype=np.uint8)
    assert bitmap.size == (width + 6) * (height + 6)
    assert 0.1 < (bitmap >= 192).mean() < 0.6  # ink inside the edge value, field around it
    assert zhe[7] > width // 2  # advance


def test_glyph_range_names() -> None:
    assert parse_range("8192-8447") == (8192, 8447)
    for bad in ("0-254", "1-256", "65536-65791", "a-b", "0-255-1", "../0-255"):
        with pytest.raises(GlyphRangeError, match="range"):
            parse_range(bad)


# -- the routes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The app's tile, style and glyph routes; they need only the runtime's settings."""

    async def never() -> Any:
        raise AssertionError("not started")

    app = create_app(never)
    app.state.runtime = SimpleNamespace(
        config=SimpleNamespace(
            osm_path=HELSINKI_OSM_PATH, graph_cache_dir=tmp_path_factory.mktemp("tiles-cache")
        )
    )
    return TestClient(app, base_url="http://tot.test")


def test_a_tile_is_served_gzipped_with_caching_headers_and_304(client: TestClient) -> None:
    z, x, y = tile_of(60.1699, 24.9384, 16)
    r = client.get(f"/tiles/{z}/{x}/{y}.mvt", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"].startswith("public, max-age=")
    assert "Mannerheimintie" in names(decode(r.content), "roads")  # httpx un-gzips
    etag = r.headers["etag"]
    again = client.get(f"/tiles/{z}/{x}/{y}.mvt", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = client.get(f"/tiles/{z}/{x}/{y}.mvt", headers={"If-None-Match": 'W/"other"'})
    assert other.status_code == 200
    plain = client.get(f"/tiles/{z}/{x}/{y}.mvt", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == r.content


def test_an_empty_tile_outside_the_map(client: TestClient) -> None:
    r = client.get("/tiles/14/8000/6000.mvt")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["etag"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tiles/17/0/0.mvt", 404),
        ("/tiles/3/8/0.mvt", 404),
        ("/tiles/a/0/0.mvt", 404),
        ("/tiles/-1/0/0.mvt", 404),
        ("/tiles/1/0/99999999999999999999.mvt", 404),
        ("/map/fonts/Comic Sans/0-255.pbf", 404),
        ("/map/fonts/DejaVu Sans Book/0-100.pbf", 404),
    ],
)
def test_bad_tiles_and_glyphs_are_problem_documents(
    client: TestClient, path: str, status: int
) -> None:
    r = client.get(path)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"]


def test_the_style_points_at_this_server_and_its_fonts_are_served(client: TestClient) -> None:
    r = client.get("/map/style.json")
    assert r.status_code == 200
    style = r.json()
    assert style["sources"]["tot"]["tiles"] == ["http://tot.test/tiles/{z}/{x}/{y}.mvt"]
    assert "OpenStreetMap" in style["sources"]["tot"]["attribution"]
    west, south, east, north = style["sources"]["tot"]["bounds"]
    assert 60.16 < south < north < 60.18 and 24.93 < west < east < 24.96
    for font in style_fonts(style):
        g = client.get(f"/map/fonts/{font},Arial Unicode MS Regular/1024-1279.pbf")
        assert g.status_code == 200 and len(g.content) > 10_000
        assert g.headers["cache-control"].startswith("public")
    unbundled = client.get("/map/fonts/DejaVu Sans Book/19968-20223.pbf")  # CJK: none
    assert unbundled.status_code == 200 and b"19968-20223" in unbundled.content


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    z=st.one_of(st.integers(-3, 40).map(str), st.text(max_size=6)),
    x=st.one_of(st.integers(-5, 1 << 20).map(str), st.text(max_size=6)),
    y=st.one_of(st.integers(-5, 1 << 20).map(str), st.text(max_size=6)),
)
def test_any_tile_path_is_a_tile_or_a_4xx(client: TestClient, z: str, x: str, y: str) -> None:
    if not all((z, x, y)):
        return  # an empty segment is another route
    z, x, y = (quote(s, safe="") for s in (z, x, y))
    r = client.get(f"/tiles/{z}/{x}/{y}.mvt")
    assert r.status_code in (200, 404), (z, x, y, r.status_code)
    if r.status_code == 404:
        assert r.headers["content-type"] == "application/problem+json"
    elif r.content:
        decode(r.content)


@pytest.fixture
async def api(helsinki_router: Router, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(helsinki_router, tmp_path, osm_path=HELSINKI_OSM_PATH) as a:
        yield a


async def test_map_info_is_public_and_describes_the_map(api: Api) -> None:
    r = await api.client.get("/api/v1/map/info")
    assert r.status_code == 200
    info = r.json()
    assert info["name"] == "helsinki" and info["max_zoom"] == MAX_ZOOM
    assert info["style_url"] == "/map/style.json" and set(info["layers"]) == set(LAYERS)
    api.app.state.ws_port = 18_766  # the web app opens its WebSockets where this says
    assert (await api.client.get("/api/v1/map/info")).json()["ws_port"] == 18_766
    b = info["bounds"]
    assert 60.1 < b["south"] < info["center"]["lat"] < b["north"] < 60.2
    assert "OpenStreetMap" in info["attribution"]
    tile = await api.client.get("/tiles/0/0/0.mvt")
    assert tile.status_code == 200 and tile.headers["etag"].endswith(f'{info["version"]}"')


def test_gzip_pays(helsinki: MapFeatures) -> None:
    data = render_tile(helsinki, *tile_of(60.1699, 24.9384, 15))
    assert len(gzip.compress(data)) < 0.7 * len(data)


def test_world_xy_matches_the_tile_scheme() -> None:
    # Null Island is the centre of the world; the tile grid's corner is (85.05, -180)
    x, y = world_xy(np.array([0.0, 85.05112878]), np.array([0.0, -180.0]))
    assert x.tolist() == pytest.approx([0.5, 0.0]) and y.tolist() == pytest.approx(
        [0.5, 0.0], abs=1e-9
    )
    assert math.isclose(tile_of(60.1699, 24.9384, 16)[1], 37307)
