"""Snapping and road ETAs over a RoadGraph, answered by a customizable contraction hierarchy.

The CCH (RoutingKit, via routingkit-cch) answers a 20-candidate many-to-one in tens of
microseconds on a city graph, exactly: it is a shortest-path index, not a heuristic.
Query objects keep internal scratch state, so one Router serves one thread (the
engine's event loop); make another Router for another thread.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import routingkit_cch as rk
from scipy.spatial import cKDTree

from routing.errors import DisconnectedRoadError, OutsideMapError, RoutingError, SnapError
from routing.geo import LatLon, LocalProjection, haversine_scalar_m, validate_lat_lon
from routing.graph import RoadGraph

DEFAULT_MAX_SNAP_DISTANCE_M = 1_000.0


@dataclass(frozen=True, slots=True)
class Snap:
    """A point attached to the road network: the nearest graph node and how far it is."""

    node: int
    lat: float
    lon: float
    distance_m: float


class EtaStatus(StrEnum):
    OK = "ok"
    INVALID_COORDINATE = "invalid_coordinate"
    OFF_NETWORK = "off_network"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class EtaResult:
    """One candidate's road ETA to the target, or why there is none."""

    status: EtaStatus
    eta_s: float | None
    snap_distance_m: float | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status is EtaStatus.OK


@dataclass(frozen=True, slots=True)
class RouteStep:
    """A stretch of a route along one street (None: an unnamed road)."""

    street: str | None
    distance_m: float
    duration_s: float


@dataclass(frozen=True, slots=True)
class Route:
    """The fastest drivable route between two snapped points."""

    eta_s: float
    distance_m: float
    path: list[LatLon]
    origin: Snap
    destination: Snap
    steps: tuple[RouteStep, ...] = ()  # the streets to take, in order


class Router:
    def __init__(self, graph: RoadGraph, max_snap_distance_m: float = DEFAULT_MAX_SNAP_DISTANCE_M):
        if not (math.isfinite(max_snap_distance_m) and max_snap_distance_m > 0):
            raise ValueError("max_snap_distance_m must be a positive number")
        self.graph = graph
        self.max_snap_distance_m = float(max_snap_distance_m)
        self._projection = LocalProjection(
            float(np.mean(graph.node_lat)), float(np.mean(graph.node_lon))
        )
        self._tree = cKDTree(self._projection.to_xy(graph.node_lat, graph.node_lon))
        tail = graph.edge_tail.tolist()
        head = graph.edge_head.tolist()
        self._cch = rk.CCH(graph.cch_order.tolist(), tail, head, False)
        self._metric = rk.CCHMetric(self._cch, graph.edge_travel_time_ms.tolist())
        self._query = rk.CCHQuery(self._metric)
        self._many_to_one = rk.CCHManyToOne(self._metric, [0])
        self._detached_tree: cKDTree | None = None  # built when first needed (a refusal)

    @property
    def projection(self) -> LocalProjection:
        """The local plane the router measures in (centred on the graph)."""
        return self._projection

    # -- snapping ---------------------------------------------------------------

    def snap(self, lat: float, lon: float) -> Snap:
        """Nearest road node to (lat, lon); SnapError when it is beyond the limit.

        Scalar maths in plain Python: for one point it beats numpy's per-call overhead.
        """
        if not (abs(lat) <= 90.0 and abs(lon) <= 180.0):  # also false for NaN
            validate_lat_lon(lat, lon)  # raises with the precise reason
        proj = self._projection
        projected_m, nearest = self._tree.query(
            ((lon - proj.lon0) * proj.kx, (lat - proj.lat0) * proj.ky)
        )
        node = int(nearest)
        nlat = float(self.graph.node_lat[node])
        nlon = float(self.graph.node_lon[node])
        if projected_m > self.max_snap_distance_m * 1.05:  # cheap reject before the exact check
            raise self.refusal(lat, lon, float(projected_m))
        distance_m = haversine_scalar_m(lat, lon, nlat, nlon)
        if distance_m > self.max_snap_distance_m:
            raise self.refusal(lat, lon, distance_m)
        return Snap(node, nlat, nlon, distance_m)

    # -- why a point is refused ---------------------------------------------------

    @functools.cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        """(south, west, north, east) of every drivable node the map has, routed or not."""
        g = self.graph
        lat = np.concatenate([g.node_lat, g.detached_lat])
        lon = np.concatenate([g.node_lon, g.detached_lon])
        return float(lat.min()), float(lon.min()), float(lat.max()), float(lon.max())

    def refusal(self, lat: float, lon: float, distance_m: float) -> SnapError:
        """The error for a valid point `distance_m` from the routed network, beyond the limit.

        Near a road the build left out (not connected both ways to the rest): that road
        does not connect. Else, beyond the map's bounds: outside the map. Else (a park, a
        lake, a bay within the map): how far the nearest road is.
        """
        limit = self.max_snap_distance_m
        detached_m = self._nearest_detached_m(lat, lon)
        if detached_m is not None and detached_m <= limit:
            return DisconnectedRoadError(lat, lon, distance_m, limit, detached_m)
        south, west, north, east = self.bounds
        if not (south <= lat <= north and west <= lon <= east):
            name = self.graph.meta.get("source", "")
            return OutsideMapError(lat, lon, distance_m, limit, self.bounds, name)
        return SnapError(lat, lon, distance_m, limit)

    def _nearest_detached_m(self, lat: float, lon: float) -> float | None:
        g = self.graph
        if g.detached_lat.size == 0:
            return None
        if self._detached_tree is None:
            self._detached_tree = cKDTree(self._projection.to_xy(g.detached_lat, g.detached_lon))
        proj = self._projection
        _, nearest = self._detached_tree.query(
            ((lon - proj.lon0) * proj.kx, (lat - proj.lat0) * proj.ky)
        )
        i = int(nearest)
        return haversine_scalar_m(lat, lon, float(g.detached_lat[i]), float(g.detached_lon[i]))

    def nearest_nodes(
        self, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Vectorised snap without limits or validation: node ids and distances in metres.

        Distances are the local projection's (within 1 % of the true distance in a
        city): enough for a snap-limit check, and it spares a haversine pass on what
        is the position-update path.
        """
        dist, nodes = self._tree.query(self._projection.to_xy(lat, lon))
        return np.asarray(nodes, dtype=np.int64), np.asarray(dist, dtype=np.float64)

    # -- routes -------------------------------------------------------------------

    def route(self, origin: tuple[float, float], destination: tuple[float, float]) -> Route:
        """Fastest route from origin to destination (lat, lon pairs), with its geometry."""
        src = self.snap(*origin)
        dst = self.snap(*destination)
        result = self._query.run(src.node, dst.node)
        if result.distance is None:
            raise RoutingError(f"no drivable route from {origin} to {destination}")
        arcs = np.asarray(result.arc_path, dtype=np.int64)
        nodes = result.node_path or [src.node]
        path = [LatLon(float(self.graph.node_lat[v]), float(self.graph.node_lon[v])) for v in nodes]
        return Route(
            eta_s=result.distance / 1000.0,
            distance_m=float(self.graph.edge_length_m[arcs].sum(dtype=np.float64))
            if arcs.size
            else 0.0,
            path=path,
            origin=src,
            destination=dst,
            steps=self._steps(arcs),
        )

    def _steps(self, arcs: npt.NDArray[np.int64]) -> tuple[RouteStep, ...]:
        """Consecutive edges on the same street as one step (its length and time)."""
        g = self.graph
        if arcs.size == 0:
            return ()
        streets = g.edge_street[arcs] if g.edge_street.size else np.full(arcs.size, -1)
        lengths = g.edge_length_m[arcs].astype(np.float64)
        times = g.edge_travel_time_ms[arcs].astype(np.float64) / 1000.0
        cuts = np.flatnonzero(np.diff(streets)) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [arcs.size]))
        names = g.street_names
        return tuple(
            RouteStep(
                street=None if streets[a] < 0 else names[int(streets[a])],
                distance_m=round(float(lengths[a:b].sum()), 1),
                duration_s=round(float(times[a:b].sum()), 1),
            )
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
        )

    def travel_time_s(self, origin_node: int, destination_node: int) -> float | None:
        """Node-to-node travel time in seconds, None when unreachable."""
        distance = self._query.run(origin_node, destination_node).distance
        return None if distance is None else distance / 1000.0

    # -- the dispatch hot path -------------------------------------------------------

    def etas_from_nodes(
        self, source_nodes: Sequence[int], target_node: int
    ) -> npt.NDArray[np.float64]:
        """Road ETAs in seconds from already-snapped source nodes to one node, in one CCH sweep.

        This is the dispatch hot path: doctors are snapped when their fixes arrive
        (nearest_nodes), the patient once per request (snap), so a decision costs one
        sweep. NaN marks an unreachable source.
        """
        if len(source_nodes) == 0:
            return np.empty(0, dtype=np.float64)
        self._many_to_one.repin_sources(
            source_nodes if isinstance(source_nodes, list) else list(map(int, source_nodes))
        )
        times_ms = self._many_to_one.distances_to(int(target_node))
        try:
            return np.array(times_ms, dtype=np.float64) / 1000.0
        except TypeError:  # a None: some source cannot reach the target
            return (
                np.array([np.nan if t is None else t for t in times_ms], dtype=np.float64) / 1000.0
            )

    def many_to_one(
        self,
        source_lat: npt.NDArray[np.float64],
        source_lon: npt.NDArray[np.float64],
        target_lat: float,
        target_lon: float,
    ) -> EtaBatch:
        """Road ETAs from k source positions to one target position, each explained.

        The target must be valid and on the network (else InvalidCoordinateError /
        SnapError); each source gets its own status, so one doctor's bad fix does not
        sink the whole decision.
        """
        target = self.snap(target_lat, target_lon)
        source_lat = np.asarray(source_lat, dtype=np.float64)
        source_lon = np.asarray(source_lon, dtype=np.float64)
        k = source_lat.shape[0]
        valid = (np.abs(source_lat) <= 90.0) & (np.abs(source_lon) <= 180.0)  # False for NaN
        snap_m = np.full(k, np.nan)
        nodes = np.zeros(k, dtype=np.int64)
        if valid.any():
            nodes[valid], snap_m[valid] = self.nearest_nodes(source_lat[valid], source_lon[valid])
        status = np.where(valid, _OK, _INVALID).astype(np.uint8)
        off = valid & (snap_m > self.max_snap_distance_m)
        status[off] = _OFF_NETWORK
        # why each refused source is off the network (rare: the refusals only)
        why = {
            int(i): _reason(self.refusal(float(source_lat[i]), float(source_lon[i]), snap_m[i]))
            for i in np.flatnonzero(off)
        }
        eta_s = np.full(k, np.nan)
        routed = np.flatnonzero(status == _OK)
        if routed.size:
            eta_s[routed] = self.etas_from_nodes(nodes[routed].tolist(), target.node)
            status[routed[np.isnan(eta_s[routed])]] = _UNREACHABLE
        return EtaBatch(eta_s, snap_m, status, self.max_snap_distance_m, why)

    def etas_to(
        self, sources: Sequence[tuple[float, float]], target: tuple[float, float]
    ) -> list[EtaResult]:
        """many_to_one for (lat, lon) pairs, one explained EtaResult per source."""
        points = np.asarray(sources, dtype=np.float64).reshape(-1, 2)
        return self.many_to_one(points[:, 0], points[:, 1], *target).explain()


def _reason(error: SnapError) -> str:
    """A refusal's message without its "point (lat, lon) is " (a table names the point)."""
    text = str(error)
    _, sep, rest = text.partition(") is ")
    return rest if sep else text


_OK, _INVALID, _OFF_NETWORK, _UNREACHABLE = 0, 1, 2, 3
_STATUS_OF_CODE = {
    _OK: EtaStatus.OK,
    _INVALID: EtaStatus.INVALID_COORDINATE,
    _OFF_NETWORK: EtaStatus.OFF_NETWORK,
    _UNREACHABLE: EtaStatus.UNREACHABLE,
}


@dataclass(frozen=True, slots=True)
class EtaBatch:
    """many_to_one's answer as arrays aligned with the sources.

    eta_s is NaN where there is no ETA; status holds EtaStatus codes (see explain()).
    """

    eta_s: npt.NDArray[np.float64]
    snap_distance_m: npt.NDArray[np.float64]
    status: npt.NDArray[np.uint8]
    max_snap_distance_m: float
    off_network_why: dict[int, str] = field(default_factory=dict)  # by source, when known

    def explain(self) -> list[EtaResult]:
        out: list[EtaResult] = []
        for i, (code, eta, snap) in enumerate(
            zip(
                self.status.tolist(),
                self.eta_s.tolist(),
                self.snap_distance_m.tolist(),
                strict=True,
            )
        ):
            status = _STATUS_OF_CODE[code]
            if status is EtaStatus.OK:
                out.append(EtaResult(status, eta, snap))
            elif status is EtaStatus.INVALID_COORDINATE:
                out.append(
                    EtaResult(
                        status,
                        None,
                        None,
                        "coordinates must be finite, latitude in [-90, 90], longitude in [-180, 180]",
                    )
                )
            elif status is EtaStatus.OFF_NETWORK:
                why = self.off_network_why.get(i) or (
                    f"{snap:.0f} m from the nearest drivable road; "
                    f"the limit is {self.max_snap_distance_m:.0f} m"
                )
                out.append(EtaResult(status, None, snap, why))
            else:
                out.append(EtaResult(status, None, snap, "no drivable route to the target"))
        return out
