"""The Nominatim and Yandex adapters against local servers that speak each documented
response format, and fail on demand: timeouts, 5xx, malformed JSON, empty results,
refused keys. The Yandex API key never shows in an error or a log record."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from geocoding import GeocoderUnavailableError
from storage.geocoder_http import user_agent
from storage.nominatim import NominatimGeocoder
from storage.yandex_geocoder import YandexGeocoder

FAST = httpx.Timeout(connect=1.0, read=0.5, write=1.0, pool=1.0)
KEY = "test-key-5f1c0b7e-do-not-leak"


@dataclass
class Script:
    """What the local server answers, one entry per request (the last one repeats):
    (status, body bytes, seconds to wait first)."""

    answers: list[tuple[int, bytes, float]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = field(default_factory=list)

    def next(self) -> tuple[int, bytes, float]:
        index = min(len(self.requests) - 1, len(self.answers) - 1)
        return self.answers[index]


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            script.requests.append((url.path, parse_qs(url.query), dict(self.headers.items())))
            status, body, delay = script.next()
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def js(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


# -- Nominatim (jsonv2) ------------------------------------------------------------------

NOMINATIM_HOUSE = {
    "place_id": 123,
    "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
    "osm_type": "way",
    "osm_id": 456,
    "lat": "56.3254138",
    "lon": "44.0036151",
    "category": "building",
    "type": "yes",
    "place_rank": 30,
    "importance": 0.31,
    "addresstype": "building",
    "name": "",
    "display_name": "5, Большая Покровская улица, Нижний Новгород, Россия",
    "address": {
        "house_number": "5",
        "road": "Большая Покровская улица",
        "city": "Нижний Новгород",
        "country": "Россия",
        "country_code": "ru",
    },
    "boundingbox": ["56.32", "56.33", "44.00", "44.01"],
}
NOMINATIM_STREET = {
    **NOMINATIM_HOUSE,
    "category": "highway",
    "type": "pedestrian",
    "lat": "56.3211",
    "lon": "43.9993",
    "display_name": "Большая Покровская улица, Нижний Новгород, Россия",
    "address": {"road": "Большая Покровская улица", "city": "Нижний Новгород"},
}


async def test_nominatim_search_reads_jsonv2(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(200, js([NOMINATIM_HOUSE, NOMINATIM_STREET, {"broken": True}]), 0.0)]
    geocoder = NominatimGeocoder(url, contact="ops@tot.example.org", timeout=FAST)
    try:
        found = await geocoder.search("b pokrovskaya 5", near=(56.3269, 44.0065), limit=5)
    finally:
        await geocoder.close()
    assert [r.kind for r in found] == ["address", "street"]
    house = found[0]
    assert (house.lat, house.lon) == (56.3254138, 44.0036151)
    assert house.street == "Большая Покровская улица" and house.house_number == "5"
    assert house.city == "Нижний Новгород" and house.distance_m is not None
    path, query, headers = script.requests[0]
    assert path == "/search"
    assert query["q"] == ["b pokrovskaya 5"] and query["format"] == ["jsonv2"]
    assert query["limit"] == ["5"] and query["accept-language"] == ["ru"]
    west, north, east, south = (float(v) for v in query["viewbox"][0].split(","))
    assert west < 44.0065 < east and south < 56.3269 < north
    assert headers["User-Agent"] == user_agent("ops@tot.example.org")
    assert (
        "tot-dispatch" in headers["User-Agent"] and "ops@tot.example.org" in headers["User-Agent"]
    )


async def test_nominatim_reverse_and_nothing_there(server: tuple[str, Script]) -> None:
    url, script = server
    geocoder = NominatimGeocoder(url, timeout=FAST)
    try:
        script.answers = [(200, js(NOMINATIM_HOUSE), 0.0)]
        found = await geocoder.reverse(56.32541, 44.00362)
        assert found is not None and found.house_number == "5"
        _, query, _ = script.requests[0]
        assert script.requests[0][0] == "/reverse" and query["format"] == ["jsonv2"]
        assert float(query["lat"][0]) == pytest.approx(56.32541)
        assert float(query["lon"][0]) == pytest.approx(44.00362)
        script.answers = [(200, js({"error": "Unable to geocode"}), 0.0)]
        assert await geocoder.reverse(0.0, 0.0) is None
    finally:
        await geocoder.close()


async def test_nominatim_empty_results(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(200, b"[]", 0.0)]
    geocoder = NominatimGeocoder(url, timeout=FAST)
    try:
        assert await geocoder.search("nowhere at all") == []
    finally:
        await geocoder.close()


async def test_the_public_instance_gets_a_second_between_requests(
    server: tuple[str, Script],
) -> None:
    url, script = server
    script.answers = [(200, b"[]", 0.0)]
    geocoder = NominatimGeocoder(url, timeout=FAST, min_interval_s=0.4)
    try:
        started = time.monotonic()
        await geocoder.search("one")
        await geocoder.search("two")
        await geocoder.search("one")  # cached: no third request
        elapsed = time.monotonic() - started
    finally:
        await geocoder.close()
    assert len(script.requests) == 2 and elapsed >= 0.4
    public = NominatimGeocoder("https://nominatim.openstreetmap.org")
    assert public.http.min_interval_s == 1.0
    await public.close()


# -- faults, for both -------------------------------------------------------------------

YANDEX_HOUSE = {
    "response": {
        "GeoObjectCollection": {
            "metaDataProperty": {
                "GeocoderResponseMetaData": {"request": "x", "found": "1", "results": "10"}
            },
            "featureMember": [
                {
                    "GeoObject": {
                        "metaDataProperty": {
                            "GeocoderMetaData": {
                                "precision": "exact",
                                "text": "Россия, Нижний Новгород, Большая Покровская улица, 5",
                                "kind": "house",
                                "Address": {
                                    "country_code": "RU",
                                    "formatted": "Россия, Нижний Новгород, Большая Покровская улица, 5",
                                    "Components": [
                                        {"kind": "country", "name": "Россия"},
                                        {"kind": "province", "name": "Нижегородская область"},
                                        {"kind": "locality", "name": "Нижний Новгород"},
                                        {"kind": "street", "name": "Большая Покровская улица"},
                                        {"kind": "house", "name": "5"},
                                    ],
                                },
                            }
                        },
                        "name": "Большая Покровская улица, 5",
                        "description": "Нижний Новгород, Россия",
                        "Point": {"pos": "44.003615 56.325414"},
                    }
                },
                {"GeoObject": {"Point": {"pos": "not a point"}}},
            ],
        }
    }
}
YANDEX_EMPTY = {
    "response": {
        "GeoObjectCollection": {
            "metaDataProperty": {"GeocoderResponseMetaData": {"found": "0"}},
            "featureMember": [],
        }
    }
}


def nominatim(url: str) -> NominatimGeocoder:
    return NominatimGeocoder(url, timeout=FAST)


def yandex(url: str) -> YandexGeocoder:
    return YandexGeocoder(KEY, base_url=url, timeout=FAST)


MAKERS: dict[str, tuple[Callable[[str], Any], bytes]] = {
    "nominatim": (nominatim, js([NOMINATIM_HOUSE])),
    "yandex": (yandex, js(YANDEX_HOUSE)),
}


@pytest.fixture(params=sorted(MAKERS))
def provider(request: pytest.FixtureRequest) -> tuple[Callable[[str], Any], bytes]:
    return MAKERS[request.param]


async def _search(make: Callable[[str], Any], url: str) -> Any:
    geocoder = make(url)
    try:
        return await geocoder.search("Большая Покровская 5")
    finally:
        await geocoder.close()


async def test_a_5xx_is_retried_once(
    server: tuple[str, Script], provider: tuple[Callable[[str], Any], bytes]
) -> None:
    url, script = server
    make, good = provider
    script.answers = [(502, b"<html>bad gateway</html>", 0.0), (200, good, 0.0)]
    found = await _search(make, url)
    assert found[0].house_number == "5" and len(script.requests) == 2


async def test_a_timeout_is_retried_once(
    server: tuple[str, Script], provider: tuple[Callable[[str], Any], bytes]
) -> None:
    url, script = server
    make, good = provider
    script.answers = [(200, good, 1.5), (200, good, 0.0)]
    found = await _search(make, url)
    assert found[0].house_number == "5" and len(script.requests) == 2


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        ([(500, b"oops", 0.0)], "failed (HTTP 500)"),
        ([(200, b"x", 1.5)], "timed out"),
        ([(200, b"{not json", 0.0)], "unreadable answer"),
        ([(429, b"{}", 0.0)], "rate limiting"),
        (
            [(403, js({"statusCode": 403, "error": "Forbidden", "message": "Invalid key"}), 0.0)],
            "refused our credentials",
        ),
        ([(400, b"{}", 0.0)], "refused the request (HTTP 400)"),
        ([(200, js({"unexpected": "shape"}), 0.0)], "unexpected answer"),
    ],
)
async def test_provider_failures_are_clear(
    server: tuple[str, Script],
    provider: tuple[Callable[[str], Any], bytes],
    answers: list[tuple[int, bytes, float]],
    words: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, script = server
    make, _ = provider
    script.answers = answers
    caplog.set_level(logging.DEBUG)
    if words == "unexpected answer" and make is nominatim:
        script.answers = [(200, js({"shape": "not a list"}), 0.0)]
    with pytest.raises(GeocoderUnavailableError) as raised:
        await _search(make, url)
    assert words in str(raised.value)
    assert KEY not in str(raised.value) and KEY not in repr(raised.value.__cause__)
    assert all(KEY not in record.getMessage() for record in caplog.records)
    if words.startswith(("failed", "timed")):
        assert len(script.requests) == 2  # tried twice
    else:
        assert len(script.requests) == 1


async def test_a_dead_provider_is_unavailable(
    provider: tuple[Callable[[str], Any], bytes],
) -> None:
    make, _ = provider
    with pytest.raises(GeocoderUnavailableError, match="could not be reached"):
        await _search(make, "http://127.0.0.1:9")  # discard port: nothing listens


# -- Yandex specifics -------------------------------------------------------------------


async def test_yandex_reads_lon_lat_in_that_order(
    server: tuple[str, Script], caplog: pytest.LogCaptureFixture
) -> None:
    url, script = server
    script.answers = [(200, js(YANDEX_HOUSE), 0.0)]
    caplog.set_level(logging.DEBUG)
    geocoder = yandex(url)
    try:
        found = await geocoder.search("Большая Покровская 5", near=(56.3269, 44.0065), limit=3)
    finally:
        await geocoder.close()
    assert len(found) == 1
    house = found[0]
    assert (house.lat, house.lon) == (56.325414, 44.003615)  # "pos": "lon lat"
    assert house.label == "Россия, Нижний Новгород, Большая Покровская улица, 5"
    assert (house.street, house.house_number, house.city) == (
        "Большая Покровская улица",
        "5",
        "Нижний Новгород",
    )
    assert house.kind == "address" and house.distance_m is not None
    path, query, _ = script.requests[0]
    assert path == "/1.x/" and query["apikey"] == [KEY] and query["format"] == ["json"]
    assert query["lang"] == ["ru_RU"] and query["results"] == ["3"]
    assert query["ll"] == ["44.006500,56.326900"]  # lon,lat
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx logged it...
    assert all(KEY not in r.getMessage() for r in caplog.records)  # ...without the key


async def test_yandex_reverse_sends_lon_comma_lat(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(200, js(YANDEX_HOUSE), 0.0)]
    geocoder = yandex(url)
    try:
        found = await geocoder.reverse(56.3254, 44.0036, language="en")
        script.answers = [(200, js(YANDEX_EMPTY), 0.0)]
        nothing = await geocoder.reverse(0.0, 0.0)
    finally:
        await geocoder.close()
    assert found is not None and found.house_number == "5"
    _, query, _ = script.requests[0]
    assert query["geocode"] == ["44.0036000,56.3254000"] and query["lang"] == ["en_US"]
    assert nothing is None


async def test_yandex_empty_results(server: tuple[str, Script]) -> None:
    url, script = server
    script.answers = [(200, js(YANDEX_EMPTY), 0.0)]
    assert await _search(yandex, url) == []


def test_yandex_needs_a_key() -> None:
    with pytest.raises(ValueError, match="TOT_YANDEX_GEOCODER_KEY"):
        YandexGeocoder("")
