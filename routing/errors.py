"""Errors the routing core raises; each says what was wrong with the input."""


class RoutingError(ValueError):
    """Base class: a routing question that has no answer, with the reason."""


class InvalidCoordinateError(RoutingError):
    """A latitude/longitude that is NaN, infinite or out of range."""


class SnapError(RoutingError):
    """A point too far from any drivable road to be routed from or to."""

    def __init__(
        self, lat: float, lon: float, distance_m: float, limit_m: float, message: str = ""
    ) -> None:
        super().__init__(
            message
            or f"point ({lat:.6f}, {lon:.6f}) is {distance_m:.0f} m from the nearest drivable "
            f"road; the limit is {limit_m:.0f} m"
        )
        self.lat = lat
        self.lon = lon
        self.distance_m = distance_m  # to the nearest road of the routed network
        self.limit_m = limit_m


class OutsideMapError(SnapError):
    """A point beyond the extract: the map does not cover it."""

    def __init__(
        self,
        lat: float,
        lon: float,
        distance_m: float,
        limit_m: float,
        bounds: tuple[float, float, float, float],
        map_name: str = "",
    ) -> None:
        south, west, north, east = bounds
        named = f" ({map_name})" if map_name else ""
        super().__init__(
            lat,
            lon,
            distance_m,
            limit_m,
            f"point ({lat:.6f}, {lon:.6f}) is outside the map{named}, {_km(distance_m)} from "
            f"its nearest road: the map covers latitude {south:.4f} to {north:.4f}, "
            f"longitude {west:.4f} to {east:.4f}",
        )
        self.bounds = bounds


class DisconnectedRoadError(SnapError):
    """A point by a drivable road that does not connect to the routed network."""

    def __init__(
        self, lat: float, lon: float, distance_m: float, limit_m: float, detached_m: float
    ) -> None:
        super().__init__(
            lat,
            lon,
            distance_m,
            limit_m,
            f"point ({lat:.6f}, {lon:.6f}) is {detached_m:.0f} m from a road that does not "
            "connect to the rest of the map's road network (an island reached by ferry, or "
            "roads cut off at the map's edge or by roads closed to cars); the nearest "
            f"connected road is {_km(distance_m)} away, beyond the {limit_m:.0f} m limit",
        )
        self.detached_m = detached_m


def _km(distance_m: float) -> str:
    return f"{distance_m / 1000:.1f} km" if distance_m >= 10_000 else f"{distance_m:.0f} m"


class GraphBuildError(RoutingError):
    """Input that cannot be compiled into a road graph (no drivable roads, bad arrays)."""
