"""Routing benchmark: snapping, point-to-point and 20-candidate many-to-one ETAs.

Measures this project's router (RoutingKit CCH) and networkx used as people use it at
its best (one single-source Dijkstra from the patient on the reversed graph, bounded
to 15 minutes) in the same run, on the same graph, with the same random queries.

    .venv/bin/python -m benchmarks.routing [--osm PATH] [--quick]

The graph is the team's Porto extract (../shared/osm/porto.osm.pbf) when present,
else a generated city-sized grid. The last line printed is one JSON object.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and not __package__:
    # `python benchmarks/routing.py`: Python put benchmarks/ first on the path, where this
    # file would stand in for the project's `routing` package. Run it as what it is,
    # `python -m benchmarks.routing`, from the project's root.
    import runpy
    from pathlib import Path

    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    runpy.run_module("benchmarks.routing", run_name="__main__", alter_sys=True)
    raise SystemExit(0)

import argparse
import gc
import json
import platform
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from benchmarks._common import default_city_osm, p50, p99, row, time_each
from routing import RoadGraph, Router, haversine_m
from routing.synthetic import generate_city
from services.road_network import load_road_graph

K = 20
CANDIDATE_RADIUS_M = 5_000.0
NX_CUTOFF_S = 15 * 60.0


def make_dispatch_queries(
    graph: RoadGraph, count: int, rng: np.random.Generator
) -> list[tuple[float, float, np.ndarray, np.ndarray]]:
    """(patient lat, lon, doctors' lats, lons): 20 doctors within 5 km, positions jittered off the nodes."""
    queries: list[tuple[float, float, np.ndarray, np.ndarray]] = []
    lat, lon = graph.node_lat, graph.node_lon
    while len(queries) < count:
        p = int(rng.integers(graph.node_count))
        near = np.flatnonzero(haversine_m(lat[p], lon[p], lat, lon) <= CANDIDATE_RADIUS_M)
        if near.size < K:
            continue
        docs = rng.choice(near, K, replace=False)
        jitter = rng.normal(0.0, 1e-4, size=(K + 1, 2))  # about 10 m of GPS noise
        queries.append(
            (
                float(lat[p] + jitter[0, 0]),
                float(lon[p] + jitter[0, 1]),
                lat[docs] + jitter[1:, 0],
                lon[docs] + jitter[1:, 1],
            )
        )
    return queries


def to_networkx(graph: RoadGraph) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_weighted_edges_from(
        zip(
            graph.edge_tail.tolist(),
            graph.edge_head.tolist(),
            (graph.edge_travel_time_ms / 1000.0).tolist(),
            strict=True,
        ),
        weight="travel_time",
    )
    return g


def exactness(
    graph: RoadGraph, router: Router, rng: np.random.Generator, pairs: int
) -> dict[str, float]:
    """Max relative / absolute error of our ETAs against exact Dijkstra on unrounded travel times."""
    n = graph.node_count
    sources_count = 20
    sources = rng.integers(0, n, sources_count)
    exact_s = graph.edge_length_m.astype(np.float64) / (
        graph.edge_speed_kph.astype(np.float64) / 3.6
    )
    adj = csr_matrix((exact_s, (graph.edge_tail, graph.edge_head)), shape=(n, n))
    dist = dijkstra(adj, directed=True, indices=sources)
    rel = []
    abs_err = []
    for i, s in enumerate(sources.tolist()):
        for t in rng.integers(0, n, pairs // sources_count).tolist():
            ours = router.travel_time_s(s, t)
            want = float(dist[i, t])
            assert ours is not None and np.isfinite(want)
            abs_err.append(abs(ours - want))
            if want > 0:
                rel.append(abs(ours - want) / want)
    return {
        "max_rel_err": float(max(rel)),
        "max_abs_err_s": float(max(abs_err)),
        "pairs": len(abs_err),
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--osm",
        type=Path,
        help="extract to route on (default: Porto from ../shared, else generated)",
    )
    ap.add_argument("--quick", action="store_true", help="fewer queries; finishes within 60 s")
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--cache-dir", type=Path, help="graph cache folder (default: a temporary one)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    n_ours = 2_000 if args.quick else 10_000
    n_nx = 30 if args.quick else 200

    osm = args.osm or default_city_osm()
    build_s: float | None = None
    warm_load_s: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = args.cache_dir or Path(tmp)
        if osm is not None:
            name = osm.name
            loaded = load_road_graph(osm, cache_dir)
            build_s = None if loaded.cache_hit else loaded.seconds
            t0 = time.perf_counter()
            warm = load_road_graph(osm, cache_dir)
            Router(warm.graph)
            warm_load_s = time.perf_counter() - t0
            assert warm.cache_hit
            graph = warm.graph
        else:
            print(
                "note: ../shared/osm/porto.osm.pbf not found; using a generated city-sized graph",
                file=sys.stderr,
            )
            name = "generated-grid-400x400"
            t0 = time.perf_counter()
            graph = generate_city(400, seed=args.seed)
            build_s = time.perf_counter() - t0

    router = Router(graph)
    queries = make_dispatch_queries(graph, n_ours, rng)
    # As a long-running engine does after start-up: keep full GC passes off the clock.
    gc.collect()
    gc.freeze()

    # -- ours ------------------------------------------------------------------------
    snap_us = time_each(lambda q: router.snap(q[0], q[1]), queries)
    # Doctors are snapped when their fixes arrive (the registry's job), so the dispatch
    # hot path is: snap the patient, then one many-to-one sweep.
    presnapped = [(q[0], q[1], router.nearest_nodes(q[2], q[3])[0].tolist()) for q in queries]
    m2o_us = time_each(
        lambda q: router.etas_from_nodes(q[2], router.snap(q[0], q[1]).node), presnapped
    )
    m2o_full_us = time_each(lambda q: router.many_to_one(q[2], q[3], q[0], q[1]), queries)
    p2p_inputs = [((float(q[2][0]), float(q[3][0])), (q[0], q[1])) for q in queries]
    p2p_us = time_each(lambda q: router.route(q[0], q[1]), p2p_inputs)

    # -- networkx at its best ------------------------------------------------------------
    nxg = to_networkx(graph)
    reverse = nxg.reverse(copy=False)

    def nx_many_to_one(q: tuple[float, float, list[int]]) -> list[float | None]:
        target = router.snap(q[0], q[1]).node
        times = nx.single_source_dijkstra_path_length(
            reverse, target, cutoff=NX_CUTOFF_S, weight="travel_time"
        )
        return [times.get(d) for d in q[2]]

    def nx_p2p(q: tuple[float, float, list[int]]) -> float:
        target = router.snap(q[0], q[1]).node
        return float(nx.bidirectional_dijkstra(nxg, q[2][0], target, weight="travel_time")[0])

    nx_inputs = presnapped[:n_nx]
    nx_m2o_us = time_each(nx_many_to_one, nx_inputs, warmup=2)
    nx_p2p_us = time_each(nx_p2p, nx_inputs, warmup=2)
    # Same answers, where networkx's 15-minute bound lets it answer.
    agree = 0
    compared = 0
    for q in nx_inputs[:20]:
        ours = router.etas_from_nodes(q[2], router.snap(q[0], q[1]).node)
        for a, b in zip(ours.tolist(), nx_many_to_one(q), strict=True):
            if b is not None:
                compared += 1
                agree += abs(a - b) < 1e-6
    err = exactness(graph, router, rng, 500)

    print(
        f"graph: {name}: {graph.node_count} nodes, {graph.edge_count} edges; "
        f"python {platform.python_version()}; k={K} doctors within {CANDIDATE_RADIUS_M / 1000:.0f} km"
    )
    if build_s is not None:
        print(
            f"cold build {build_s:.2f} s"
            + (f", warm load {warm_load_s:.3f} s" if warm_load_s else "")
        )
    elif warm_load_s is not None:
        print(f"warm load {warm_load_s:.3f} s")
    print(f"{'operation (microseconds)':<46} {'p50':>12} {'p99':>12} {'queries':>8}")
    print(row("ours: snap (KD-tree)", snap_us))
    print(row("ours: point-to-point route + geometry", p2p_us))
    print(row("ours: many-to-one k=20 (patient snap incl.)", m2o_us))
    print(row("ours: many-to-one k=20, all 21 points snapped", m2o_full_us))
    print(row("networkx: bidirectional dijkstra p2p", nx_p2p_us))
    print(row("networkx: many-to-one k=20 (reverse SSSP 15m)", nx_m2o_us))
    speedup = p50(nx_m2o_us) / p50(m2o_us)
    print(
        f"many-to-one speedup vs networkx (p50/p50): {speedup:.0f}x; "
        f"agreement with networkx {agree}/{compared}; max relative error vs exact Dijkstra "
        f"{err['max_rel_err']:.2e} (max {err['max_abs_err_s']:.3f} s) over {err['pairs']} pairs"
    )
    summary = {
        "benchmark": "routing",
        "graph": name,
        "graph_nodes": graph.node_count,
        "graph_edges": graph.edge_count,
        "many_to_one_k20_p50_us": round(p50(m2o_us), 1),
        "many_to_one_k20_p99_us": round(p99(m2o_us), 1),
        "many_to_one_k20_all_snapped_p50_us": round(p50(m2o_full_us), 1),
        "many_to_one_k20_all_snapped_p99_us": round(p99(m2o_full_us), 1),
        "networkx_many_to_one_k20_p50_us": round(p50(nx_m2o_us), 1),
        "networkx_many_to_one_k20_p99_us": round(p99(nx_m2o_us), 1),
        "speedup_vs_networkx": round(speedup, 1),
        "p2p_p50_us": round(p50(p2p_us), 1),
        "p2p_p99_us": round(p99(p2p_us), 1),
        "networkx_p2p_p50_us": round(p50(nx_p2p_us), 1),
        "p2p_speedup_vs_networkx": round(p50(nx_p2p_us) / p50(p2p_us), 1),
        "snap_p50_us": round(p50(snap_us), 1),
        "snap_p99_us": round(p99(snap_us), 1),
        "max_rel_err": err["max_rel_err"],
        "max_abs_err_s": round(err["max_abs_err_s"], 4),
        "networkx_agreement": f"{agree}/{compared}",
        "warm_load_s": None if warm_load_s is None else round(warm_load_s, 3),
        "cold_build_s": None if build_s is None else round(build_s, 2),
        "queries": n_ours,
        "networkx_queries": n_nx,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
