"""Road routing core: a drivable graph as compact arrays, snapping, and road ETAs.

Pure: no file, network or clock access. Arrays come in, answers come out; reading
OpenStreetMap files and caching compiled graphs live in `storage/`.
"""

from routing.errors import (
    DisconnectedRoadError,
    GraphBuildError,
    InvalidCoordinateError,
    OutsideMapError,
    RoutingError,
    SnapError,
)
from routing.geo import LatLon, haversine_m, validate_lat_lon
from routing.graph import RoadGraph, compile_road_graph
from routing.osm_tags import BUILD_PROFILE_VERSION, WayRule, classify_way
from routing.router import EtaResult, Route, Router, RouteStep, Snap

__all__ = [
    "BUILD_PROFILE_VERSION",
    "DisconnectedRoadError",
    "EtaResult",
    "GraphBuildError",
    "InvalidCoordinateError",
    "LatLon",
    "OutsideMapError",
    "RoadGraph",
    "Route",
    "RouteStep",
    "Router",
    "RoutingError",
    "Snap",
    "SnapError",
    "WayRule",
    "classify_way",
    "compile_road_graph",
    "haversine_m",
    "validate_lat_lon",
]
