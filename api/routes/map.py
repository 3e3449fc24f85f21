"""/map: the road network for the web pages to draw (no tile server, nothing from outside),
and road routes between two points (the doctor page's simulated drive follows them)."""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import numpy.typing as npt
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import Field

from api.openapi import OFF_THE_MAP, problems
from api.schemas import Output
from api.security import AnyUserDep, RuntimeDep, public
from routing import RoadGraph, RoutingError
from routing.osm_tags import HIGHWAY_CODES
from services.bookings import InvalidRequestError

router = APIRouter(prefix="/map", tags=["map"])

MAX_SEGMENTS = 60_000
DEFAULT_WS_PORT = 8001
ATTRIBUTION = "Map data © OpenStreetMap contributors, ODbL 1.0"

# How prominent a road is drawn: 3 major (motorway..primary), 2 secondary/tertiary,
# 1 everyday streets, 0 service roads and living streets. Caps keep the major ones.
_RANK_OF_CLASS = {
    "motorway": 3, "motorway_link": 3, "trunk": 3, "trunk_link": 3, "primary": 3,
    "primary_link": 3, "secondary": 2, "secondary_link": 2, "tertiary": 2, "tertiary_link": 2,
    "unclassified": 1, "residential": 1, "road": 1, "living_street": 0, "service": 0,
}  # fmt: skip
_RANKS = np.array([_RANK_OF_CLASS.get(name, 1) for name in HIGHWAY_CODES] + [1], dtype=np.int8)


class BBox(Output):
    south: float
    west: float
    north: float
    east: float


class RoadsOut(Output):
    """The drivable roads as straight segments, one per undirected edge of the graph."""

    bbox: BBox = Field(description="the whole road network's bounding box")
    view: BBox = Field(description="the box these segments were chosen for")
    segments: list[float] = Field(
        description="flat [lat1, lon1, lat2, lon2, ...], degrees rounded to 5 decimals"
    )
    ranks: list[int] = Field(
        description="per segment: 3 major road, 2 secondary, 1 street, 0 service road"
    )
    segment_count: int
    total_in_view: int = Field(description="segments in the view before the cap")
    truncated: bool = Field(description="true when the cap left some (minor) roads out")
    max_segments: int
    ws_port: int = Field(description="the WebSocket gateway's port on this host")
    attribution: str


class RouteStepOut(Output):
    street: str | None = Field(description="the street's name in the extract; null if unnamed")
    distance_m: float
    duration_s: float


class RouteOut(Output):
    """A road route: its line, length and free-flow travel time, and the streets to take."""

    points: list[list[float]] = Field(description="[[lat, lon], ...] along the roads")
    distance_m: float
    eta_s: float
    steps: list[RouteStepOut] = Field(description="the streets to take, in order")


@dataclass(frozen=True, slots=True)
class _Segments:
    """A graph's undirected segments, major roads first, and its bounding box."""

    coords: npt.NDArray[np.float64]  # (k, 4): lat1, lon1, lat2, lon2 rounded to 5 decimals
    ranks: npt.NDArray[np.int8]
    bbox: tuple[float, float, float, float]


_cache: weakref.WeakKeyDictionary[RoadGraph, _Segments] = weakref.WeakKeyDictionary()
_full: weakref.WeakKeyDictionary[RoadGraph, dict[tuple[int, int], bytes]] = (
    weakref.WeakKeyDictionary()
)


def segments_of(graph: RoadGraph) -> _Segments:
    """Computed once per graph and process."""
    cached = _cache.get(graph)
    if cached is not None:
        return cached
    tail = graph.edge_tail.astype(np.int64)
    head = graph.edge_head.astype(np.int64)
    a, b = np.minimum(tail, head), np.maximum(tail, head)
    _, first = np.unique(a * graph.node_count + b, return_index=True)
    a, b = a[first], b[first]
    classes = np.minimum(graph.edge_highway[first].astype(np.int64), len(_RANKS) - 1)
    ranks = _RANKS[classes]
    order = np.argsort(-ranks, kind="stable")
    a, b, ranks = a[order], b[order], ranks[order]
    lat, lon = graph.node_lat, graph.node_lon
    coords = np.round(np.column_stack((lat[a], lon[a], lat[b], lon[b])), 5).astype(np.float64)
    bbox = (0.0, 0.0, 0.0, 0.0)
    if graph.node_count:
        bbox = (float(lat.min()), float(lon.min()), float(lat.max()), float(lon.max()))
    out = _Segments(coords, ranks, bbox)
    _cache[graph] = out
    return out


def ws_port_of(request: Request) -> int:
    """`app.state.ws_port` when the server set it, else TOT_WS_PORT, else 8001."""
    port = getattr(request.app.state, "ws_port", None)
    if isinstance(port, int) and port > 0:
        return port
    text = os.environ.get("TOT_WS_PORT", "")
    return int(text) if text.isdigit() and 0 < int(text) < 65_536 else DEFAULT_WS_PORT


def _box(values: tuple[float, float, float, float]) -> dict[str, float]:
    south, west, north, east = values
    return {"south": round(south, 6), "west": round(west, 6), "north": round(north, 6),
            "east": round(east, 6)}  # fmt: skip


# A view's sides, each optional: a side given bounds the view there, one left out leaves
# it open (any combination is a view; a south above the north, or a west east of the
# east, is an empty one). The operator's viewport of doctors reads them alike.
South = Annotated[
    float | None,
    Query(ge=-90, le=90, description="degrees: only what reaches north of this latitude"),
]
West = Annotated[
    float | None,
    Query(ge=-180, le=180, description="degrees: only what reaches east of this longitude"),
]
North = Annotated[
    float | None,
    Query(ge=-90, le=90, description="degrees: only what reaches south of this latitude"),
]
East = Annotated[
    float | None,
    Query(ge=-180, le=180, description="degrees: only what reaches west of this longitude"),
]


def view_of(
    south: float | None, west: float | None, north: float | None, east: float | None
) -> tuple[float, float, float, float] | None:
    """The box the given sides make (open sides at the world's edge); None if none given."""
    if south is None and west is None and north is None and east is None:
        return None
    return (
        -90.0 if south is None else south,
        -180.0 if west is None else west,
        90.0 if north is None else north,
        180.0 if east is None else east,
    )


@router.get(
    "/roads",
    summary="The road network to draw a map with (public: OpenStreetMap data)",
    description="Each of `south`, `west`, `north` and `east` given bounds the view on that "
    "side; left out, that side is open. A view whose south is above its north (or west "
    "east of its east) holds no roads.",
    response_model=RoadsOut,
    dependencies=[Depends(public())],
)
async def roads(
    request: Request,
    runtime: RuntimeDep,
    south: South = None,
    west: West = None,
    north: North = None,
    east: East = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SEGMENTS)] = MAX_SEGMENTS,
) -> Response:
    graph = runtime.router.graph
    segs = segments_of(graph)
    ws_port = ws_port_of(request)
    box = view_of(south, west, north, east)
    if box is not None:
        s, w, n, e = box
        c = segs.coords
        lat_lo, lat_hi = np.minimum(c[:, 0], c[:, 2]), np.maximum(c[:, 0], c[:, 2])
        lon_lo, lon_hi = np.minimum(c[:, 1], c[:, 3]), np.maximum(c[:, 1], c[:, 3])
        inside = (lat_hi >= s) & (lat_lo <= n) & (lon_hi >= w) & (lon_lo <= e)
        coords, ranks = c[inside], segs.ranks[inside]
        # The view as asked, its open sides at the network's edge.
        edge = segs.bbox
        view = (
            edge[0] if south is None else south,
            edge[1] if west is None else west,
            edge[2] if north is None else north,
            edge[3] if east is None else east,
        )
        body = _render(segs, coords, ranks, view, limit, ws_port)
    else:
        # The whole network is what every page asks for first: rendered once per limit.
        per_graph = _full.setdefault(graph, {})
        body = per_graph.get((limit, ws_port), b"")
        if not body:
            body = _render(segs, segs.coords, segs.ranks, segs.bbox, limit, ws_port)
            per_graph[(limit, ws_port)] = body
    return Response(body, media_type="application/json")


def _render(
    segs: _Segments,
    coords: npt.NDArray[np.float64],
    ranks: npt.NDArray[np.int8],
    view: tuple[float, float, float, float],
    limit: int,
    ws_port: int,
) -> bytes:
    total = int(coords.shape[0])
    kept = min(total, limit)  # major roads come first, so a cap drops minor ones
    return orjson.dumps(
        {
            "bbox": _box(segs.bbox),
            "view": _box(view),
            "segments": coords[:kept].ravel().tolist(),
            "ranks": ranks[:kept].tolist(),
            "segment_count": kept,
            "total_in_view": total,
            "truncated": kept < total,
            "max_segments": limit,
            "ws_port": ws_port,
            "attribution": ATTRIBUTION,
        }
    )


@router.get(
    "/route",
    summary="A road route between two points",
    responses=problems(described={422: OFF_THE_MAP}),
)
async def route(
    who: AnyUserDep,
    runtime: RuntimeDep,
    from_lat: Annotated[float, Query(ge=-90, le=90)],
    from_lon: Annotated[float, Query(ge=-180, le=180)],
    to_lat: Annotated[float, Query(ge=-90, le=90)],
    to_lon: Annotated[float, Query(ge=-180, le=180)],
) -> RouteOut:
    try:
        found = runtime.router.route((from_lat, from_lon), (to_lat, to_lon))
    except RoutingError as exc:
        raise InvalidRequestError(str(exc)) from None
    return RouteOut(
        points=[[round(p.lat, 6), round(p.lon, 6)] for p in found.path],
        distance_m=round(found.distance_m, 1),
        eta_s=round(found.eta_s, 1),
        steps=[
            RouteStepOut(street=step.street, distance_m=step.distance_m, duration_s=step.duration_s)
            for step in found.steps
        ],
    )
