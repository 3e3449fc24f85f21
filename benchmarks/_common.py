"""Helpers shared by the benchmarks: timing statistics and finding the team's data."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_OSM = PROJECT_ROOT.parent / "shared" / "osm"


def default_city_osm() -> Path | None:
    """$TOT_OSM_PATH, else the team's Porto extract beside the project, else None."""
    env = os.environ.get("TOT_OSM_PATH")
    if env:
        return Path(env)
    porto = SHARED_OSM / "porto.osm.pbf"
    return porto if porto.is_file() else None


def time_each(fn: Callable[[T], Any], inputs: Sequence[T], warmup: int = 20) -> np.ndarray:
    """Per-call wall times in microseconds; inputs are prepared beforehand, so only fn is timed."""
    for x in inputs[:warmup]:
        fn(x)
    out = np.empty(len(inputs), dtype=np.float64)
    clock = time.perf_counter_ns
    for i, x in enumerate(inputs):
        t0 = clock()
        fn(x)
        out[i] = (clock() - t0) / 1000.0
    return out


def p50(us: np.ndarray) -> float:
    return float(statistics.median(us.tolist()))


def p99(us: np.ndarray) -> float:
    return float(np.percentile(us, 99))


def row(name: str, us: np.ndarray) -> str:
    return f"{name:<46} {p50(us):>12.1f} {p99(us):>12.1f} {len(us):>8d}"
