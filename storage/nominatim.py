"""The Geocoder port over a Nominatim-compatible service (Nominatim's own, Photon's
Nominatim mode, a self-hosted instance): /search and /reverse with format=jsonv2.

Usage policy (https://operations.osmfoundation.org/policies/nominatim/) honoured by
design: every request names this application in its User-Agent (with a contact when
TOT_GEOCODER_CONTACT is set); on the public instance requests are at least a second
apart (one at a time, in turn) and identical questions are answered from a cache for an
hour; nothing is fetched in bulk (search and reverse only, on a user's request). A
self-hosted instance gets no spacing. Results carry the data's ODbL attribution through
the API's `attribution` field.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from geocoding import GeocodeResult, GeocoderUnavailableError, Kind, Language
from routing.geo import haversine_scalar_m
from storage.geocoder_http import DEFAULT_TIMEOUT, ProviderClient, as_float, valid_point

PUBLIC_HOSTS = frozenset({"nominatim.openstreetmap.org"})
VIEWBOX_HALF_DEG = 0.15  # `near` becomes a viewbox this far around the point (a bias only)
_STREET_KEYS = ("road", "pedestrian", "footway", "residential", "square", "place")
_CITY_KEYS = ("city", "town", "village", "hamlet", "municipality")


class NominatimGeocoder:
    name = "nominatim"

    def __init__(
        self,
        base_url: str,
        *,
        contact: str | None = None,
        min_interval_s: float | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if min_interval_s is None:
            min_interval_s = 1.0 if urlsplit(base_url).hostname in PUBLIC_HOSTS else 0.0
        self.http = ProviderClient(
            "Nominatim",
            base_url.rstrip("/"),
            contact=contact,
            min_interval_s=min_interval_s,
            timeout=timeout,
            transport=transport,
        )

    async def search(
        self,
        query: str,
        *,
        near: tuple[float, float] | None = None,
        limit: int = 10,
        language: Language = "ru",
    ) -> list[GeocodeResult]:
        params = {
            "q": query,
            "format": "jsonv2",
            "limit": str(limit),
            "addressdetails": "1",
            "accept-language": language,
        }
        if near is not None:
            lat, lon = near
            params["viewbox"] = ",".join(
                f"{v:.6f}"
                for v in (
                    lon - VIEWBOX_HALF_DEG,
                    lat + VIEWBOX_HALF_DEG,
                    lon + VIEWBOX_HALF_DEG,
                    lat - VIEWBOX_HALF_DEG,
                )
            )
        body = await self.http.get_json("/search", params)
        if not isinstance(body, list):
            raise GeocoderUnavailableError("the Nominatim geocoder sent an unexpected answer")
        out = [r for r in (_result(item) for item in body[:limit]) if r is not None]
        if near is not None:
            out = [_with_distance(r, near) for r in out]
        return out

    async def reverse(
        self, lat: float, lon: float, *, language: Language = "ru"
    ) -> GeocodeResult | None:
        params = {
            "lat": f"{lat:.7f}",
            "lon": f"{lon:.7f}",
            "format": "jsonv2",
            "addressdetails": "1",
            "accept-language": language,
        }
        body = await self.http.get_json("/reverse", params)
        if not isinstance(body, dict) or "error" in body:
            return None  # {"error": "Unable to geocode"}: nothing there
        result = _result(body)
        return None if result is None else _with_distance(result, (lat, lon))

    async def close(self) -> None:
        await self.http.close()


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _result(item: Any) -> GeocodeResult | None:
    """One jsonv2 place; None when it lacks a usable point or name."""
    if not isinstance(item, dict):
        return None
    lat, lon = as_float(item.get("lat")), as_float(item.get("lon"))
    label = _text(item.get("display_name"))
    if not valid_point(lat, lon) or label is None:
        return None
    assert lat is not None and lon is not None
    details = item.get("address")
    address: dict[str, Any] = details if isinstance(details, dict) else {}
    house = _text(address.get("house_number"))
    street = next((s for k in _STREET_KEYS if (s := _text(address.get(k)))), None)
    city = next((c for k in _CITY_KEYS if (c := _text(address.get(k)))), None)
    category = item.get("category") or item.get("class")
    kind: Kind = "address" if house else "street" if category == "highway" else "place"
    if kind == "street" and street is None:
        street = _text(item.get("name"))
    importance = as_float(item.get("importance"))
    return GeocodeResult(
        label=label,
        kind=kind,
        lat=lat,
        lon=lon,
        street=street,
        house_number=house,
        city=city,
        score=round(min(max(importance or 0.0, 0.0), 1.0), 4),
    )


def _with_distance(result: GeocodeResult, point: tuple[float, float]) -> GeocodeResult:
    d = haversine_scalar_m(point[0], point[1], result.lat, result.lon)
    return replace(result, distance_m=round(d, 1))
