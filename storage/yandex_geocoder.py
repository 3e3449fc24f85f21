"""The Geocoder port over the Yandex Geocoder HTTP API 1.x
(https://yandex.ru/dev/geocode/doc/ru/): GET /1.x/?apikey=&geocode=&format=json&lang=&results=.

Its points are "lon lat" (longitude first) in `Point.pos`; reverse geocoding passes
"lon,lat" as the query. The API key travels in the query string, so it is kept out of
every log record (a filter on httpx's loggers) and every error (messages never quote a
URL).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx

from geocoding import GeocodeResult, GeocoderUnavailableError, Kind, Language
from routing.geo import haversine_scalar_m
from storage.geocoder_http import DEFAULT_TIMEOUT, ProviderClient, as_float, valid_point

YANDEX_URL = "https://geocode-maps.yandex.ru"
LANGS = {"ru": "ru_RU", "en": "en_US"}
NEAR_SPAN_DEG = 0.3  # `near` as ll + spn: a bias toward that window, not a filter
_CITY_KINDS = ("locality",)
_STREET_KINDS = ("street",)


class YandexGeocoder:
    name = "yandex"

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = YANDEX_URL,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("the Yandex geocoder needs an API key (TOT_YANDEX_GEOCODER_KEY)")
        self._key = api_key
        self.http = ProviderClient(
            "Yandex",
            base_url.rstrip("/"),
            secret=api_key,
            timeout=timeout,
            transport=transport,
        )

    async def _query(self, geocode: str, results: int, language: Language, **extra: str) -> Any:
        params = {
            "apikey": self._key,
            "geocode": geocode,
            "format": "json",
            "lang": LANGS[language],
            "results": str(results),
            **extra,
        }
        return await self.http.get_json("/1.x/", params)

    async def search(
        self,
        query: str,
        *,
        near: tuple[float, float] | None = None,
        limit: int = 10,
        language: Language = "ru",
    ) -> list[GeocodeResult]:
        extra = {}
        if near is not None:
            extra = {
                "ll": f"{near[1]:.6f},{near[0]:.6f}",
                "spn": f"{NEAR_SPAN_DEG},{NEAR_SPAN_DEG}",
            }
        body = await self._query(query, limit, language, **extra)
        out = _results(body)[:limit]
        if near is not None:
            out = [_with_distance(r, near) for r in out]
        return out

    async def reverse(
        self, lat: float, lon: float, *, language: Language = "ru"
    ) -> GeocodeResult | None:
        body = await self._query(f"{lon:.7f},{lat:.7f}", 1, language, kind="house")
        out = _results(body)
        return _with_distance(out[0], (lat, lon)) if out else None

    async def close(self) -> None:
        await self.http.close()


def _results(body: Any) -> list[GeocodeResult]:
    try:
        members = body["response"]["GeoObjectCollection"]["featureMember"]
    except (KeyError, TypeError):
        raise GeocoderUnavailableError(
            "the Yandex geocoder sent an unexpected answer (no GeoObjectCollection)"
        ) from None
    if not isinstance(members, list):
        raise GeocoderUnavailableError("the Yandex geocoder sent an unexpected answer")
    out = []
    for rank, member in enumerate(members):
        result = _result(member, rank, len(members))
        if result is not None:
            out.append(result)
    return out


def _result(member: Any, rank: int, total: int) -> GeocodeResult | None:
    obj = member.get("GeoObject") if isinstance(member, dict) else None
    if not isinstance(obj, dict):
        return None
    point = obj.get("Point")
    pos = point.get("pos") if isinstance(point, dict) else None
    if not isinstance(pos, str) or len(pos.split()) != 2:
        return None
    lon, lat = (as_float(v) for v in pos.split())  # "lon lat": longitude first
    if not valid_point(lat, lon):
        return None
    assert lat is not None and lon is not None
    meta = obj.get("metaDataProperty")
    meta = meta.get("GeocoderMetaData") if isinstance(meta, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    address = meta.get("Address") if isinstance(meta.get("Address"), dict) else {}
    components = address.get("Components") if isinstance(address, dict) else None
    parts: dict[str, str] = {}
    for c in components if isinstance(components, list) else ():
        if (
            isinstance(c, dict)
            and isinstance(c.get("kind"), str)
            and isinstance(c.get("name"), str)
        ):
            parts.setdefault(c["kind"], c["name"])
    label = meta.get("text") if isinstance(meta.get("text"), str) else obj.get("name")
    if not isinstance(label, str) or not label.strip():
        return None
    house = parts.get("house")
    ykind = meta.get("kind")
    kind: Kind = "address" if house else "street" if ykind == "street" else "place"
    return GeocodeResult(
        label=label.strip(),
        kind=kind,
        lat=lat,
        lon=lon,
        street=next((parts[k] for k in _STREET_KINDS if k in parts), None),
        house_number=house,
        city=next((parts[k] for k in _CITY_KINDS if k in parts), None),
        score=round(1.0 - rank / max(total, 1), 4),  # Yandex gives ranks, not scores
    )


def _with_distance(result: GeocodeResult, point: tuple[float, float]) -> GeocodeResult:
    d = haversine_scalar_m(point[0], point[1], result.lat, result.lon)
    return replace(result, distance_m=round(d, 1))
