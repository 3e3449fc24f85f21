"""GET /api/v1/geocode/search and /reverse through the real app: who may call, what
comes back, bad input as 422 problems, rate limits, a provider that is down as 503; and
the offline index on the bundled Nizhny Novgorod extract (cache, clipped files)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geocoding import GeocodeIndex, GeocodeResult, GeocoderUnavailableError, Language
from routing import Router
from services.geocoding import (
    GeocodingConfig,
    GeocodingService,
    load_gazetteer,
)
from storage.gazetteer_cache import GazetteerCache
from storage.osm_addresses import read_gazetteer
from storage.osm_pbf import OsmFileError
from tests.api_harness import Api, running_api
from tests.conftest import PROJECT_ROOT

NN_OSM = PROJECT_ROOT / "data" / "osm" / "nizhny_novgorod_center.osm.pbf"
SEARCH = "/api/v1/geocode/search"
REVERSE = "/api/v1/geocode/reverse"


@pytest.fixture
async def api(helsinki_router: Router, tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(helsinki_router, tmp_path, geocode_rate_per_min=1_000) as api:
        yield api


@pytest.fixture
async def token(api: Api) -> str:
    return (await api.patient())[1]


async def test_search_answers_with_addresses(api: Api, token: str) -> None:
    r = await api.client.get(
        SEARCH,
        params={"q": "Mannerheimintie 1", "near": "60.17,24.94", "limit": 3},
        headers=api.auth(token),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "Mannerheimintie 1" and body["provider"] == "offline"
    assert "OpenStreetMap" in body["attribution"]
    first = body["results"][0]
    assert first["kind"] == "address" and first["street"] == "Mannerheimintie"
    assert first["house_number"] == "1" and first["city"] == "Helsinki"
    assert first["label"] == "Mannerheimintie, 1, Helsinki"
    assert set(first) == {
        "label", "kind", "street", "house_number", "city", "lat", "lon", "score", "distance_m"
    }  # fmt: skip
    assert 0 < first["score"] <= 1 and first["distance_m"] > 0
    assert len(body["results"]) <= 3


async def test_without_near_there_is_no_distance(api: Api, token: str) -> None:
    r = await api.client.get(SEARCH, params={"q": "Mannerheimintie"}, headers=api.auth(token))
    assert r.status_code == 200
    assert r.json()["results"][0]["distance_m"] is None


async def test_every_role_may_search_and_nobody_anonymous(api: Api) -> None:
    for role in ("patient", "doctor", "operator"):
        if role == "patient":
            token = (await api.patient())[1]
        elif role == "doctor":
            token = (await api.doctor())[1]
        else:
            token = (await api.staff("operator"))[1]
        r = await api.client.get(SEARCH, params={"q": "kaivokatu"}, headers=api.auth(token))
        assert r.status_code == 200, (role, r.text)
    for path, params in ((SEARCH, {"q": "kaivokatu"}), (REVERSE, {"lat": 60.17, "lon": 24.94})):
        r = await api.client.get(path, params=params)
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 201},
        {"q": "a\x00b"},
        {},
        {"q": "kaivokatu", "near": "60.17"},
        {"q": "kaivokatu", "near": "91,24"},
        {"q": "kaivokatu", "near": "60.17,181"},
        {"q": "kaivokatu", "near": "abc,def"},
        {"q": "kaivokatu", "limit": 0},
        {"q": "kaivokatu", "limit": 21},
        {"q": "kaivokatu", "lang": "de"},
    ],
)
async def test_bad_searches_are_422_problems(
    api: Api, token: str, params: dict[str, object]
) -> None:
    r = await api.client.get(SEARCH, params=params, headers=api.auth(token))  # type: ignore[arg-type]
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 422


@pytest.mark.parametrize(
    "params",
    [{"lat": 91, "lon": 0}, {"lat": 0, "lon": -181}, {"lat": "nan", "lon": 0}, {"lat": 60.1}],
)
async def test_bad_reverse_is_422(api: Api, token: str, params: dict[str, object]) -> None:
    r = await api.client.get(REVERSE, params=params, headers=api.auth(token))  # type: ignore[arg-type]
    assert r.status_code == 422, r.text


async def test_reverse_reads_a_pin_as_an_address(api: Api, token: str) -> None:
    r = await api.client.get(
        REVERSE, params={"lat": 60.1699, "lon": 24.9384}, headers=api.auth(token)
    )
    assert r.status_code == 200, r.text
    result = r.json()["result"]
    assert result["kind"] == "address" and result["street"] == "Mannerheimintie"
    assert 0 <= result["distance_m"] <= 60
    r = await api.client.get(REVERSE, params={"lat": -45.0, "lon": 170.0}, headers=api.auth(token))
    assert r.status_code == 200 and r.json()["result"] is None


async def test_searches_are_rate_limited_per_account(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with running_api(helsinki_router, tmp_path, geocode_rate_per_min=3) as api:
        one, other = (await api.patient())[1], (await api.patient())[1]
        codes = [
            (
                await api.client.get(SEARCH, params={"q": "kaivokatu"}, headers=api.auth(one))
            ).status_code
            for _ in range(4)
        ]
        assert codes == [200, 200, 200, 429]
        r = await api.client.get(
            REVERSE, params={"lat": 60.17, "lon": 24.94}, headers=api.auth(one)
        )
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        r = await api.client.get(SEARCH, params={"q": "kaivokatu"}, headers=api.auth(other))
        assert r.status_code == 200


class DownGeocoder:
    name = "nominatim"

    async def search(
        self,
        query: str,
        *,
        near: tuple[float, float] | None = None,
        limit: int = 10,
        language: Language = "ru",
    ) -> list[GeocodeResult]:
        raise GeocoderUnavailableError("the Nominatim geocoder timed out", 7.0)

    async def reverse(
        self, lat: float, lon: float, *, language: Language = "ru"
    ) -> GeocodeResult | None:
        raise GeocoderUnavailableError("the Nominatim geocoder failed (HTTP 502)")

    async def close(self) -> None:
        return None


async def test_a_provider_that_is_down_is_503_with_retry_after(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        api.runtime.geocoding = GeocodingService(GeocodingConfig(), DownGeocoder())
        token = (await api.patient())[1]
        r = await api.client.get(SEARCH, params={"q": "kaivokatu"}, headers=api.auth(token))
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "7"
        assert r.json()["detail"] == "the Nominatim geocoder timed out"
        r = await api.client.get(
            REVERSE, params={"lat": 60.17, "lon": 24.94}, headers=api.auth(token)
        )
        assert r.status_code == 503 and "HTTP 502" in r.json()["detail"]


async def test_a_missing_map_is_503_not_500(helsinki_router: Router, tmp_path: Path) -> None:
    async with running_api(helsinki_router, tmp_path, osm_path=tmp_path / "gone.osm.pbf") as api:
        token = (await api.patient())[1]
        r = await api.client.get(SEARCH, params={"q": "kaivokatu"}, headers=api.auth(token))
        assert r.status_code == 503, r.text
        assert "no such file" in r.json()["detail"] and int(r.headers["Retry-After"]) >= 1


def test_the_routes_are_documented() -> None:
    from api.app import create_app

    document = create_app(lambda: None).openapi()  # type: ignore[arg-type, return-value]
    search = document["paths"][SEARCH]["get"]
    names = {p["name"]: p for p in search["parameters"]}
    assert set(names) == {"q", "near", "limit", "lang"}
    assert names["q"]["required"] and names["q"]["schema"]["maxLength"] == 200
    assert {"200", "401", "422", "429", "503", "500"} <= set(search["responses"])
    assert "Retry-After" in search["responses"]["503"]["headers"]
    reverse = document["paths"][REVERSE]["get"]
    assert {p["name"] for p in reverse["parameters"]} == {"lat", "lon", "lang"}


# -- the offline index on the bundled map ---------------------------------------------


@pytest.fixture(scope="module")
def nn_index(tmp_path_factory: pytest.TempPathFactory) -> GeocodeIndex:
    loaded = load_gazetteer(NN_OSM, tmp_path_factory.mktemp("geocode-cache"))
    return GeocodeIndex(loaded.gazetteer)


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("Большая Покровская 5", "Большая Покровская улица, 5, Нижний Новгород"),
        ("b pokrovskaya 5", "Большая Покровская улица, 5, Нижний Новгород"),
        ("ulitsa Bolshaya Pokrovskaya 5", "Большая Покровская улица, 5, Нижний Новгород"),
        ("Bol'shaya Pokrovskaya ul 5", "Большая Покровская улица, 5, Нижний Новгород"),
        ("ул. Минина, д. 27/4", "улица Минина, 27/4, Нижний Новгород"),
        ("minina 27/4", "улица Минина, 27/4, Нижний Новгород"),
        ("Varvarskaya 12", "Варварская улица, 12, Нижний Новгород"),
        ("Нижний Новгород, Ильинская 50", "Ильинская улица, 50, Нижний Новгород"),
        ("Pechyorskiy s'ezd", "Печёрский съезд, Нижний Новгород"),
        ("Ильнская", "Ильинская улица, Нижний Новгород"),
    ],
)
def test_the_bundled_map(nn_index: GeocodeIndex, query: str, label: str) -> None:
    assert nn_index.search(query)[0].label == label


def test_the_bundled_map_reverse(nn_index: GeocodeIndex) -> None:
    house = nn_index.search("Большая Покровская 5")[0]
    found = nn_index.reverse(house.lat, house.lon)
    assert found is not None and found.label == house.label and found.distance_m == 0.0


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.floats(56.29, 56.333), st.floats(43.966, 44.082))
def test_any_pin_on_the_map_reads_as_something_near(
    nn_index: GeocodeIndex, lat: float, lon: float
) -> None:
    found = nn_index.reverse(lat, lon)
    if found is not None:
        assert found.distance_m is not None and math.isfinite(found.distance_m)
        assert found.distance_m <= 2_000


def test_the_gazetteer_is_cached_and_a_bad_cache_rebuilt(tmp_path: Path) -> None:
    helsinki = PROJECT_ROOT / "data" / "osm" / "helsinki.osm.pbf"
    first = load_gazetteer(helsinki, tmp_path)
    again = load_gazetteer(helsinki, tmp_path)
    assert not first.cache_hit and again.cache_hit
    assert again.gazetteer.addr_street == first.gazetteer.addr_street
    assert first.cache_path.parent == tmp_path and "-geocode-" in first.cache_path.name
    first.cache_path.write_bytes(b"not a zip file")
    assert GazetteerCache(tmp_path).load(first.cache_path) is None
    rebuilt = load_gazetteer(helsinki, tmp_path)
    assert (
        not rebuilt.cache_hit and rebuilt.gazetteer.address_count == first.gazetteer.address_count
    )


CLIPPED = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6" generator="test">
  <node id="1" lat="56.30" lon="44.00"/>
  <node id="2" lat="56.30" lon="44.01"/>
  <node id="3" lat="56.301" lon="44.001"/>
  <node id="4" lat="56.301" lon="44.002"/>
  <node id="5" lat="56.302" lon="44.002"/>
  <node id="10" lat="56.3005" lon="44.005"><tag k="addr:street" v="улица Минина"/><tag k="addr:housenumber" v="3"/></node>
  <way id="100"><nd ref="1"/><nd ref="2"/><nd ref="999"/><tag k="highway" v="residential"/><tag k="name" v="улица Минина"/></way>
  <way id="101"><nd ref="3"/><nd ref="4"/><nd ref="5"/><nd ref="998"/><nd ref="3"/><tag k="building" v="yes"/><tag k="addr:street" v="улица Минина"/><tag k="addr:housenumber" v="5"/></way>
  <way id="102"><nd ref="997"/><nd ref="996"/><tag k="highway" v="residential"/><tag k="name" v="Пустая улица"/></way>
  <relation id="200"><member type="way" ref="555" role="outer"/><tag k="type" v="multipolygon"/><tag k="building" v="yes"/><tag k="addr:street" v="улица Минина"/><tag k="addr:housenumber" v="7"/></relation>
</osm>
"""


def test_a_clipped_extract_does_not_fail(tmp_path: Path) -> None:
    path = tmp_path / "clipped.osm"
    path.write_text(CLIPPED)
    gazetteer = read_gazetteer(path)
    assert sorted(gazetteer.addr_house) == ["3", "5"]  # the relation has no members here
    assert gazetteer.way_name == ["улица Минина"]  # the way with no nodes here is left out
    index = GeocodeIndex(gazetteer)
    assert index.search("Минина 5")[0].house_number == "5"


def test_not_a_map(tmp_path: Path) -> None:
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x01 not osm")
    with pytest.raises(OsmFileError):
        read_gazetteer(bad)
    with pytest.raises(OsmFileError, match="no such file"):
        read_gazetteer(tmp_path / "missing.osm.pbf")


def test_settings_name_what_a_provider_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from tot.server import runtime_config
    from tot.settings import Settings

    monkeypatch.setenv("TOT_GEOCODER", "nominatim")
    with pytest.raises(ValidationError, match="TOT_NOMINATIM_URL"):
        Settings()
    monkeypatch.setenv("TOT_GEOCODER", "yandex")
    with pytest.raises(ValidationError, match="TOT_YANDEX_GEOCODER_KEY"):
        Settings()
    monkeypatch.setenv("TOT_YANDEX_GEOCODER_KEY", "secret-key-123")
    settings = Settings()
    assert "secret-key-123" not in repr(settings)
    config = runtime_config(settings)
    assert config.geocoder == "yandex" and config.yandex_geocoder_key == "secret-key-123"
    assert "secret-key-123" not in repr(config)
    monkeypatch.delenv("TOT_GEOCODER")
    assert Settings().geocoder == "offline"
