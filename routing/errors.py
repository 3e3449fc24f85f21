"""Errors the routing core raises; each says what was wrong with the input."""


class RoutingError(ValueError):
    """Base class: a routing question that has no answer, with the reason."""


class InvalidCoordinateError(RoutingError):
    """A latitude/longitude that is NaN, infinite or out of range."""


class SnapError(RoutingError):
    """A point too far from any drivable road to be routed from or to."""

    def __init__(self, lat: float, lon: float, distance_m: float, limit_m: float) -> None:
        super().__init__(
            f"point ({lat:.6f}, {lon:.6f}) is {distance_m:.0f} m from the nearest drivable road; "
            f"the limit is {limit_m:.0f} m"
        )
        self.lat = lat
        self.lon = lon
        self.distance_m = distance_m
        self.limit_m = limit_m


class GraphBuildError(RoutingError):
    """Input that cannot be compiled into a road graph (no drivable roads, bad arrays)."""
