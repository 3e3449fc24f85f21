"""/geocode: addresses to points (search, typo-tolerant, Cyrillic or Latin) and points to
addresses (reverse), for any signed-in account.

Who: patients typing their address, operators taking a call, doctors. Signed-in only and
rate-limited per account (TOT_GEOCODE_RATE_PER_MIN): the default answers from the map in
memory, but a production provider is paid or policed per request."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from api.openapi import problems
from api.routes.common import enforce
from api.schemas import NOT_BLANK, Output, Problem
from api.security import AnyUserDep, RuntimeDep
from geocoding import MAX_LIMIT, MAX_QUERY_CHARS, GeocodeResult
from storage.rate_limit import RateLimit

router = APIRouter(prefix="/geocode", tags=["geocode"])

# "lat,lon" in degrees, each within its range: -90..90, -180..180
_LAT = r"-?(?:90(?:\.0+)?|[1-8]?[0-9](?:\.[0-9]+)?)"
_LON = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[1-9]?[0-9])(?:\.[0-9]+)?)"
NEAR_PATTERN = rf"^{_LAT},{_LON}$"

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": Problem,
        "description": "the geocoder cannot answer now (a provider is down, slow or refuses "
        "us; the offline index cannot be built); see Retry-After",
        "headers": {
            "Retry-After": {
                "description": "seconds to wait before trying again",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    }
}


class GeocodeResultOut(Output):
    label: str = Field(
        description="the whole address or name, to show",
        examples=["Большая Покровская улица, 5, Нижний Новгород"],
    )
    kind: Literal["address", "street", "place"] = Field(
        description="address: a house; street: a street without a number (the number asked "
        "for was not found, or none was asked); place: a named place"
    )
    street: str | None = Field(
        description="the street (or place) the house is on; the street's name",
        examples=["Большая Покровская улица"],
    )
    house_number: str | None = Field(
        description="as the map writes it: 5, 5а, 27/4, 165 к13", examples=["5"]
    )
    city: str | None = Field(examples=["Нижний Новгород"])
    lat: float = Field(ge=-90, le=90, examples=[56.325414])
    lon: float = Field(ge=-180, le=180, examples=[44.003615])
    score: float = Field(
        ge=0, le=1, description="how well it matches, 0-1; compare within one answer only"
    )
    distance_m: float | None = Field(
        ge=0,
        description="metres from `near` (search, when given) or from the point (reverse)",
        examples=[120.5],
    )


class GeocodeSearchOut(Output):
    query: str = Field(examples=["b pokrovskaya 5"])
    provider: str = Field(description="offline, nominatim or yandex", examples=["offline"])
    attribution: str = Field(examples=["Map data © OpenStreetMap contributors, ODbL 1.0"])
    results: list[GeocodeResultOut] = Field(description="best first; empty when nothing fits")


class GeocodeReverseOut(Output):
    provider: str = Field(examples=["offline"])
    attribution: str = Field(examples=["Map data © OpenStreetMap contributors, ODbL 1.0"])
    result: GeocodeResultOut | None = Field(
        description="the building at the point, else the nearest address within 60 m, else "
        "the nearest named street within 250 m, else the nearest place within 2 km; null "
        "when there is none"
    )


def _out(result: GeocodeResult) -> GeocodeResultOut:
    return GeocodeResultOut(
        label=result.label,
        kind=result.kind,
        street=result.street,
        house_number=result.house_number,
        city=result.city,
        lat=round(result.lat, 7),
        lon=round(result.lon, 7),
        score=round(min(max(result.score, 0.0), 1.0), 4),
        distance_m=None if result.distance_m is None else round(max(result.distance_m, 0.0), 1),
    )


@router.get(
    "/search",
    summary="Find addresses, streets and places by text (typo-tolerant; Cyrillic or Latin)",
    responses={**problems(422, 429), **_UNAVAILABLE},
)
async def search(
    who: AnyUserDep,
    runtime: RuntimeDep,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            pattern=NOT_BLANK,
            description="free text: street and house number, in Cyrillic or Latin letters, "
            "abbreviated or not (ул. Минина 5, b pokrovskaya 5, Bol'shaya Pokrovskaya ul 5 к1)",
            examples=["Большая Покровская 5"],
        ),
    ],
    near: Annotated[
        str | None,
        Query(
            pattern=NEAR_PATTERN,
            description="lat,lon in degrees: results near it rank higher, with distance_m",
            examples=["56.3269,44.0065"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10,
    lang: Annotated[
        Literal["ru", "en"],
        Query(description="ru: names as on the map; en: in Latin letters (or name:en)"),
    ] = "ru",
) -> GeocodeSearchOut:
    config = runtime.config
    await enforce(
        runtime, "geocode", [f"user:{who.user_id}"], RateLimit(config.geocode_rate_per_min, 60)
    )
    point = None
    if near is not None:
        lat_text, lon_text = near.split(",")
        point = (float(lat_text), float(lon_text))
    found = await runtime.geocoding.search(q, near=point, limit=limit, language=lang)
    return GeocodeSearchOut(
        query=q,
        provider=runtime.geocoding.provider,
        attribution=runtime.geocoding.attribution,
        results=[_out(r) for r in found],
    )


@router.get(
    "/reverse",
    summary="What is at a point: the address, else the nearest street or place",
    responses={**problems(422, 429), **_UNAVAILABLE},
)
async def reverse(
    who: AnyUserDep,
    runtime: RuntimeDep,
    lat: Annotated[float, Query(ge=-90, le=90, examples=[56.325414])],
    lon: Annotated[float, Query(ge=-180, le=180, examples=[44.003615])],
    lang: Annotated[Literal["ru", "en"], Query()] = "ru",
) -> GeocodeReverseOut:
    config = runtime.config
    await enforce(
        runtime, "geocode", [f"user:{who.user_id}"], RateLimit(config.geocode_rate_per_min, 60)
    )
    found = await runtime.geocoding.reverse(lat, lon, language=lang)
    return GeocodeReverseOut(
        provider=runtime.geocoding.provider,
        attribution=runtime.geocoding.attribution,
        result=None if found is None else _out(found),
    )
