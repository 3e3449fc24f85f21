"""What a simulated day is made of: the settings, the fleet and the calls, drawn from a seed.

A seed fixes everything a policy does not choose (where doctors start, when and where
calls come, which are emergencies, how long each visit lasts, how doctors answer
offers), so that every policy run on one seed sees the same day: paired comparisons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from routing.geo import LocalProjection

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class SimConfig:
    """One simulated day's settings; every number has its unit in its name."""

    doctors: int = 150
    calls_per_hour: float = 120.0
    hours: float = 2.0  # measured, after the warm-up
    warmup_s: float = 1_800.0  # calls in the first half hour are not measured
    drain_s: float = 7_200.0  # after the window, how long measured calls may take to end
    visit_min_s: float = 1_200.0  # a visit lasts uniformly between these
    visit_max_s: float = 2_400.0
    emergency_share: float = 0.05
    hotspot_share: float = 0.0  # share of calls drawn around a few hotspots, the rest uniform
    hotspots: int = 6
    hotspot_radius_m: float = 1_500.0
    batch_window_s: float = 10.0  # the batch policy assigns every this often
    aging_s_per_s: float = 0.5  # default policy: a second waited counts as this much ETA
    max_wait_s: float = 3_600.0  # the core gives a call up after searching this long
    offer_ttl_s: float = 15.0
    accept_delay_s: float = 0.0  # doctors answer offers after this long (0: at once)
    decline_share: float = 0.0  # share of offers declined
    ignore_share: float = 0.0  # share of offers left to expire

    def __post_init__(self) -> None:
        checks = {
            "doctors": self.doctors >= 1,
            "calls_per_hour": self.calls_per_hour > 0 and math.isfinite(self.calls_per_hour),
            "hours": self.hours > 0 and math.isfinite(self.hours),
            "warmup_s": self.warmup_s >= 0 and math.isfinite(self.warmup_s),
            "drain_s": self.drain_s >= 0 and math.isfinite(self.drain_s),
            "visit_min_s": self.visit_min_s >= 0,
            "visit_max_s": self.visit_max_s >= self.visit_min_s and math.isfinite(self.visit_max_s),
            "emergency_share": 0.0 <= self.emergency_share <= 1.0,
            "hotspot_share": 0.0 <= self.hotspot_share <= 1.0,
            "hotspots": self.hotspots >= 1,
            "hotspot_radius_m": self.hotspot_radius_m > 0,
            "batch_window_s": self.batch_window_s > 0,
            "aging_s_per_s": self.aging_s_per_s >= 0 and math.isfinite(self.aging_s_per_s),
            "max_wait_s": self.max_wait_s > 0,
            "offer_ttl_s": self.offer_ttl_s > 0,
            "accept_delay_s": 0.0 <= self.accept_delay_s < self.offer_ttl_s,
            "decline_share": 0.0 <= self.decline_share <= 1.0,
            "ignore_share": 0.0 <= self.ignore_share <= 1.0 - self.decline_share,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid simulation settings: {', '.join(bad)}")

    @property
    def window_start_s(self) -> float:
        return self.warmup_s

    @property
    def window_end_s(self) -> float:
        return self.warmup_s + self.hours * 3_600.0

    @property
    def horizon_s(self) -> float:
        """No event after this: measured calls still open then are counted as waiting."""
        return self.window_end_s + self.drain_s

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True, eq=False)
class Scenario:
    """One seed's day: the fleet's starting nodes and the calls, in time order."""

    seed: int
    doctor_nodes: IntArray
    call_s: FloatArray  # arrival times, seconds from the start of the day
    call_nodes: IntArray
    call_emergency: BoolArray
    call_visit_s: FloatArray
    call_measured: BoolArray
    offer_draws: FloatArray  # (calls, 8): one uniform draw per offer a call may get

    @property
    def calls(self) -> int:
        return int(self.call_s.shape[0])

    def offer_draw(self, call: int, offer_number: int) -> float:
        """The same number for the same call and offer under every policy."""
        draws = self.offer_draws[call]
        return float(draws[offer_number % draws.shape[0]])


def make_scenario(
    node_lat: FloatArray, node_lon: FloatArray, config: SimConfig, seed: int
) -> Scenario:
    """Draw a day on a road network given by its node positions.

    Doctors start on uniformly drawn nodes; calls arrive as a Poisson process at the
    configured rate until the horizon, each on a node drawn uniformly (node density
    follows road density, which follows where people live) or, for the hotspot share,
    near one of a few hotspot nodes.
    """
    if seed < 0:
        raise ValueError("seed must be non-negative")
    n_nodes = int(node_lat.shape[0])
    if n_nodes == 0 or node_lon.shape != node_lat.shape:
        raise ValueError("the network needs nodes with positions")
    rng = np.random.default_rng([seed, 0x70715])  # a stream of its own per seed
    doctor_nodes = rng.integers(0, n_nodes, size=config.doctors).astype(np.int64)
    rate_per_s = config.calls_per_hour / 3_600.0
    expected = rate_per_s * config.horizon_s
    gaps = rng.exponential(1.0 / rate_per_s, size=int(expected + 6.0 * math.sqrt(expected) + 16))
    times = np.cumsum(gaps)
    while times[-1] < config.horizon_s:  # pragma: no cover - six sigmas short
        more = np.cumsum(rng.exponential(1.0 / rate_per_s, size=times.size)) + times[-1]
        times = np.concatenate([times, more])
    times = times[times < config.horizon_s]
    m = int(times.size)
    nodes = rng.integers(0, n_nodes, size=m).astype(np.int64)
    hot = rng.random(m) < config.hotspot_share
    if hot.any():
        nodes[hot] = _near_hotspots(node_lat, node_lon, config, rng, int(hot.sum()))
    emergency = rng.random(m) < config.emergency_share
    visit_s = rng.uniform(config.visit_min_s, config.visit_max_s, size=m)
    measured = (times >= config.window_start_s) & (times < config.window_end_s)
    draws = rng.random((m, 8))
    return Scenario(
        seed=seed,
        doctor_nodes=doctor_nodes,
        call_s=times.astype(np.float64),
        call_nodes=nodes,
        call_emergency=emergency,
        call_visit_s=visit_s,
        call_measured=measured,
        offer_draws=draws,
    )


def _near_hotspots(
    node_lat: FloatArray,
    node_lon: FloatArray,
    config: SimConfig,
    rng: np.random.Generator,
    count: int,
) -> IntArray:
    """Nodes near a few hotspot nodes (a Gaussian of the configured radius, snapped)."""
    proj = LocalProjection(float(np.mean(node_lat)), float(np.mean(node_lon)))
    xy = proj.to_xy(node_lat, node_lon)
    centres = xy[rng.integers(0, xy.shape[0], size=config.hotspots)]
    which = rng.integers(0, config.hotspots, size=count)
    points = centres[which] + rng.normal(0.0, config.hotspot_radius_m, size=(count, 2))
    _, idx = cKDTree(xy).query(points)
    return np.asarray(idx, dtype=np.int64)
