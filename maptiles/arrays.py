"""Array helpers shared by the feature store and the tiler: Web Mercator, ranges."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

MAX_LATITUDE = 85.05112878  # Web Mercator's square world


def world_xy(lat: F64, lon: F64) -> tuple[F64, F64]:
    """Web Mercator in world units: x and y in [0, 1], y growing southwards (as tiles do)."""
    phi = np.radians(np.clip(lat, -MAX_LATITUDE, MAX_LATITUDE))
    x = (np.asarray(lon, dtype=np.float64) + 180.0) / 360.0
    y = (1.0 - np.log(np.tan(phi) + 1.0 / np.cos(phi)) / np.pi) / 2.0
    return x, y


def world_to_lat_lon(x: float, y: float) -> tuple[float, float]:
    lon = x * 360.0 - 180.0
    lat = float(np.degrees(np.arctan(np.sinh(np.pi * (1.0 - 2.0 * y)))))
    return lat, lon


def ranges(starts: I64, ends: I64) -> I64:
    """The concatenation of arange(s, e) for each pair, without a Python loop."""
    lengths = ends - starts
    keep = lengths > 0
    if not keep.all():
        starts, lengths = starts[keep], lengths[keep]
    if lengths.size == 0:
        return np.zeros(0, dtype=np.int64)
    total = int(lengths.sum())
    steps = np.ones(total, dtype=np.int64)
    steps[0] = starts[0]
    boundaries = np.cumsum(lengths)[:-1]
    steps[boundaries] = starts[1:] - (starts[:-1] + lengths[:-1]) + 1
    return np.cumsum(steps)


def offsets(counts: I64) -> I64:
    """[0, c0, c0+c1, ...]: where each run starts, and the total last."""
    out = np.zeros(counts.size + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out
