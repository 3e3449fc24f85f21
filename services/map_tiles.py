"""The map's vector tiles, style, glyphs and description for the edges.

Features are compiled from the extract the engine routes on (once, then cached beside
the road graph) on first use, in a worker thread; tiles are rendered on demand and kept
gzip-compressed in a byte-bounded LRU (and on disk when a folder is given)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from maptiles import MAX_ZOOM, MapFeatures, check_tile, render_tile
from maptiles.features import FEATURES_FORMAT_VERSION
from maptiles.glyphs import empty_range, font_stack, parse_range
from maptiles.rules import LAYERS, RULES_VERSION
from maptiles.style import FONTS, map_style
from maptiles.tiler import TILER_VERSION
from storage.graph_cache import file_sha256
from storage.osm_features import FeatureCache, features_cache_key, read_map_features
from storage.osm_pbf import check_osm_path
from storage.tile_files import DiskTileCache, GlyphFiles

log = logging.getLogger(__name__)

ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
TILE_MAX_AGE_S = 3600
GZIP_LEVEL = 6
DEFAULT_MEMORY_BYTES = 64 * 1024 * 1024
TILE_VERSION = hashlib.sha256(
    f"{RULES_VERSION}:{FEATURES_FORMAT_VERSION}:{TILER_VERSION}".encode()
).hexdigest()[:8]


class MapUnavailableError(Exception):
    """The extract's features cannot be read (a missing or broken file)."""


class GlyphsNotFoundError(LookupError):
    """No bundled font of the stack, or not a glyph range."""


@dataclass(frozen=True, slots=True)
class Tile:
    gzipped: bytes  # gzip of the MVT bytes; b"" for an empty tile
    etag: str


class TileLru:
    """Encoded tiles by (z, x, y), least recently used dropped first, bounded by bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[int, int, int]) -> bytes | None:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data

    def put(self, key: tuple[int, int, int], data: bytes) -> None:
        cost = len(data) + 100  # the key and the entry cost something too
        if cost > self.max_bytes:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= len(old) + 100
        self._items[key] = data
        self.bytes += cost
        while self.bytes > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped) + 100


class MapTiles:
    """One extract's map: features loaded on first use, tiles on demand."""

    def __init__(
        self,
        osm_path: Path,
        cache_dir: Path,
        *,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        disk_dir: Path | None = None,
        glyphs: GlyphFiles | None = None,
    ) -> None:
        self.osm_path = osm_path
        self.cache_dir = cache_dir
        self.memory = TileLru(memory_bytes)
        self.disk_dir = disk_dir
        self.disk: DiskTileCache | None = None
        self.glyphs = glyphs or GlyphFiles()
        self._features: MapFeatures | None = None
        self._sha256 = ""
        self._lock = threading.Lock()
        self._loading: asyncio.Future[MapFeatures] | None = None
        self._style_cache: dict[tuple[str, str], bytes] = {}
        self.load_seconds = 0.0
        self.cache_hit = False

    @classmethod
    def from_features(cls, features: MapFeatures, source_sha256: str, **kwargs: Any) -> MapTiles:
        """Already compiled features (benchmarks, tests): nothing is read."""
        tiles = cls(Path(features.meta.get("source", "map")), Path("."), **kwargs)
        tiles._features = features
        tiles._sha256 = source_sha256
        return tiles

    # -- features -------------------------------------------------------------------------

    def load(self) -> MapFeatures:
        """The features, read or built now if need be (blocking: call from a thread)."""
        with self._lock:
            if self._features is not None:
                return self._features
            started = time.perf_counter()
            try:
                check_osm_path(self.osm_path)
                sha = file_sha256(self.osm_path)
                cache = FeatureCache(self.cache_dir)
                path = cache.path_for(self.osm_path, features_cache_key(sha))
                features = cache.load(path)
                self.cache_hit = features is not None
                if features is None:
                    features = read_map_features(
                        self.osm_path, {"source": self.osm_path.name, "source_sha256": sha}
                    )
                    try:
                        cache.save(path, features)
                    except OSError as exc:
                        log.warning("could not cache the map's features at %s: %s", path, exc)
            except (OSError, ValueError) as exc:
                raise MapUnavailableError(f"the map's features cannot be read: {exc}") from exc
            self._sha256 = sha
            if self.disk_dir is not None:
                self.disk = DiskTileCache(self.disk_dir, f"{sha[:16]}-{TILE_VERSION}")
            self.load_seconds = time.perf_counter() - started
            log.info(
                "map features of %s: %d features, %s in %.2f s",
                self.osm_path.name,
                features.feature_count,
                "from the cache" if self.cache_hit else "built",
                self.load_seconds,
            )
            self._features = features
            return features

    async def features(self) -> MapFeatures:
        """The features; the first caller starts loading them in a worker thread and
        every caller meanwhile waits for that one load."""
        if self._features is not None:
            return self._features
        if self._loading is None or (self._loading.done() and self._loading.exception()):
            self._loading = asyncio.ensure_future(asyncio.to_thread(self.load))
        return await asyncio.shield(self._loading)

    @property
    def etag(self) -> str:
        """Weak: the same for every tile of one extract and format (gzip or not)."""
        return f'W/"{self._sha256[:20]}-{TILE_VERSION}"'

    # -- tiles ----------------------------------------------------------------------------

    def cached_tile(self, z: int, x: int, y: int) -> Tile | None:
        """The tile when it is in memory (the features loaded): no thread, no waiting."""
        if self._features is None:
            return None
        data = self.memory.get((z, x, y))
        return None if data is None else Tile(data, self.etag)

    def render(self, z: int, x: int, y: int) -> Tile:
        """Render (or read from disk), compress and cache one tile. Blocking."""
        check_tile(z, x, y)
        features = self.load()
        key = (z, x, y)
        data = self.memory.get(key)
        if data is None and self.disk is not None:
            data = self.disk.get(z, x, y)
        if data is None:
            raw = render_tile(features, z, x, y)
            data = gzip.compress(raw, GZIP_LEVEL, mtime=0) if raw else b""
            if self.disk is not None:
                self.disk.put(z, x, y, data)
        self.memory.put(key, data)
        return Tile(data, self.etag)

    async def tile(self, z: int, x: int, y: int) -> Tile:
        check_tile(z, x, y)
        cached = self.cached_tile(z, x, y)
        if cached is not None:
            return cached
        await self.features()
        return await asyncio.to_thread(self.render, z, x, y)

    # -- style, glyphs, description ---------------------------------------------------------

    async def style(self, base_url: str) -> bytes:
        """The MapLibre style with absolute URLs on `base_url` (MapLibre needs them)."""
        features = await self.features()
        key = (base_url, self._sha256)
        body = self._style_cache.get(key)
        if body is None:
            base = base_url.rstrip("/")
            bounds = features.bounds() or (0.0, 0.0, 0.0, 0.0)
            style = map_style(
                tiles_url=f"{base}/tiles/{{z}}/{{x}}/{{y}}.mvt",
                glyphs_url=f"{base}/map/fonts/{{fontstack}}/{{range}}.pbf",
                bounds=bounds,
                name=self.name,
                attribution=ATTRIBUTION,
            )
            body = orjson.dumps(style)
            if len(self._style_cache) > 16:
                self._style_cache.clear()
            self._style_cache[key] = body
        return body

    @property
    def name(self) -> str:
        return self.osm_path.name.split(".")[0]

    def glyph_range(self, fontstack: str, glyph_range: str) -> bytes:
        """The SDF glyphs of the stack's first bundled font; a range no file holds is
        served empty (MapLibre then draws those characters with nothing, not an error)."""
        try:
            start, end = parse_range(glyph_range)
        except ValueError as exc:
            raise GlyphsNotFoundError(str(exc)) from None
        known = self.glyphs.fonts() & frozenset(FONTS)
        font = font_stack(fontstack, known)
        if font is None:
            raise GlyphsNotFoundError(
                f"no font of {fontstack!r} is served; the fonts are: {', '.join(sorted(known))}"
            )
        data = self.glyphs.read(font, f"{start}-{end}")
        return data if data is not None else empty_range(font, start, end)


def map_info(
    *,
    name: str,
    bounds: tuple[float, float, float, float],
    source_sha256: str,
) -> dict[str, Any]:
    """What a client needs to show the map, from the road graph (no features needed)."""
    south, west, north, east = bounds
    return {
        "name": name,
        "bounds": {"south": south, "west": west, "north": north, "east": east},
        "center": {"lat": round((south + north) / 2, 6), "lon": round((west + east) / 2, 6)},
        "min_zoom": 0,
        "max_zoom": MAX_ZOOM,
        "tiles_url": "/tiles/{z}/{x}/{y}.mvt",
        "style_url": "/map/style.json",
        "glyphs_url": "/map/fonts/{fontstack}/{range}.pbf",
        "layers": list(LAYERS),
        "attribution": ATTRIBUTION,
        "version": f"{source_sha256[:20]}-{TILE_VERSION}",
    }
