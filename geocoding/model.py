"""What a geocoder answers, its port, and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Kind = Literal["address", "street", "place"]
Language = Literal["ru", "en"]

MAX_QUERY_CHARS = 200
MAX_LIMIT = 20


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    """One answer: an address (a house), a street (no number) or a named place."""

    label: str  # what to show: "Большая Покровская улица, 5, Нижний Новгород"
    kind: Kind
    lat: float
    lon: float
    street: str | None = None  # the street (or addr:place) of an address; a street's name
    house_number: str | None = None  # as the map writes it: "5а", "27/4", "165 к13"
    city: str | None = None
    score: float = 0.0  # 0..1, higher is better; comparable within one answer only
    distance_m: float | None = None  # from `near` (search) or from the point (reverse)


class GeocoderError(Exception):
    """Base of what a geocoder raises."""


class InvalidQueryError(GeocoderError, ValueError):
    """The question cannot be asked: an empty or too long query, a bad coordinate (422)."""


class GeocoderUnavailableError(GeocoderError):
    """The geocoder cannot answer now: a provider timed out, failed (5xx), refused our
    key, or sent something unreadable; or the offline index could not be built (503)."""

    def __init__(self, detail: str, retry_after_s: float = 5.0) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s


class Geocoder(Protocol):
    """The port: addresses to points and back. Coordinates are (lat, lon) in degrees."""

    name: str

    async def search(
        self,
        query: str,
        *,
        near: tuple[float, float] | None = None,
        limit: int = 10,
        language: Language = "ru",
    ) -> list[GeocodeResult]:
        """The best matches for free text, best first; `near` biases toward a point."""
        ...

    async def reverse(
        self, lat: float, lon: float, *, language: Language = "ru"
    ) -> GeocodeResult | None:
        """What is at (lat, lon): the address there, else the nearest named street or
        place; None when nothing is near enough."""
        ...

    async def close(self) -> None:
        """Release what the geocoder holds (connections)."""
        ...


def check_query(query: str, limit: int) -> str:
    """The query stripped; InvalidQueryError when empty, too long or holding NUL."""
    if not isinstance(query, str):
        raise InvalidQueryError("the query must be text")
    stripped = query.strip()
    if not stripped:
        raise InvalidQueryError("the query is empty")
    if len(stripped) > MAX_QUERY_CHARS:
        raise InvalidQueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if "\x00" in stripped:
        raise InvalidQueryError("the query holds a NUL character")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQueryError(f"limit must be from 1 to {MAX_LIMIT}")
    return stripped
