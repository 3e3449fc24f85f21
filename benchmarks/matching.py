"""Matching benchmark: one dispatch decision, position updates, memory, batch versus greedy.

Measures this project's matcher (matching.Matcher over the in-memory DoctorRegistry and
the CCH router) in steady state, with position updates landing between decisions, and
in the same run, on the same calls, the usual ways of doing it:

* PostGIS: a GiST KNN query through asyncpg (prepared), then networkx road ETAs for
  the 20 nearest (one reverse single-source Dijkstra bounded to 15 minutes), sorted;
* brute force: a numpy scan of every doctor, then the same router ETAs and ranking.

It also measures position updates per second (one by one and in batches), memory per
doctor, and assign_batch against assign_greedy on a burst of calls in one district.

    .venv/bin/python -m benchmarks.matching [--quick] [--large] [--osm PATH] [--seed N]

The graph is the team's Porto extract (../shared/osm/porto.osm.pbf) when present, else a
generated city-sized grid. The last line printed is one JSON object.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    # `python benchmarks/matching.py`: Python put benchmarks/ first on the path, where this
    # file would stand in for the project's `{shadow}` package. Run it as what it is,
    # `python -m benchmarks.matching`, from the project's root.
    import runpy
    from pathlib import Path

    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    runpy.run_module("benchmarks.matching", run_name="__main__", alter_sys=True)
    raise SystemExit(0)

import argparse
import asyncio
import gc
import json
import math
import platform
import secrets
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import networkx as nx
import numpy as np
import numpy.typing as npt

from benchmarks._common import default_city_osm, p50, p99, row
from benchmarks.routing import to_networkx
from matching import (
    CallRequest,
    DoctorProfile,
    DoctorRegistry,
    DoctorStatus,
    Matcher,
)
from routing import RoadGraph, Router, haversine_m
from routing.geo import LocalProjection
from routing.synthetic import generate_city
from services.road_network import load_road_graph

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW_S = 1.8e9  # a fixed epoch: the registry and matcher take time as an argument
M_PER_DEG_LAT = 111_195.0
GPS_JITTER_DEG = 1e-4  # about 10 m
MOVE_SIGMA_M = 2.0  # a small move between two fixes, per axis
DECISION_SPAN_S = 60.0  # simulated time the decision run covers (fixes stay fresh: < 120 s)
MOVES_EVERY = 10  # decisions between two batches of position updates
MOVES_PER_BATCH = 50
NX_CUTOFF_S = 15 * 60.0
UPDATE_BATCH = 1_000
BURST_CALLS = 60
BURST_EMERGENCIES = 6
BURST_DOCTORS = 300
BURST_CALL_RADIUS_M = 1_500.0
BURST_DOCTOR_RADIUS_M = 2_500.0

KNN_SQL = (
    "SELECT id FROM doctors WHERE available "
    "ORDER BY geom <-> ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography LIMIT 20"
)

SPECIALIZATIONS = ("general",) * 7 + ("pediatrics", "cardiology", "neurology")
RU = frozenset({"ru"})
RU_EN = frozenset({"ru", "en"})


# -- the population -----------------------------------------------------------------------


def make_profiles(n: int, seed: int, prefix: str = "d") -> list[DoctorProfile]:
    """n doctors' profiles; the same seed gives the same doctors (for every registry built)."""
    rng = np.random.default_rng(seed)
    ratings = np.round(rng.uniform(3.5, 5.0, n), 1).tolist()
    visits = rng.integers(0, 7, n).tolist()
    spec = rng.integers(0, len(SPECIALIZATIONS), n).tolist()
    children = (rng.random(n) < 0.3).tolist()
    english = (rng.random(n) < 0.25).tolist()
    ecg = (rng.random(n) < 0.3).tolist()
    oximeter = (rng.random(n) < 0.6).tolist()
    defibrillator = (rng.random(n) < 0.1).tolist()
    out = []
    for i in range(n):
        specialization = SPECIALIZATIONS[spec[i]]
        paediatrician = specialization == "pediatrics"
        kit = [
            name
            for name, has in (
                ("ecg", ecg[i]),
                ("pulse_oximeter", oximeter[i]),
                ("defibrillator", defibrillator[i]),
            )
            if has
        ]
        out.append(
            DoctorProfile(
                doctor_id=f"{prefix}{i:06d}",
                specialization=specialization,
                treats_adults=not paediatrician,
                treats_children=paediatrician or children[i],
                languages=RU_EN if english[i] else RU,
                equipment=frozenset(kit),
                rating=ratings[i],
                visits_today=visits[i],
            )
        )
    return out


@dataclass
class Positions:
    lat: FloatArray
    lon: FloatArray
    accuracy_m: FloatArray
    fix_s: FloatArray


def positions_at_nodes(
    graph: RoadGraph, nodes: IntArray, rng: np.random.Generator, now_s: float
) -> Positions:
    """Positions at these road nodes plus about 10 m of GPS noise, fixed a few seconds ago."""
    n = nodes.size
    jitter = rng.normal(0.0, GPS_JITTER_DEG, size=(n, 2))
    return Positions(
        lat=graph.node_lat[nodes] + jitter[:, 0],
        lon=graph.node_lon[nodes] + jitter[:, 1],
        accuracy_m=rng.uniform(8.0, 15.0, n),
        fix_s=now_s - rng.uniform(1.0, 5.0, n),
    )


def build_registry(
    projection: LocalProjection,
    profiles: Sequence[DoctorProfile],
    pos: Positions,
    now_s: float,
    snapper: Router | None = None,
) -> DoctorRegistry:
    registry = DoctorRegistry(projection)
    # The engine loads positions in batches with the router attached (as on recovery),
    # so doctors arrive already snapped to the road.
    registry.snapper = snapper
    for profile in profiles:
        registry.upsert_doctor(profile, DoctorStatus.AVAILABLE)
    result = registry.update_positions(
        [p.doctor_id for p in profiles], pos.lat, pos.lon, pos.accuracy_m, pos.fix_s, now_s
    )
    assert result.accepted == len(profiles) and not result.rejected, result.rejected[:5]
    return registry


def make_calls(
    graph: RoadGraph, nodes: IntArray, rng: np.random.Generator, prefix: str = "c"
) -> list[CallRequest]:
    """Calls at these nodes (plus GPS noise), with a realistic mix of demands."""
    jitter = rng.normal(0.0, GPS_JITTER_DEG, size=(nodes.size, 2))
    kind = rng.random(nodes.size).tolist()
    lat = (graph.node_lat[nodes] + jitter[:, 0]).tolist()
    lon = (graph.node_lon[nodes] + jitter[:, 1]).tolist()
    calls = []
    for i in range(nodes.size):
        k = kind[i]
        call_id = f"{prefix}{i:06d}"
        if k < 0.60:  # an adult, no special demands
            c = CallRequest(call_id, lat[i], lon[i])
        elif k < 0.80:
            c = CallRequest(call_id, lat[i], lon[i], patient_is_child=True)
        elif k < 0.90:
            c = CallRequest(call_id, lat[i], lon[i], languages=frozenset({"en"}))
        elif k < 0.95:
            c = CallRequest(call_id, lat[i], lon[i], specialization="cardiology")
        else:
            c = CallRequest(
                call_id, lat[i], lon[i], call_type="urgent", equipment=frozenset({"ecg"})
            )
        calls.append(c)
    return calls


# -- steady-state decisions, against a brute-force scan ----------------------------------


@dataclass
class MoveBatch:
    ids: list[str]
    lat: FloatArray
    lon: FloatArray
    accuracy_m: FloatArray
    fix_s: FloatArray
    now_s: float


def plan_moves(
    ids: Sequence[str],
    pos: Positions,
    batches: int,
    per_batch: int,
    now_of_batch: Sequence[float],
    rng: np.random.Generator,
) -> list[MoveBatch]:
    """Batches of small moves of distinct doctors, each fix later than that doctor's last."""
    lat = pos.lat.copy()
    lon = pos.lon.copy()
    last = pos.fix_s.copy()
    m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(float(lat.mean())))
    out = []
    for b in range(batches):
        who = rng.choice(len(ids), per_batch, replace=False)
        step = rng.normal(0.0, MOVE_SIGMA_M, size=(per_batch, 2))
        lat[who] += step[:, 0] / M_PER_DEG_LAT
        lon[who] += step[:, 1] / m_per_deg_lon
        now = now_of_batch[b]
        fix = np.maximum(now - rng.uniform(0.0, 0.5, per_batch), last[who] + 1e-3)
        last[who] = fix
        out.append(
            MoveBatch(
                [ids[i] for i in who.tolist()],
                lat[who].copy(),
                lon[who].copy(),
                rng.uniform(8.0, 15.0, per_batch),
                fix,
                now,
            )
        )
    return out


def brute_force_ranking(
    registry: DoctorRegistry, router: Router, call: CallRequest, now_s: float
) -> tuple[str, ...]:
    """What decide() ranks, found the obvious way: scan every doctor, then the same ETAs."""
    policy = registry.policy
    k = policy.k
    slots = registry.positioned_slots()
    x, y = registry.projected_xy(slots)
    proj = registry.projection
    d = np.hypot(x - (call.lon - proj.lon0) * proj.kx, y - (call.lat - proj.lat0) * proj.ky)
    why = registry.exclusions(slots, call, now_s, allow_on_visit=policy.offer_doctors_on_visit)
    eligible = np.flatnonzero((why == 0) & (d <= policy.search_radius_m))
    if eligible.size > k:
        eligible = eligible[np.argpartition(d[eligible], k - 1)[:k]]
    eligible = eligible[np.lexsort((slots[eligible], d[eligible]))]
    chosen = slots[eligible]
    patient = router.snap(call.lat, call.lon)
    nodes = registry.road_nodes(chosen, router)
    eta_s = np.full(chosen.size, np.nan)
    routable = nodes >= 0
    if routable.any():
        eta_s[routable] = router.etas_from_nodes(nodes[routable].tolist(), patient.node)
    rating = registry.ratings(chosen).astype(np.float64)
    visits = registry.visits_today(chosen)
    cost_s = (
        eta_s
        + registry.visit_remainder_s(chosen, now_s)
        - policy.rating_weight_s_per_star * rating
        + policy.fairness_weight_s_per_visit * visits
    )
    ranked = np.flatnonzero(~np.isnan(cost_s))
    order = ranked[np.lexsort((chosen[ranked], visits[ranked], -rating[ranked], cost_s[ranked]))]
    return tuple(registry.doctor_ids(chosen[order].tolist()))


@dataclass
class DecisionRun:
    decide_us: FloatArray
    brute_us: FloatArray
    moved_seen: FloatArray
    agree: int
    rebuilds: int
    moves_applied: int
    move_rejections: int
    empty_rankings: int


def run_decisions(
    matcher: Matcher,
    router: Router,
    calls: Sequence[CallRequest],
    warmup: Sequence[CallRequest],
    moves: Sequence[MoveBatch],
    now_of_call: Sequence[float],
) -> DecisionRun:
    """Time decide() and the brute-force scan on the same state, call by call.

    Every MOVES_EVERY decisions a batch of position updates lands (untimed), so the
    registry has doctors moved since its KD-tree snapshot, as in production. The two
    timed functions take turns going first, so neither profits from the other's snaps.
    """
    registry = matcher.registry
    for c in warmup:
        matcher.decide(c, now_of_call[0])
        brute_force_ranking(registry, router, c, now_of_call[0])
    clock = time.perf_counter_ns
    n = len(calls)
    decide_us = np.empty(n)
    brute_us = np.empty(n)
    moved_seen = np.empty(n)
    agree = 0
    empty = 0
    rejections = 0
    applied = 0
    rebuilds_before = registry.index_rebuilds
    for i, call in enumerate(calls):
        if i and i % MOVES_EVERY == 0:
            mv = moves[i // MOVES_EVERY - 1]
            res = registry.update_positions(
                mv.ids, mv.lat, mv.lon, mv.accuracy_m, mv.fix_s, mv.now_s
            )
            rejections += len(res.rejected)
            applied += res.accepted
        now = now_of_call[i]
        moved_seen[i] = registry.moved_since_snapshot
        if i % 2 == 0:
            t0 = clock()
            decision = matcher.decide(call, now)
            t1 = clock()
            brute = brute_force_ranking(registry, router, call, now)
            t2 = clock()
            decide_us[i] = (t1 - t0) / 1000.0
            brute_us[i] = (t2 - t1) / 1000.0
        else:
            t0 = clock()
            brute = brute_force_ranking(registry, router, call, now)
            t1 = clock()
            decision = matcher.decide(call, now)
            t2 = clock()
            brute_us[i] = (t1 - t0) / 1000.0
            decide_us[i] = (t2 - t1) / 1000.0
        agree += decision.ranking == brute
        empty += not decision.ranking
    return DecisionRun(
        decide_us,
        brute_us,
        moved_seen,
        agree,
        registry.index_rebuilds - rebuilds_before,
        applied,
        rejections,
        empty,
    )


# -- the usual way: PostGIS KNN, then networkx ETAs ---------------------------------------


@dataclass
class PostgisRun:
    total_us: FloatArray
    knn_us: FloatArray
    index_scan: bool
    insert_s: float
    nx_build_s: float
    database: str


async def postgis_baseline(
    ids: Sequence[str],
    lat: FloatArray,
    lon: FloatArray,
    calls: Sequence[CallRequest],
    router: Router,
) -> PostgisRun | str:
    """Per call: KNN over a GiST index (asyncpg, prepared), networkx ETAs, sort by ETA.

    Returns a note instead when PostgreSQL or PostGIS is not there. The database is
    created fresh and always dropped. The networkx graph is built here (untimed), only
    when the database is there to pair it with.
    """
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:  # incl. timeouts
        return f"PostgreSQL unreachable at {ADMIN_DSN} ({exc.__class__.__name__}: {exc})"
    name = f"tot_bench_{secrets.token_hex(6)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = ADMIN_DSN.rpartition("/")
        conn = await asyncpg.connect(f"{base}/{name}", timeout=10)
        try:
            try:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            except asyncpg.PostgresError as exc:
                return f"PostGIS is not available ({exc})"
            t0 = time.perf_counter()
            await conn.execute(
                "CREATE TABLE doctors ("
                " id text PRIMARY KEY, geom geography(Point, 4326) NOT NULL,"
                " available bool NOT NULL)"
            )
            await conn.execute("CREATE TEMP TABLE staging (id text, lon float8, lat float8)")
            await conn.copy_records_to_table(
                "staging",
                records=list(zip(ids, lon.tolist(), lat.tolist(), strict=True)),
                columns=["id", "lon", "lat"],
            )
            await conn.execute(
                "INSERT INTO doctors (id, geom, available) "
                "SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, true "
                "FROM staging"
            )
            await conn.execute("CREATE INDEX doctors_geom_gist ON doctors USING gist (geom)")
            await conn.execute("ANALYZE doctors")
            insert_s = time.perf_counter() - t0
            plan = await conn.fetch("EXPLAIN " + KNN_SQL, calls[0].lat, calls[0].lon)
            index_scan = any("doctors_geom_gist" in r[0] for r in plan)
            stmt = await conn.prepare(KNN_SQL)
            t0 = time.perf_counter()
            reverse = to_networkx(router.graph).reverse(copy=False)
            nx_build_s = time.perf_counter() - t0

            index_of = {d: i for i, d in enumerate(ids)}

            async def one(call: CallRequest) -> tuple[list[str], int, int]:
                t0 = time.perf_counter_ns()
                rows = await stmt.fetch(call.lat, call.lon)
                t1 = time.perf_counter_ns()
                found = [r[0] for r in rows]
                where = [index_of[d] for d in found]
                nodes = router.nearest_nodes(lat[where], lon[where])[0].tolist()
                target = router.snap(call.lat, call.lon).node
                times = nx.single_source_dijkstra_path_length(
                    reverse, target, cutoff=NX_CUTOFF_S, weight="travel_time"
                )
                etas = [times.get(v, math.inf) for v in nodes]
                order = sorted(range(len(found)), key=etas.__getitem__)
                ranked = [found[i] for i in order if etas[i] < math.inf]
                t2 = time.perf_counter_ns()
                return ranked, t1 - t0, t2 - t0

            for c in calls[:2]:  # warm-up
                await one(c)
            total_us = np.empty(len(calls))
            knn_us = np.empty(len(calls))
            for i, c in enumerate(calls):
                _, knn_ns, total_ns = await one(c)
                knn_us[i] = knn_ns / 1000.0
                total_us[i] = total_ns / 1000.0
            return PostgisRun(total_us, knn_us, index_scan, insert_s, nx_build_s, name)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# -- position updates ----------------------------------------------------------------


@dataclass
class UpdatePlan:
    ids: list[str]
    lat: FloatArray
    lon: FloatArray
    accuracy_m: FloatArray
    fix_s: FloatArray
    now_s: FloatArray  # when each fix reaches the registry


def plan_updates(
    ids: Sequence[str], pos: Positions, total: int, rng: np.random.Generator
) -> UpdatePlan:
    """`total` fixes, in passes over all doctors (in a shuffled order), a few metres apart.

    Pass p fixes each doctor at about NOW_S + 5 (p + 1) s, so every doctor's fixes are
    strictly increasing in time, and 2 m steps are never an implausible jump.
    """
    n = len(ids)
    passes = -(-total // n)
    order = rng.permutation(n)
    who = np.tile(order, passes)[:total]
    period_s = 5.0
    m_per_deg_lon = M_PER_DEG_LAT * math.cos(math.radians(float(pos.lat.mean())))
    steps = rng.normal(0.0, MOVE_SIGMA_M, size=(passes, n, 2))
    walk_lat = pos.lat[None, :] + np.cumsum(steps[:, :, 0], axis=0) / M_PER_DEG_LAT
    walk_lon = pos.lon[None, :] + np.cumsum(steps[:, :, 1], axis=0) / m_per_deg_lon
    pass_of = np.arange(total) // n
    within = (np.arange(total) % n) / n
    fix_s = NOW_S + period_s * (pass_of + 1 + 0.9 * within)
    return UpdatePlan(
        ids=[ids[i] for i in who.tolist()],
        lat=walk_lat[pass_of, who],
        lon=walk_lon[pass_of, who],
        accuracy_m=rng.uniform(8.0, 15.0, total),
        fix_s=fix_s,
        now_s=fix_s + 0.2,
    )


def time_single_updates(registry: DoctorRegistry, plan: UpdatePlan) -> tuple[float, int]:
    """update_position in a loop: fixes per second and rejections."""
    update = registry.update_position
    ids = plan.ids
    lat = plan.lat.tolist()
    lon = plan.lon.tolist()
    acc = plan.accuracy_m.tolist()
    fix = plan.fix_s.tolist()
    now = plan.now_s.tolist()
    rejected = 0
    t0 = time.perf_counter()
    for i in range(len(ids)):
        if update(ids[i], lat[i], lon[i], acc[i], fix[i], now[i]) is not None:
            rejected += 1
    elapsed = time.perf_counter() - t0
    return len(ids) / elapsed, rejected


def time_batched_updates(
    registry: DoctorRegistry, plan: UpdatePlan, batch: int
) -> tuple[float, int, FloatArray]:
    """update_positions in batches: fixes per second, rejections, per-batch latencies (us)."""
    starts = list(range(0, len(plan.ids), batch))
    slices = [
        (
            plan.ids[s : s + batch],
            plan.lat[s : s + batch],
            plan.lon[s : s + batch],
            plan.accuracy_m[s : s + batch],
            plan.fix_s[s : s + batch],
            float(plan.now_s[s : s + batch].max()),
        )
        for s in starts
    ]
    rejected = 0
    per_batch = np.empty(len(slices))
    clock = time.perf_counter_ns
    t0 = clock()
    for i, (ids, lat, lon, acc, fix, now) in enumerate(slices):
        b0 = clock()
        res = registry.update_positions(ids, lat, lon, acc, fix, now)
        per_batch[i] = (clock() - b0) / 1000.0
        rejected += len(res.rejected)
    elapsed = (clock() - t0) / 1e9
    return len(plan.ids) / elapsed, rejected, per_batch


# -- memory ------------------------------------------------------------------------


def bytes_per_doctor(projection: LocalProjection, n: int, seed: int, pos: Positions) -> int:
    """Memory a separate registry holds per doctor (profiles + positions + index), by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        profiles = make_profiles(n, seed)  # the ids the registry keeps are made in here
        registry = build_registry(projection, profiles, pos, NOW_S)
        del profiles
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - base
        assert len(registry) == n
    finally:
        tracemalloc.stop()
    return used // n


# -- a burst: batch versus greedy ----------------------------------------------------------


@dataclass
class BurstRun:
    greedy_total_s: float
    batch_total_s: float
    greedy_assigned: int
    batch_assigned: int
    greedy_ms: float
    batch_ms: float
    district: tuple[float, float]


def run_burst(
    graph: RoadGraph,
    router: Router,
    projection: LocalProjection,
    seed: int,
    rng: np.random.Generator,
) -> BurstRun:
    """BURST_CALLS calls within 1.5 km of one busy spot, BURST_DOCTORS doctors within 2.5 km."""
    # The district: the road node nearest the median node, the heart of the road network.
    centre = router.snap(float(np.median(graph.node_lat)), float(np.median(graph.node_lon)))
    dist = haversine_m(centre.lat, centre.lon, graph.node_lat, graph.node_lon)
    doctor_nodes = rng.choice(np.flatnonzero(dist <= BURST_DOCTOR_RADIUS_M), BURST_DOCTORS)
    call_nodes = rng.choice(np.flatnonzero(dist <= BURST_CALL_RADIUS_M), BURST_CALLS)
    profiles = make_profiles(BURST_DOCTORS, seed + 2, prefix="b")
    registry = build_registry(
        projection, profiles, positions_at_nodes(graph, doctor_nodes, rng, NOW_S), NOW_S
    )
    matcher = Matcher(registry, router)
    calls = make_calls(graph, call_nodes, rng, prefix="burst")
    emergencies = set(rng.choice(BURST_CALLS, BURST_EMERGENCIES, replace=False).tolist())
    calls = [
        CallRequest(c.call_id, c.lat, c.lon, call_type="urgent", is_emergency=True)
        if i in emergencies
        else c
        for i, c in enumerate(calls)
    ]
    t0 = time.perf_counter()
    greedy = matcher.assign_greedy(calls, NOW_S)
    t1 = time.perf_counter()
    batch = matcher.assign_batch(calls, NOW_S)
    t2 = time.perf_counter()
    return BurstRun(
        greedy.total_time_to_doctor_s,
        batch.total_time_to_doctor_s,
        len(greedy.assignments),
        len(batch.assignments),
        (t1 - t0) * 1000.0,
        (t2 - t1) * 1000.0,
        (centre.lat, centre.lon),
    )


# -- the run ---------------------------------------------------------------------------


def load_graph(args: argparse.Namespace) -> tuple[RoadGraph, str]:
    osm = args.osm or default_city_osm()
    if osm is None:
        print(
            "note: ../shared/osm/porto.osm.pbf not found; using a generated city-sized graph",
            file=sys.stderr,
        )
        return generate_city(400, seed=args.seed), "generated-grid-400x400"
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = args.cache_dir or Path(tmp)
        return load_road_graph(osm, cache_dir).graph, osm.name


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--osm",
        type=Path,
        help="extract to match on (default: Porto from ../shared, else generated)",
    )
    ap.add_argument("--quick", action="store_true", help="fewer calls; finishes within 90 s")
    ap.add_argument("--large", action="store_true", help="100,000 online doctors (else 10,000)")
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--cache-dir", type=Path, help="graph cache folder (default: a temporary one)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n_doctors = 100_000 if args.large else 10_000
    n_calls = 2_000 if args.quick else 10_000
    n_base = 30 if args.quick else 200
    n_single = 50_000
    n_batched = 200_000 if args.quick else 500_000

    started = time.perf_counter()
    graph, graph_name = load_graph(args)
    graph_s = time.perf_counter() - started
    router = Router(graph)
    projection = LocalProjection(float(graph.node_lat.mean()), float(graph.node_lon.mean()))

    # -- 1. set-up ----------------------------------------------------------------------
    doctor_nodes = rng.integers(graph.node_count, size=n_doctors)
    start_pos = positions_at_nodes(graph, doctor_nodes, rng, NOW_S)
    profiles = make_profiles(n_doctors, args.seed + 1)
    ids = [p.doctor_id for p in profiles]
    t0 = time.perf_counter()
    registry = build_registry(projection, profiles, start_pos, NOW_S, router)
    setup_s = time.perf_counter() - t0
    matcher = Matcher(registry, router)

    # -- 2. decisions in steady state (and 3b, the brute-force scan, on the same state) -----
    calls = make_calls(graph, rng.integers(graph.node_count, size=n_calls), rng)
    warmup = make_calls(graph, rng.integers(graph.node_count, size=20), rng, prefix="w")
    dt = DECISION_SPAN_S / n_calls
    now_of_call = [NOW_S + i * dt for i in range(n_calls)]
    n_moves = (n_calls - 1) // MOVES_EVERY
    moves = plan_moves(
        ids,
        start_pos,
        n_moves,
        MOVES_PER_BATCH,
        [now_of_call[(b + 1) * MOVES_EVERY] for b in range(n_moves)],
        rng,
    )
    # A long-running engine freezes its start-up heap (gc.freeze) so that full GC passes
    # do not walk every long-lived object on a decision's clock; so does this run.
    gc.collect()
    gc.freeze()
    dec = run_decisions(matcher, router, calls, warmup, moves, now_of_call)
    gc.unfreeze()
    assert dec.move_rejections == 0, f"{dec.move_rejections} interleaved fixes were rejected"

    # -- 3a. PostGIS KNN + networkx ETAs, the same calls --------------------------------------
    slots = registry.positioned_slots()
    doc_lat, doc_lon = registry.lat_lon(slots)
    pg: PostgisRun | None = None
    outcome = asyncio.run(
        postgis_baseline(
            registry.doctor_ids(slots.tolist()),
            doc_lat.copy(),
            doc_lon.copy(),
            calls[:n_base],
            router,
        )
    )
    gc.collect()
    if isinstance(outcome, str):
        print(f"note: PostGIS baseline skipped: {outcome}", file=sys.stderr)
    else:
        pg = outcome

    # -- 4. position updates per second --------------------------------------------------------
    upd_registry = build_registry(projection, profiles, start_pos, NOW_S)
    single_plan = plan_updates(ids, start_pos, n_single, rng)
    single_rate, single_rejected = time_single_updates(upd_registry, single_plan)
    upd_registry = build_registry(projection, profiles, start_pos, NOW_S, router)
    batch_plan = plan_updates(ids, start_pos, n_batched, rng)
    rebuilds1 = upd_registry.index_rebuilds
    batched_rate, batched_rejected, batch_us = time_batched_updates(
        upd_registry, batch_plan, UPDATE_BATCH
    )
    batched_rebuilds = upd_registry.index_rebuilds - rebuilds1
    assert single_rejected == 0 and batched_rejected == 0, (single_rejected, batched_rejected)
    del upd_registry, single_plan, batch_plan
    gc.collect()

    # -- 5. memory per doctor --------------------------------------------------------------
    per_doctor = bytes_per_doctor(projection, n_doctors, args.seed + 1, start_pos)

    # -- 6. batch versus greedy on a burst -------------------------------------------------
    # Its own generator: the same burst whatever the mode and the draws made before it.
    burst = run_burst(graph, router, projection, args.seed, np.random.default_rng(args.seed + 3))
    gain = (burst.greedy_total_s - burst.batch_total_s) / burst.greedy_total_s
    wall_s = time.perf_counter() - started

    # -- report --------------------------------------------------------------------------
    d50, d99 = p50(dec.decide_us), p99(dec.decide_us)
    b50, b99 = p50(dec.brute_us), p99(dec.brute_us)
    moved_mean = float(dec.moved_seen.mean())
    print(
        f"graph: {graph_name}: {graph.node_count} nodes, {graph.edge_count} edges "
        f"(ready in {graph_s:.1f} s); python {platform.python_version()}; "
        f"{n_doctors:,} online doctors (registry built in {setup_s * 1000:.0f} ms), "
        f"k={registry.policy.k}"
    )
    print(
        f"steady state: {MOVES_PER_BATCH} position fixes every {MOVES_EVERY} decisions; "
        f"doctors moved since the KD-tree snapshot at decision time: mean {moved_mean:.0f}, "
        f"max {int(dec.moved_seen.max())}; {dec.rebuilds} snapshot rebuilds during the run"
    )
    print(f"{'operation (microseconds)':<46} {'p50':>12} {'p99':>12} {'queries':>8}")
    print(row("ours: decide() (candidates+ETAs+rank)", dec.decide_us))
    print(row("brute force: numpy scan + same ETAs/rank", dec.brute_us))
    if pg is not None:
        print(row("PostGIS: KNN LIMIT 20 alone (asyncpg)", pg.knn_us))
        print(row("PostGIS KNN + networkx ETAs + sort", pg.total_us))
    else:
        print(f"{'PostGIS KNN + networkx ETAs + sort':<46} {'skipped':>12}")
    speedup_base = None if pg is None else p50(pg.total_us) / d50
    speedup_brute = b50 / d50
    print(
        f"decide() agrees with the brute-force ranking on {dec.agree}/{n_calls} calls "
        f"({dec.empty_rankings} calls had no candidate); speedup p50/p50: "
        + (f"{speedup_base:.0f}x vs PostGIS+networkx, " if speedup_base is not None else "")
        + f"{speedup_brute:.1f}x vs brute force"
    )
    if pg is not None:
        print(
            f"PostGIS: {len(ids):,} rows inserted and indexed in {pg.insert_s:.2f} s; "
            f"KNN plan uses the GiST index: {'yes' if pg.index_scan else 'NO'}; "
            f"networkx graph built in {pg.nx_build_s:.1f} s (untimed)"
        )
    print(
        f"position updates: {single_rate:,.0f}/s one by one ({n_single:,} fixes), "
        f"{batched_rate:,.0f}/s in batches of {UPDATE_BATCH:,} ({n_batched:,} fixes; per batch "
        f"p50 {p50(batch_us) / 1000:.2f} ms, p99 {p99(batch_us) / 1000:.2f} ms, "
        f"max {batch_us.max() / 1000:.2f} ms, {batched_rebuilds} snapshot rebuilds); "
        f"rejected: {single_rejected + batched_rejected}"
    )
    print(f"memory: {per_doctor} bytes per doctor (tracemalloc, {n_doctors:,} doctors)")
    same = burst.greedy_assigned == burst.batch_assigned
    print(
        f"burst of {BURST_CALLS} calls ({BURST_EMERGENCIES} emergencies) within "
        f"{BURST_CALL_RADIUS_M / 1000:.1f} km of ({burst.district[0]:.4f}, "
        f"{burst.district[1]:.4f}), {BURST_DOCTORS} doctors within "
        f"{BURST_DOCTOR_RADIUS_M / 1000:.1f} km: greedy assigned {burst.greedy_assigned} "
        f"(total time to doctor {burst.greedy_total_s:,.0f} s, {burst.greedy_ms:.0f} ms), "
        f"batch assigned {burst.batch_assigned} ({burst.batch_total_s:,.0f} s, "
        f"{burst.batch_ms:.0f} ms); batch gain {gain * 100:.1f} %"
        + ("" if same else " -- WARNING: different numbers of calls assigned")
    )
    print(f"wall time {wall_s:.1f} s")
    summary = {
        "benchmark": "matching",
        "doctors": n_doctors,
        "graph": graph_name,
        "graph_nodes": graph.node_count,
        "graph_edges": graph.edge_count,
        "decisions": n_calls,
        "decision_p50_us": round(d50, 1),
        "decision_p99_us": round(d99, 1),
        "baseline_calls": n_base if pg is not None else 0,
        "baseline_p50_us": None if pg is None else round(p50(pg.total_us), 1),
        "baseline_p99_us": None if pg is None else round(p99(pg.total_us), 1),
        "postgis_knn_p50_us": None if pg is None else round(p50(pg.knn_us), 1),
        "postgis_knn_p99_us": None if pg is None else round(p99(pg.knn_us), 1),
        "bruteforce_p50_us": round(b50, 1),
        "bruteforce_p99_us": round(b99, 1),
        "speedup_vs_baseline": None if speedup_base is None else round(speedup_base, 1),
        "speedup_vs_bruteforce": round(speedup_brute, 2),
        "bruteforce_agreement": f"{dec.agree}/{n_calls}",
        "updates_per_s": round(single_rate),
        "updates_per_s_batched": round(batched_rate),
        "update_batch_p99_ms": round(p99(batch_us) / 1000.0, 2),
        "update_rejections": single_rejected + batched_rejected,
        "bytes_per_doctor": int(per_doctor),
        "batch_vs_greedy_gain": round(gain, 4),
        "greedy_total_s": round(burst.greedy_total_s, 1),
        "batch_total_s": round(burst.batch_total_s, 1),
        "greedy_assigned": burst.greedy_assigned,
        "batch_assigned": burst.batch_assigned,
        "moved_since_snapshot_mean": round(moved_mean, 1),
        "index_rebuilds": dec.rebuilds,
        "seed": args.seed,
        "quick": bool(args.quick),
        "wall_s": round(wall_s, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
