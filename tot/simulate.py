"""`tot simulate`: simulated days through the engine's dispatch core, compared, reported, drawn.

The pure part (the days themselves, the statistics) is the `simulation` package; this
module does what touches the outside world: it loads the road graph, spreads the seeds
over worker processes (each builds its own Router: RoutingKit's objects stay in the
process that made them), reads the wall clock for decision latencies, and writes the
report, the JSON results and the plots.
"""

from __future__ import annotations

import gc
import json
import math
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from routing import RoadGraph, Router
from simulation import DayResult, Policy, SimConfig, make_scenario, simulate_day
from simulation.stats import BASELINE, REFERENCE, Comparison, compare, format_table, table_rows

if TYPE_CHECKING:
    from services.road_network import ProgressFactory

# The targets (#8), set for one set-up: the team's Porto extract, 150 doctors,
# 120 calls/h, the other settings at their defaults (the wall time: 20 seeds of 2 hours).
# They are stated for that set-up only; anywhere else they would mislead.
PORTO_SHA256 = "b7837d7fc28e34e05bb1add10ccd9ef8e590049c01f9915bb4bcd3066311cd7f"
PORTO_DOCTORS = 150
PORTO_CALLS_PER_HOUR = 120.0
PORTO_ROAD_KM = 16_343.6  # its graph's edges, each direction of a two-way street counted
MIN_DOCTORS = 10  # fewer make a day of too few calls to compare policies on
TARGETS = {
    "improvement_vs_greedy": (">=", 0.06),
    "p90_improvement_vs_greedy": (">=", 0.08),
    "no_doctor_rate": ("<=", 0.01),
    "cost_vs_road": ("<=", 0.03),
    "wall_s": ("<=", 120.0),
}

_WORKER: dict[str, Any] = {}


def policies_for(policy: Policy, extra: Sequence[Policy] = ()) -> list[Policy]:
    """The chosen policy, the straight-line baseline always, plain road-ETA greedy when the
    chosen policy builds on it (so the report shows what batching and queue rules cost)."""
    wanted = {policy, BASELINE, *extra}
    if policy in (Policy.BATCH, Policy.DEFAULT):
        wanted.add(REFERENCE)
    return [p for p in Policy if p in wanted]


def _init_worker(graph: RoadGraph, max_snap_distance_m: float) -> None:
    _WORKER["router"] = Router(graph, max_snap_distance_m=max_snap_distance_m)
    gc.collect()
    gc.freeze()  # start-up objects out of the collector's way: no full pass lands on a decision


def _run_seed(job: tuple[int, SimConfig, tuple[Policy, ...]]) -> list[DayResult]:
    seed, config, policies = job
    router: Router = _WORKER["router"]
    scenario = make_scenario(router.graph.node_lat, router.graph.node_lon, config, seed)
    return [
        simulate_day(
            router, scenario, p, config, timer=time.perf_counter_ns, cpu_timer=time.thread_time_ns
        )
        for p in policies
    ]


def run_days(
    graph: RoadGraph,
    config: SimConfig,
    policies: Sequence[Policy],
    seeds: Sequence[int],
    *,
    workers: int = 1,
    max_snap_distance_m: float = 1_000.0,
) -> list[DayResult]:
    """Every policy on every seed; seeds are spread over `workers` processes."""
    jobs = [(seed, config, tuple(policies)) for seed in seeds]
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        _init_worker(graph, max_snap_distance_m)
        try:
            return [day for job in jobs for day in _run_seed(job)]
        finally:
            _WORKER.clear()
            gc.unfreeze()
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_init_worker,
        initargs=(graph, max_snap_distance_m),
    ) as pool:
        return [day for days in pool.map(_run_seed, jobs) for day in days]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# -- the report --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fleet:
    """The doctors and the call rate of a run, and where they came from."""

    doctors: int
    calls_per_hour: float
    how: str  # "given", "porto" (the set-up the targets were set for) or "scaled"


def road_km(graph: RoadGraph) -> float:
    """The network's size: its edges' length, each direction of a two-way street counted."""
    return float(graph.edge_length_m.sum(dtype=np.float64)) / 1_000.0


def is_porto(graph: RoadGraph) -> bool:
    return graph.meta.get("source_sha256") == PORTO_SHA256


def fleet_for(graph: RoadGraph, doctors: int | None, calls_per_hour: float | None) -> Fleet:
    """The fleet and call rate for this map where the command line leaves them open.

    On Porto: the set-up the targets were set for (150 doctors, 120 calls/h). Elsewhere,
    Porto's density: doctors in proportion to the road network (at least MIN_DOCTORS), and
    Porto's calls per doctor (0.8 an hour), so the doctors are about as busy. Given one of
    the two, the other keeps Porto's ratio.
    """
    ratio = PORTO_CALLS_PER_HOUR / PORTO_DOCTORS
    if doctors is not None and calls_per_hour is not None:
        return Fleet(doctors, calls_per_hour, "given")
    if doctors is not None:
        return Fleet(doctors, round(doctors * ratio, 1), "scaled")
    if calls_per_hour is not None:
        return Fleet(max(1, round(calls_per_hour / ratio)), calls_per_hour, "scaled")
    if is_porto(graph):
        return Fleet(PORTO_DOCTORS, PORTO_CALLS_PER_HOUR, "porto")
    scaled = max(MIN_DOCTORS, round(PORTO_DOCTORS * road_km(graph) / PORTO_ROAD_KM))
    return Fleet(scaled, round(scaled * ratio, 1), "scaled")


def is_porto_setup(graph: RoadGraph, config: SimConfig) -> bool:
    """The set-up the targets were set for: the Porto extract, 150 doctors, 120 calls/h and
    every other setting at its default (any number of measured hours)."""
    reference = SimConfig(doctors=PORTO_DOCTORS, calls_per_hour=PORTO_CALLS_PER_HOUR)
    return is_porto(graph) and replace(config, hours=reference.hours) == reference


def targets(
    headline: dict[str, Any], *, porto_setup: bool, seeds: int = 20, hours: float = 2.0
) -> dict[str, dict[str, Any]] | None:
    """The issue's targets with this run's values, or None when the run is not the set-up
    they were set for. The wall-time target holds for 20 seeds of 2 measured hours only."""
    if not porto_setup:
        return None
    out: dict[str, dict[str, Any]] = {}
    for key, (op, bound) in TARGETS.items():
        if key == "wall_s" and (seeds, hours) != (20, 2.0):
            continue
        value = headline.get(key)
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        shown = f"{bound:g} s" if key == "wall_s" else f"{100 * bound:g} %"
        out[key] = {"value": value, "bound": bound, "target": f"{op} {shown}", "met": met}
    return out


def write_plots(
    out_dir: Path,
    comparison: Comparison,
    results: Sequence[DayResult],
    config: SimConfig,
    graph: RoadGraph,
) -> list[Path]:
    """The PNG plots in out_dir; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        _plot_time_to_doctor(out_dir / "time_to_doctor.png", comparison),
        _plot_latency(out_dir / "dispatch_latency.png", comparison),
        _plot_map(out_dir / "map.png", comparison, results, config, graph),
    ]


def write_documents(
    out_dir: Path,
    comparison: Comparison,
    config: SimConfig,
    meta: dict[str, Any],
    headline: dict[str, Any],
    checks: dict[str, dict[str, Any]] | None = None,
) -> list[Path]:
    """report.md and results.json in out_dir; returns the files written. `checks`: the
    targets (see targets()), None when this run is not the set-up they were set for."""
    out_dir.mkdir(parents=True, exist_ok=True)
    header, rows = table_rows(comparison)
    results_doc = {
        "headline": headline,
        "targets": checks,
        "config": config.as_dict(),
        "meta": meta,
        "policies": {
            name: {
                "label": Policy(name).label,
                "calls": s.calls,
                "served": s.served,
                "mean_time_to_doctor_s": _num(s.mean_time_to_doctor_s),
                "p90_time_to_doctor_s": _num(s.p90_time_to_doctor_s),
                "no_doctor_rate": _num(s.no_doctor_rate),
                "dispatch_p50_us": _num(s.dispatch_p50_us),
                "dispatch_p99_us": _num(s.dispatch_p99_us),
                "dispatch_cpu_p99_us": _num(s.dispatch_cpu_p99_us),
                "saved_vs_greedy_per_seed": list(comparison.vs_baseline[name].fractions),
                "saved_vs_greedy_p90_per_seed": list(comparison.vs_baseline_p90[name].fractions),
                "days": [{k: _num(v) for k, v in asdict(d).items()} for d in s.days],
            }
            for name, s in comparison.summaries.items()
        },
    }
    results_path = out_dir / "results.json"
    results_path.write_text(json.dumps(results_doc, indent=2, allow_nan=False) + "\n")
    report_path = out_dir / "report.md"
    report_path.write_text(_report_md(comparison, config, meta, headline, checks, header, rows))
    return [report_path, results_path]


def _num(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        f = float(v)
        return round(f, 6) if math.isfinite(f) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _report_md(
    comparison: Comparison,
    config: SimConfig,
    meta: dict[str, Any],
    headline: dict[str, Any],
    checks: dict[str, dict[str, Any]] | None,
    header: list[str],
    rows: list[list[str]],
) -> str:
    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.1f} %"

    lines = [
        f"# tot simulate: {comparison.policy} against the straight-line baseline",
        "",
        f"Map `{meta['osm']}` ({meta['nodes']:,} nodes, {meta['edges']:,} edges, "
        f"{meta.get('road_km', 0):,.0f} km of road); "
        f"{config.doctors} doctors, {config.calls_per_hour:g} calls per hour"
        + _FLEET_NOTE.get(str(meta.get("fleet")), "")
        + ", "
        f"{config.hours:g} measured hours after {config.warmup_s / 60:g} min of warm-up, "
        f"{len(comparison.seeds)} paired seeds ({comparison.seeds[0]}-{comparison.seeds[-1]}): "
        "every policy sees the same fleet and the same calls on a seed.",
        f"Visits last {config.visit_min_s / 60:g}-{config.visit_max_s / 60:g} min; "
        f"{100 * config.emergency_share:g} % emergencies; offers answered "
        + (
            "at once."
            if config.accept_delay_s == 0 and config.decline_share == 0 and config.ignore_share == 0
            else f"after {config.accept_delay_s:g} s, {100 * config.decline_share:g} % declined, "
            f"{100 * config.ignore_share:g} % ignored."
        )
        + f" A call is given up after {config.max_wait_s / 60:g} min of search.",
        f"Wall time {meta['wall_s']:.1f} s ({meta['simulate_s']:.1f} s simulating, "
        f"{meta['workers']} worker processes).",
        "",
        "## Policies",
        "",
        *[f"- **{name}**: {Policy(name).label}" for name in comparison.summaries],
        "",
        "## Figures",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] + ["---:"] * (len(header) - 1)) + " |",
        *["| " + " | ".join(r) + " |" for r in rows],
        "",
        "Time to doctor is call to arrival: queue wait + dispatch + drive. Dispatch latency "
        "is the time of the decision that sent an offer (the core with its candidate source "
        "and any planning) on this machine, by the wall clock and in CPU time. Savings are "
        "per seed, then averaged, with a 95 % t-interval over the seeds.",
        "",
        "## Headline",
        "",
        f"- mean time to doctor {headline['mean_time_to_doctor_s']:.0f} s against "
        f"{headline['greedy_mean_time_to_doctor_s']:.0f} s for the baseline: "
        f"{pct(headline['improvement_vs_greedy'])} saved "
        f"(95 % CI {pct(headline['improvement_ci95_low'])} to "
        f"{pct(headline['improvement_ci95_high'])}); p90 {pct(headline['p90_improvement_vs_greedy'])} saved",
        f"- no-doctor rate {pct(headline['no_doctor_rate'])}; dispatch p99 "
        f"{headline['dispatch_p99_us'] or 0:.0f} µs wall, "
        f"{headline['dispatch_cpu_p99_us'] or 0:.0f} µs CPU (the gap is mostly time the "
        "process waited for a core on a shared host)",
    ]
    if "cost_vs_road" in headline:
        lines.append(
            f"- against plain road-ETA greedy: {pct(headline['cost_vs_road'])} cost "
            f"(95 % CI upper bound {pct(headline['cost_vs_road_ci95_high'])}; negative: better)"
        )
    lines += ["", "## The issue's targets", ""]
    if checks is None:
        lines.append(
            "They were set for one set-up: the team's Porto extract, 150 doctors, 120 calls "
            "per hour, the other settings at their defaults. This run is not that set-up, so "
            "none is stated: its figures are not comparable with them."
        )
    else:
        lines += [
            "Set for this set-up (Porto, 150 doctors, 120 calls per hour; the wall time for "
            "20 paired seeds of 2 measured hours). The cost against plain road-ETA greedy is "
            "a target where no queue forms (see 'calls that queued').",
            "",
            "| figure | value | target | met |",
            "| --- | ---: | --- | --- |",
        ]
        for key, c in checks.items():
            v = c["value"]
            shown = "-" if v is None else (f"{v:.1f} s" if key == "wall_s" else pct(v))
            met = "-" if c["met"] is None else ("yes" if c["met"] else "**no**")
            lines.append(f"| {key} | {shown} | {c['target']} | {met} |")
    lines += [
        "",
        "## Plots",
        "",
        "![time to doctor](time_to_doctor.png)",
        "",
        "![dispatch latency](dispatch_latency.png)",
        "",
        "![map](map.png)",
        "",
        "Map data © OpenStreetMap contributors, ODbL 1.0.",
        "",
    ]
    return "\n".join(lines)


# -- plots (matplotlib, no display) --------------------------------------------------------------

_FLEET_NOTE = {
    "scaled": " (scaled to this map: Porto's doctors per km of road and calls per doctor)",
    "porto": " (the Porto set-up the targets were set for)",
}

_COLOURS = {"greedy": "#7f7f7f", "road": "#1f77b4", "batch": "#2ca02c", "default": "#d62728"}
# Policies often choose alike (no queue: road and default are the same), so their curves
# coincide: each has its own width and dashes, drawn widest first, so every one shows.
_STYLES: dict[str, dict[str, Any]] = {
    "greedy": {"lw": 4.0, "ls": "-", "zorder": 2},
    "road": {"lw": 3.0, "ls": "-", "zorder": 3},
    "batch": {"lw": 2.0, "ls": (0, (6, 2)), "zorder": 4},
    "default": {"lw": 1.4, "ls": (0, (2, 2)), "zorder": 5},
}


def _style(name: str) -> dict[str, Any]:
    return {"color": _COLOURS.get(name), **_STYLES.get(name, {"lw": 1.5, "ls": "-"})}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_time_to_doctor(path: Path, comparison: Comparison) -> Path:
    plt = _pyplot()
    fig = time_to_doctor_figure(comparison)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def time_to_doctor_figure(comparison: Comparison) -> Any:
    """Histogram and share reached within, one curve per policy (each visible, see _STYLES)."""
    plt = _pyplot()
    fig, (hist, ecdf) = plt.subplots(1, 2, figsize=(12, 4.5))
    finite = [s.time_to_doctor_s / 60 for s in comparison.summaries.values() if s.served]
    top = max((float(np.percentile(a, 99.5)) for a in finite), default=1.0)
    bins = np.linspace(0, max(top, 1.0), 60)
    drawn: dict[str, Any] = {}
    for name, s in comparison.summaries.items():
        minutes = np.sort(s.time_to_doctor_s / 60)
        if not minutes.size:
            continue
        # say so when a curve lies exactly on an earlier one
        same = next((o for o, m in drawn.items() if np.array_equal(m, minutes)), None)
        drawn[name] = minutes
        also = f", the same as {same}" if same else ""
        label = f"{name} (mean {minutes.mean():.1f} min{also})"
        hist.hist(minutes, bins=bins, histtype="step", label=label, **_style(name))
        ecdf.plot(
            minutes,
            np.arange(1, minutes.size + 1) / minutes.size,
            label=f"{name} (the same as {same})" if same else name,
            **_style(name),
        )
    hist.set_xlabel("time to doctor (min): call to arrival")
    hist.set_ylabel("calls (all seeds)")
    hist.legend()
    ecdf.set_xlabel("time to doctor (min)")
    ecdf.set_ylabel("share of calls reached within")
    ecdf.set_xlim(0, bins[-1])
    ecdf.grid(alpha=0.3)
    ecdf.legend()
    fig.suptitle(f"Time to doctor per policy, {len(comparison.seeds)} paired seeds")
    fig.tight_layout()
    return fig


def _plot_latency(path: Path, comparison: Comparison) -> Path:
    plt = _pyplot()
    fig = latency_figure(comparison)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_figure(comparison: Comparison) -> Any:
    """Dispatch decision times per policy: the wall clock and CPU time side by side."""
    plt = _pyplot()
    fig, (wall, cpu) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    samples = [s.latency_us for s in comparison.summaries.values() if s.latency_us.size]
    if samples:
        lo = max(1.0, min(float(a.min()) for a in samples))
        hi = max(float(a.max()) for a in samples)
        bins = np.geomspace(lo, max(hi, lo * 10), 60)
        for name, s in comparison.summaries.items():
            if not s.latency_us.size:
                continue
            wall.hist(
                s.latency_us,
                bins=bins,
                histtype="step",
                label=f"{name} (p50 {s.dispatch_p50_us:.0f} µs, p99 {s.dispatch_p99_us:.0f} µs)",
                **_style(name),
            )
            used = s.latency_cpu_us[np.isfinite(s.latency_cpu_us)]
            if used.size:
                cpu.hist(
                    used,
                    bins=bins,
                    histtype="step",
                    label=f"{name} (p99 {s.dispatch_cpu_p99_us:.0f} µs)",
                    **_style(name),
                )
        for ax in (wall, cpu):
            ax.set_xscale("log")
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
    wall.set_xlabel("dispatch decision time, wall clock (µs)")
    cpu.set_xlabel("dispatch decision time, CPU (µs)")
    wall.set_ylabel("decisions (all seeds)")
    fig.suptitle("Dispatch latency per policy (percentiles over every decision of every seed)")
    fig.tight_layout()
    return fig


def _plot_map(
    path: Path,
    comparison: Comparison,
    results: Sequence[DayResult],
    config: SimConfig,
    graph: RoadGraph,
) -> Path:
    from matplotlib.collections import LineCollection

    plt = _pyplot()
    seed = comparison.seeds[0]
    scenario = make_scenario(graph.node_lat, graph.node_lon, config, seed)
    day = next(d for d in results if d.seed == seed and d.policy == comparison.policy)
    lat, lon = graph.node_lat, graph.node_lon
    fig, ax = plt.subplots(figsize=(10, 10))
    # Each road once (one direction of two-way streets is enough to draw it).
    tail = graph.edge_tail.astype(np.int64)
    head = graph.edge_head.astype(np.int64)
    once = tail < head
    segs = np.stack(
        [
            np.column_stack([lon[tail[once]], lat[tail[once]]]),
            np.column_stack([lon[head[once]], lat[head[once]]]),
        ],
        axis=1,
    )
    ax.add_collection(LineCollection(list(segs), colors="#c8c8c8", linewidths=0.3, zorder=1))
    calls = scenario.call_nodes[day.measured]
    ttd_min = np.where(day.outcome == 1, day.arrived_s - day.call_s, np.nan)[day.measured] / 60
    points = ax.scatter(
        lon[calls],
        lat[calls],
        c=ttd_min,
        cmap="plasma",
        s=14,
        zorder=3,
        label=f"calls (measured), coloured by time to doctor under {comparison.policy}",
    )
    fig.colorbar(points, ax=ax, shrink=0.6, label="time to doctor (min)")
    docs = scenario.doctor_nodes
    ax.scatter(
        lon[docs], lat[docs], marker="^", s=18, c="#1f77b4", zorder=2, label="doctors at the start"
    )
    unserved = calls[np.isnan(ttd_min)]
    if unserved.size:
        ax.scatter(
            lon[unserved], lat[unserved], marker="x", s=30, c="k", zorder=4, label="no doctor"
        )
    ax.set_xlim(float(lon.min()), float(lon.max()))
    ax.set_ylim(float(lat.min()), float(lat.max()))
    ax.set_aspect(1.0 / math.cos(math.radians(float(np.mean(lat)))))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(f"Seed {seed}: calls and doctors on the road network")
    ax.legend(loc="upper left", fontsize=8)
    ax.text(
        0.99,
        0.01,
        "© OpenStreetMap contributors, ODbL",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=7,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# -- the command ---------------------------------------------------------------------------------


def simulate_command(
    *,
    osm_path: Path,
    graph_cache_dir: Path,
    max_snap_distance_m: float,
    config: SimConfig,
    doctors: int | None,
    calls_per_hour: float | None,
    policy: Policy,
    extra: Sequence[Policy],
    seeds: Sequence[int],
    out_dir: Path,
    workers: int,
    started: float,
    progress: ProgressFactory | None = None,
) -> tuple[str, dict[str, Any]]:
    """Run, compare, write; returns what to print (the set-up and the table) and the headline
    (the JSON line). `doctors` and `calls_per_hour` override `config`'s; None: scaled to
    the map (fleet_for)."""
    from services.road_network import load_road_graph

    if not seeds:
        raise ValueError("--seeds must be at least 1")
    loaded = load_road_graph(osm_path, graph_cache_dir, progress=progress)
    graph = loaded.graph
    fleet = fleet_for(graph, doctors, calls_per_hour)
    config = replace(config, doctors=fleet.doctors, calls_per_hour=fleet.calls_per_hour)
    porto_setup = is_porto_setup(graph, config)
    policies = policies_for(policy, extra)
    sim_started = time.perf_counter()
    results = run_days(
        graph,
        config,
        policies,
        seeds,
        workers=workers,
        max_snap_distance_m=max_snap_distance_m,
    )
    simulate_s = time.perf_counter() - sim_started
    comparison = compare(results, policy)
    headline = comparison.headline()
    meta: dict[str, Any] = {
        "osm": str(osm_path),
        "nodes": graph.node_count,
        "edges": graph.edge_count,
        "road_km": round(road_km(graph), 1),
        "fleet": fleet.how,
        "porto_setup": porto_setup,
        "graph_cache_hit": loaded.cache_hit,
        "policies": [p.value for p in policies],
        "seeds": list(seeds),
        "workers": max(1, min(workers, len(seeds))),
        "simulate_s": round(simulate_s, 3),
        "days": len(results),
    }
    write_plots(out_dir, comparison, results, config, graph)
    # The wall time covers everything: loading, simulating, comparing and plotting.
    meta["wall_s"] = round(time.perf_counter() - started, 3)
    headline["wall_s"] = meta["wall_s"]
    headline["doctors"] = config.doctors
    headline["calls_per_hour"] = config.calls_per_hour
    headline["porto_setup"] = porto_setup
    checks = targets(headline, porto_setup=porto_setup, seeds=len(seeds), hours=config.hours)
    # None: not the set-up the targets were set for, so neither met nor missed
    headline["targets_met"] = None if checks is None else all(c["met"] for c in checks.values())
    headline["out"] = str(out_dir)
    write_documents(out_dir, comparison, config, meta, headline, checks)
    header, rows = table_rows(comparison)
    setup = (
        f"{osm_path.name} ({meta['road_km']:,.0f} km of road): {config.doctors} doctors, "
        f"{config.calls_per_hour:g} calls per hour"
        + _FLEET_NOTE.get(fleet.how, "")
        + "; "
        + (
            "the issue's targets: "
            + ("all met" if headline["targets_met"] else "not all met (see the report)")
            if checks is not None
            else "the issue's targets are stated only for Porto, 150 doctors, 120 calls per hour"
        )
    )
    return setup + "\n" + format_table(header, rows), headline
