"""Geodesy helpers. Coordinates are always (lat, lon) in degrees, in that order."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from routing.errors import InvalidCoordinateError

EARTH_RADIUS_M = 6_371_008.8

FloatArray = npt.NDArray[np.float64]


class LatLon(NamedTuple):
    lat: float
    lon: float


def validate_lat_lon(lat: float, lon: float) -> LatLon:
    """Return the pair as floats, or raise InvalidCoordinateError saying what is wrong."""
    try:
        lat_f = float(lat)
        lon_f = float(lon)
    except (TypeError, ValueError) as exc:
        raise InvalidCoordinateError(
            f"coordinates must be numbers, got ({lat!r}, {lon!r})"
        ) from exc
    if not (math.isfinite(lat_f) and math.isfinite(lon_f)):
        raise InvalidCoordinateError(f"coordinates must be finite, got ({lat_f}, {lon_f})")
    if not -90.0 <= lat_f <= 90.0:
        raise InvalidCoordinateError(f"latitude {lat_f} is outside [-90, 90]")
    if not -180.0 <= lon_f <= 180.0:
        raise InvalidCoordinateError(f"longitude {lon_f} is outside [-180, 180]")
    return LatLon(lat_f, lon_f)


def validate_lat_lon_arrays(lat: FloatArray, lon: FloatArray) -> None:
    """Vectorised validate_lat_lon: raise on the first bad pair, naming its index."""
    bad = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        validate_lat_lon(float(lat[i]), float(lon[i]))  # raises with the precise reason
        raise InvalidCoordinateError(f"coordinate #{i} is invalid")  # pragma: no cover


def haversine_m(
    lat1: FloatArray | float,
    lon1: FloatArray | float,
    lat2: FloatArray | float,
    lon2: FloatArray | float,
) -> FloatArray:
    """Great-circle distance in metres; vectorised over numpy arrays."""
    p1 = np.radians(lat1)
    p2 = np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2.0) ** 2
    return np.asarray(
        2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64
    )


def haversine_scalar_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """haversine_m for one pair of plain floats: math beats numpy's per-call cost here."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2.0) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2.0) ** 2
    )
    return 2.0 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular projection about a city's centre, in metres.

    Within a city (tens of km) its distortion is well under 1 %, which is all a
    nearest-neighbour index needs; true distances are then taken with haversine.
    """

    lat0: float
    lon0: float

    kx: float = 0.0  # metres per degree of longitude at lat0; set in __post_init__
    ky: float = math.radians(1.0) * EARTH_RADIUS_M  # metres per degree of latitude

    def __post_init__(self) -> None:
        kx = math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))
        object.__setattr__(self, "kx", kx)

    def to_xy(self, lat: FloatArray, lon: FloatArray) -> npt.NDArray[np.float64]:
        """(n, 2) array of x, y metres east and north of the centre."""
        out = np.empty((np.size(lat), 2), dtype=np.float64)
        out[:, 0] = (np.asarray(lon, dtype=np.float64) - self.lon0) * self.kx
        out[:, 1] = (np.asarray(lat, dtype=np.float64) - self.lat0) * self.ky
        return out
