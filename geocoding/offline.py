"""The offline adapter of the Geocoder port: the index built from the served extract."""

from __future__ import annotations

from geocoding.index import GeocodeIndex
from geocoding.model import GeocodeResult, Language


class OfflineGeocoder:
    """Answers from memory in well under a millisecond to a few; nothing leaves the
    process. The async methods do not wait on anything."""

    name = "offline"

    def __init__(self, index: GeocodeIndex) -> None:
        self.index = index

    async def search(
        self,
        query: str,
        *,
        near: tuple[float, float] | None = None,
        limit: int = 10,
        language: Language = "ru",
    ) -> list[GeocodeResult]:
        return self.index.search(query, near=near, limit=limit, language=language)

    async def reverse(
        self, lat: float, lon: float, *, language: Language = "ru"
    ) -> GeocodeResult | None:
        return self.index.reverse(lat, lon, language=language)

    async def close(self) -> None:
        return None
