"""The map drawn by MapLibre from our own extract: vector tiles at
`/tiles/{z}/{x}/{y}.mvt`, the style at `/map/style.json`, SDF glyphs at
`/map/fonts/{fontstack}/{range}.pbf` (public, outside the OpenAPI document like the pages),
and `GET /api/v1/map/info` (in it). Nothing comes from elsewhere."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field

from api.errors import problem
from api.routes.map import ws_port_of
from api.schemas import Output
from api.security import RuntimeDep, public
from maptiles import TileOutOfRangeError
from services.map_tiles import (
    DEFAULT_MEMORY_BYTES,
    TILE_MAX_AGE_S,
    GlyphsNotFoundError,
    MapTiles,
    MapUnavailableError,
    map_info,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(public())])
api_router = APIRouter(prefix="/map", tags=["map"])

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
FONT_MAX_AGE_S = 7 * 24 * 3600
MAX_COORDINATE_DIGITS = 10


def map_tiles_of(request: Request) -> MapTiles:
    """The app's MapTiles, made on first use for the extract the runtime routes on."""
    state = request.app.state
    runtime = state.runtime
    tiles: MapTiles | None = getattr(state, "map_tiles", None)
    if tiles is None or tiles.osm_path != runtime.config.osm_path:
        megabytes = os.environ.get("TOT_TILE_CACHE_MB", "")
        memory = int(megabytes) * 1024 * 1024 if megabytes.isdigit() else DEFAULT_MEMORY_BYTES
        disk = os.environ.get("TOT_TILE_CACHE_DIR") or None
        tiles = MapTiles(
            runtime.config.osm_path,
            runtime.config.graph_cache_dir,
            memory_bytes=memory,
            disk_dir=Path(disk) if disk else None,
        )
        state.map_tiles = tiles
    return tiles


def _etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match by the weak comparison (RFC 9110 13.1.2)."""
    if not header:
        return False
    opaque = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False


def _accepts_gzip(header: str | None) -> bool:
    for part in (header or "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*"):
            q = params.strip().removeprefix("q=")
            return not (params.strip().startswith("q=") and _float(q) == 0.0)
    return False


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 1.0


def _coordinate(text: str) -> int | None:
    if not text.isascii() or not text.isdigit() or len(text) > MAX_COORDINATE_DIGITS:
        return None
    return int(text)


@router.api_route("/tiles/{z}/{x}/{y}.mvt", methods=["GET", "HEAD"])
async def tile(request: Request, z: str, x: str, y: str) -> Response:
    """One Mapbox Vector Tile (2.1); an empty body where the map has nothing."""
    zi, xi, yi = _coordinate(z), _coordinate(x), _coordinate(y)
    if zi is None or xi is None or yi is None:
        return problem(request, 404, "no such tile: z, x and y are whole numbers, z/x/y.mvt")
    tiles = map_tiles_of(request)
    try:
        found = await tiles.tile(zi, xi, yi)
    except TileOutOfRangeError as exc:
        return problem(request, 404, f"no such tile: {exc}")
    except MapUnavailableError as exc:
        return problem(request, 503, str(exc), headers={"Retry-After": "30"})
    headers = {
        "Cache-Control": f"public, max-age={TILE_MAX_AGE_S}",
        "ETag": found.etag,
        "Vary": "Accept-Encoding",
    }
    if _etag_matches(request.headers.get("if-none-match"), found.etag):
        return Response(status_code=304, headers=headers)
    body = found.gzipped
    if body and _accepts_gzip(request.headers.get("accept-encoding")):
        headers["Content-Encoding"] = "gzip"
    elif body:
        body = gzip.decompress(body)
    return Response(body, media_type=MVT_MEDIA_TYPE, headers=headers)


@router.api_route("/map/style.json", methods=["GET", "HEAD"])
async def style(request: Request) -> Response:
    """The MapLibre style for the tiles, with this server's absolute URLs."""
    tiles = map_tiles_of(request)
    try:
        body = await tiles.style(str(request.base_url))
    except MapUnavailableError as exc:
        return problem(request, 503, str(exc), headers={"Retry-After": "30"})
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-cache"})


@router.api_route("/map/fonts/{fontstack}/{glyph_range}.pbf", methods=["GET", "HEAD"])
async def glyphs(request: Request, fontstack: str, glyph_range: str) -> Response:
    """SDF glyphs (256 code points) of the first served font of a comma-separated stack."""
    tiles = map_tiles_of(request)
    try:
        body = tiles.glyph_range(fontstack, glyph_range)
    except GlyphsNotFoundError as exc:
        return problem(request, 404, str(exc))
    return Response(
        body,
        media_type="application/x-protobuf",
        headers={"Cache-Control": f"public, max-age={FONT_MAX_AGE_S}"},
    )


class Bounds(Output):
    south: float
    west: float
    north: float
    east: float


class Center(Output):
    lat: float
    lon: float


class MapInfoOut(Output):
    """Where the map is and how to draw it (MapLibre: load `style_url`)."""

    name: str = Field(description="the extract's name (its file name without suffixes)")
    bounds: Bounds = Field(description="the routed road network's bounding box, degrees")
    center: Center
    min_zoom: int
    max_zoom: int = Field(description="the deepest tiles made; clients over-zoom beyond it")
    tiles_url: str = Field(description="vector tiles, application/vnd.mapbox-vector-tile")
    style_url: str = Field(description="the MapLibre style (absolute URLs inside)")
    glyphs_url: str
    layers: list[str] = Field(description="the tiles' layer names")
    attribution: str = Field(description="show it wherever the map is shown")
    version: str = Field(description="the extract's hash and the tile format: the tiles' ETag")
    ws_port: int = Field(
        description="the WebSocket gateway's port on this host (the web app's live layers)"
    )


@api_router.get(
    "/info",
    summary="The map: bounds, zooms, attribution, tile and style URLs (public)",
    response_model=MapInfoOut,
    dependencies=[Depends(public())],
)
async def info(runtime: RuntimeDep, request: Request) -> MapInfoOut:
    graph = runtime.router.graph
    lat, lon = graph.node_lat, graph.node_lon
    bounds = (0.0, 0.0, 0.0, 0.0)
    if graph.node_count:
        bounds = (
            round(float(lat.min()), 6),
            round(float(lon.min()), 6),
            round(float(lat.max()), 6),
            round(float(lon.max()), 6),
        )
    source = str(graph.meta.get("source") or runtime.config.osm_path.name)
    return MapInfoOut.model_validate(
        map_info(
            name=source.split(".")[0],
            bounds=bounds,
            source_sha256=str(graph.meta.get("source_sha256", "")),
        )
        | {"ws_port": ws_port_of(request)}
    )
