"""Geocoding for the edges: addresses to points and back, through the configured geocoder
(TOT_GEOCODER: the offline index of the served extract by default; Nominatim or Yandex
for production), with the question checked and the provider's failures made clear."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from geocoding import (
    Gazetteer,
    GeocodeIndex,
    Geocoder,
    GeocodeResult,
    GeocoderUnavailableError,
    InvalidQueryError,
    Language,
    OfflineGeocoder,
    check_query,
)
from routing import InvalidCoordinateError, validate_lat_lon
from routing.geo import haversine_scalar_m
from services.bookings import InvalidRequestError
from services.errors import StorageUnavailableError
from storage.gazetteer_cache import GazetteerCache, gazetteer_cache_key
from storage.graph_cache import file_sha256
from storage.osm_addresses import read_gazetteer
from storage.osm_pbf import OsmFileError, check_osm_path

log = logging.getLogger(__name__)

Provider = Literal["offline", "nominatim", "yandex"]
PROVIDERS: tuple[Provider, ...] = ("offline", "nominatim", "yandex")
RETRY_LOAD_AFTER_S = 30.0
ATTRIBUTION = {
    "offline": "Map data © OpenStreetMap contributors, ODbL 1.0",
    "nominatim": "Data © OpenStreetMap contributors, ODbL 1.0 (Nominatim)",
    "yandex": "© Yandex",
}


class GeocoderDownError(StorageUnavailableError):
    """The geocoder cannot answer now (a provider is down, slow or refuses us; the
    offline index cannot be built): 503 with Retry-After, like storage that is away."""


@dataclass(frozen=True, slots=True)
class GeocodingConfig:
    provider: Provider = "offline"
    osm_path: Path | None = None  # the offline index's extract
    cache_dir: Path | None = None  # where its gazetteer is cached (the graph cache's)
    nominatim_url: str | None = None
    yandex_key: str | None = None
    contact: str | None = None  # in the User-Agent, as Nominatim's policy asks


@dataclass(frozen=True, slots=True)
class LoadedGazetteer:
    gazetteer: Gazetteer
    cache_path: Path
    cache_hit: bool
    seconds: float


def load_gazetteer(
    osm_path: Path, cache_dir: Path, *, force_rebuild: bool = False
) -> LoadedGazetteer:
    """The gazetteer of `osm_path`: from the cache when current, else read and cached."""
    started = time.perf_counter()
    check_osm_path(osm_path)
    cache = GazetteerCache(cache_dir)
    path = cache.path_for(osm_path, gazetteer_cache_key(file_sha256(osm_path)))
    gazetteer = None if force_rebuild else cache.load(path)
    if gazetteer is not None:
        return LoadedGazetteer(gazetteer, path, True, time.perf_counter() - started)
    log.info("reading addresses, streets and places from %s", osm_path)
    gazetteer = read_gazetteer(osm_path)
    try:
        cache.save(path, gazetteer)
    except OSError as exc:  # a read-only cache folder must not stop geocoding
        log.warning("could not cache the gazetteer at %s: %s", path, exc)
    return LoadedGazetteer(gazetteer, path, False, time.perf_counter() - started)


def open_offline_geocoder(osm_path: Path, cache_dir: Path) -> OfflineGeocoder:
    loaded = load_gazetteer(osm_path, cache_dir)
    started = time.perf_counter()
    index = GeocodeIndex(loaded.gazetteer)
    log.info(
        "geocoding index of %s: %s (gazetteer %s in %.2f s, index %.2f s)",
        osm_path.name,
        index.stats(),
        "cached" if loaded.cache_hit else "read",
        loaded.seconds,
        time.perf_counter() - started,
    )
    return OfflineGeocoder(index)


def open_provider(config: GeocodingConfig) -> Geocoder:
    """The HTTP adapter for a production provider; ValueError when it lacks its setting."""
    if config.provider == "nominatim":
        if not config.nominatim_url:
            raise ValueError("TOT_GEOCODER=nominatim needs TOT_NOMINATIM_URL")
        from storage.nominatim import NominatimGeocoder

        return NominatimGeocoder(config.nominatim_url, contact=config.contact)
    if config.provider == "yandex":
        if not config.yandex_key:
            raise ValueError("TOT_GEOCODER=yandex needs TOT_YANDEX_GEOCODER_KEY")
        from storage.yandex_geocoder import YandexGeocoder

        return YandexGeocoder(config.yandex_key)
    raise ValueError(f"not an HTTP geocoder: {config.provider}")


class GeocodingService:
    """One geocoder per process. The offline index is built on first use (or by
    `preload`), off the event loop; a failure is retried after RETRY_LOAD_AFTER_S."""

    def __init__(self, config: GeocodingConfig, geocoder: Geocoder | None = None) -> None:
        if config.provider not in PROVIDERS:
            raise ValueError(f"TOT_GEOCODER must be one of {', '.join(PROVIDERS)}")
        self.config = config
        self._geocoder = geocoder
        if geocoder is None and config.provider != "offline":
            self._geocoder = open_provider(config)
        self._lock = asyncio.Lock()
        self._failed: tuple[float, str] | None = None

    @property
    def provider(self) -> str:
        return self._geocoder.name if self._geocoder is not None else self.config.provider

    @property
    def attribution(self) -> str:
        return ATTRIBUTION.get(self.provider, ATTRIBUTION["offline"])

    async def geocoder(self) -> Geocoder:
        if self._geocoder is not None:
            return self._geocoder
        async with self._lock:
            if self._geocoder is not None:
                return self._geocoder
            now = time.monotonic()
            if self._failed is not None and now < self._failed[0]:
                raise GeocoderDownError(self._failed[1], self._failed[0] - now)
            osm_path, cache_dir = self.config.osm_path, self.config.cache_dir
            if osm_path is None or cache_dir is None:
                raise GeocoderDownError("no map to geocode on", RETRY_LOAD_AFTER_S)
            try:
                self._geocoder = await asyncio.to_thread(open_offline_geocoder, osm_path, cache_dir)
            except (OsmFileError, OSError, ValueError) as exc:
                detail = f"the offline geocoder cannot be built: {exc}"
                log.warning("%s", detail)
                self._failed = (now + RETRY_LOAD_AFTER_S, detail)
                raise GeocoderDownError(detail, RETRY_LOAD_AFTER_S) from None
            return self._geocoder

    async def preload(self) -> None:
        """Build the offline index now (at server start), logging a failure."""
        try:
            await self.geocoder()
        except GeocoderDownError as exc:
            log.warning("geocoding unavailable for now: %s", exc)

    async def search(
        self,
        query: str,
        *,
        near: tuple[float, float] | None = None,
        limit: int = 10,
        language: Language = "ru",
    ) -> list[GeocodeResult]:
        try:
            text = check_query(query, limit)
            if near is not None:
                near = validate_lat_lon(*near)
        except (InvalidQueryError, InvalidCoordinateError) as exc:
            raise InvalidRequestError(str(exc)) from None
        geocoder = await self.geocoder()
        try:
            results = await geocoder.search(text, near=near, limit=limit, language=language)
        except GeocoderUnavailableError as exc:
            raise GeocoderDownError(str(exc), exc.retry_after_s) from None
        except InvalidQueryError as exc:
            raise InvalidRequestError(str(exc)) from None
        if near is not None:
            results = [
                r
                if r.distance_m is not None
                else replace(r, distance_m=haversine_scalar_m(near[0], near[1], r.lat, r.lon))
                for r in results
            ]
        return results[:limit]

    async def reverse(
        self, lat: float, lon: float, *, language: Language = "ru"
    ) -> GeocodeResult | None:
        try:
            lat, lon = validate_lat_lon(lat, lon)
        except InvalidCoordinateError as exc:
            raise InvalidRequestError(str(exc)) from None
        geocoder = await self.geocoder()
        try:
            return await geocoder.reverse(lat, lon, language=language)
        except GeocoderUnavailableError as exc:
            raise GeocoderDownError(str(exc), exc.retry_after_s) from None

    async def close(self) -> None:
        if self._geocoder is not None:
            await self._geocoder.close()
