"""Simulated days (`simulation`, `tot simulate`): determinism, pairing, conservation, policies."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from matching import DoctorProfile, DoctorRegistry, DoctorStatus, Matcher, MatchingPolicy
from routing import RoadGraph, Router, compile_road_graph
from simulation import (
    ARRIVED,
    NO_DOCTOR,
    OPEN,
    DayResult,
    Policy,
    Scenario,
    SimCandidates,
    SimConfig,
    make_scenario,
    simulate_day,
)
from simulation.policies import Pending
from simulation.stats import compare, format_table, table_rows
from tot.cli import main
from tot.simulate import (
    PORTO_SHA256,
    fleet_for,
    is_porto_setup,
    latency_figure,
    policies_for,
    road_km,
    run_days,
    targets,
    time_to_doctor_figure,
    write_documents,
)

# A quiet day (about half the doctors' time taken) and a saturated one, on central Helsinki.
SMALL = SimConfig(doctors=30, calls_per_hour=30.0, hours=0.75, warmup_s=600.0, drain_s=3_600.0)
BUSY = replace(SMALL, doctors=4, calls_per_hour=60.0, emergency_share=0.3, max_wait_s=900.0)

REQUIRED_KEYS = {
    "policy",
    "seeds",
    "calls",
    "mean_time_to_doctor_s",
    "greedy_mean_time_to_doctor_s",
    "improvement_vs_greedy",
    "improvement_ci95_low",
    "p90_improvement_vs_greedy",
    "dispatch_p99_us",
    "no_doctor_rate",
}


def day(router: Router, policy: Policy, config: SimConfig = SMALL, seed: int = 1) -> DayResult:
    scenario = make_scenario(router.graph.node_lat, router.graph.node_lon, config, seed)
    return simulate_day(router, scenario, policy, config)


def assert_same_outcomes(a: DayResult, b: DayResult) -> None:
    for name in (
        "measured",
        "outcome",
        "call_s",
        "first_offer_s",
        "assigned_s",
        "arrived_s",
        "eta_at_dispatch_s",
        "offers",
        "preempted",
    ):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.utilisation == b.utilisation


def assert_conserved(d: DayResult) -> None:
    """Every call ends reached, given up, or still waiting; the times are in order."""
    m = d.measured
    counts = {k: int((m & (d.outcome == k)).sum()) for k in (OPEN, ARRIVED, NO_DOCTOR)}
    assert sum(counts.values()) == d.calls
    assert counts[ARRIVED] == d.served.sum() == d.time_to_doctor_s.size
    assert math.isclose(d.no_doctor_rate, (counts[OPEN] + counts[NO_DOCTOR]) / max(1, d.calls))
    arrived = d.outcome == ARRIVED
    offered = arrived & ~np.isnan(d.first_offer_s)
    assert np.all(d.call_s[offered] <= d.first_offer_s[offered])
    assert np.all(d.first_offer_s[offered] <= d.assigned_s[offered])
    assert np.all(d.call_s[arrived] <= d.assigned_s[arrived])
    assert np.all(d.assigned_s[arrived] <= d.arrived_s[arrived])
    # only an emergency gets a doctor without an offer: one taken off a normal visit
    assert np.all(d.emergency[arrived & ~offered])
    assert np.all(d.offers[offered] >= 1)
    assert np.all(np.isnan(d.arrived_s[~arrived]))
    # time to doctor is never shorter than the road ETA of the doctor who came
    ttd = d.arrived_s[arrived] - d.call_s[arrived]
    assert np.all(ttd >= d.eta_at_dispatch_s[arrived] - 1e-6)
    # the drive is exactly the road ETA of the last assignment
    np.testing.assert_allclose(
        d.arrived_s[arrived] - d.assigned_s[arrived], d.eta_at_dispatch_s[arrived], atol=1e-6
    )
    assert 0.0 <= d.utilisation <= 1.0


class TestScenario:
    def test_a_seed_draws_the_same_day(self, helsinki_graph: RoadGraph) -> None:
        a = make_scenario(helsinki_graph.node_lat, helsinki_graph.node_lon, SMALL, 7)
        b = make_scenario(helsinki_graph.node_lat, helsinki_graph.node_lon, SMALL, 7)
        c = make_scenario(helsinki_graph.node_lat, helsinki_graph.node_lon, SMALL, 8)
        for name in ("doctor_nodes", "call_s", "call_nodes", "call_emergency", "call_visit_s"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.array_equal(a.call_nodes[:5], c.call_nodes[:5])

    def test_calls_fill_the_horizon_and_the_window_is_measured(
        self, helsinki_graph: RoadGraph
    ) -> None:
        config = replace(SMALL, calls_per_hour=600.0, hotspot_share=0.5)
        s = make_scenario(helsinki_graph.node_lat, helsinki_graph.node_lon, config, 3)
        assert np.all(np.diff(s.call_s) > 0)
        assert s.call_s[-1] < config.horizon_s
        in_window = (s.call_s >= config.window_start_s) & (s.call_s < config.window_end_s)
        np.testing.assert_array_equal(s.call_measured, in_window)
        expected = config.calls_per_hour * config.hours
        assert 0.6 * expected < in_window.sum() < 1.4 * expected
        assert np.all(
            (s.call_visit_s >= config.visit_min_s) & (s.call_visit_s <= config.visit_max_s)
        )
        assert s.call_nodes.max() < helsinki_graph.node_count

    def test_bad_settings_are_refused(self) -> None:
        with pytest.raises(ValueError, match="doctors"):
            SimConfig(doctors=0)
        with pytest.raises(ValueError, match="decline_share, ignore_share"):
            SimConfig(decline_share=2.0, ignore_share=0.5)


class TestDays:
    @pytest.mark.parametrize("policy", list(Policy))
    def test_a_day_is_deterministic_per_seed(self, helsinki_router: Router, policy: Policy) -> None:
        assert_same_outcomes(day(helsinki_router, policy), day(helsinki_router, policy))

    def test_paired_seeds_give_every_policy_the_same_calls_and_fleet(
        self, helsinki_router: Router
    ) -> None:
        g = helsinki_router.graph
        days = [day(helsinki_router, p, seed=5) for p in Policy]
        scenario = make_scenario(g.node_lat, g.node_lon, SMALL, 5)
        for d in days:
            np.testing.assert_array_equal(d.call_s, scenario.call_s)
            np.testing.assert_array_equal(d.measured, scenario.call_measured)
            np.testing.assert_array_equal(d.emergency, scenario.call_emergency)
        # the fleet: the first call of the day finds every doctor where the seed put them,
        # so its nearest-by-road doctor is the same whichever road policy dispatches it
        road = {p: d for p, d in zip(Policy, days, strict=True) if p is not Policy.GREEDY}
        first = int(np.argmax(scenario.call_s >= 0))
        etas = {d.eta_at_dispatch_s[first] for d in road.values()}
        assert len(etas) == 1

    @pytest.mark.parametrize("policy", list(Policy))
    def test_every_call_is_accounted_for(self, helsinki_router: Router, policy: Policy) -> None:
        d = day(helsinki_router, policy)
        assert d.calls > 5
        assert_conserved(d)
        assert d.outcome[d.measured].tolist().count(ARRIVED) == d.calls  # quiet day: all reached

    @pytest.mark.parametrize("policy", list(Policy))
    def test_a_saturated_day_with_emergencies(
        self, helsinki_router: Router, policy: Policy
    ) -> None:
        d = day(helsinki_router, policy, BUSY, seed=2)
        assert_conserved(d)
        assert (d.outcome[d.measured] == NO_DOCTOR).any(), "calls are given up after max_wait"
        assert d.queue_wait_s.max() > 0

    def test_emergencies_take_doctors_on_their_way(self, helsinki_router: Router) -> None:
        config = replace(BUSY, emergency_share=0.5, calls_per_hour=90.0)
        preempted = sum(
            int(day(helsinki_router, Policy.ROAD, config, seed=s).preempted.sum()) for s in range(4)
        )
        assert preempted > 0

    def test_calls_still_open_at_the_horizon_are_counted_waiting(
        self, helsinki_router: Router
    ) -> None:
        config = replace(BUSY, drain_s=0.0, max_wait_s=7_200.0, emergency_share=0.0)
        d = day(helsinki_router, Policy.GREEDY, config, seed=2)
        assert_conserved(d)
        assert (d.outcome[d.measured] == OPEN).any()

    def test_offers_declined_or_ignored_cascade(self, helsinki_router: Router) -> None:
        config = replace(SMALL, accept_delay_s=5.0, decline_share=0.3, ignore_share=0.2)
        for policy in Policy:
            d = day(helsinki_router, policy, config)
            assert_conserved(d)
            assert d.offers_per_booking > 1.2
            assert d.offer_open_s[d.served].max() >= 5.0

    def test_batch_holds_calls_for_the_window_but_not_emergencies(
        self, helsinki_router: Router
    ) -> None:
        config = replace(SMALL, batch_window_s=60.0, emergency_share=0.3)
        d = day(helsinki_router, Policy.BATCH, config)
        assert_conserved(d)
        held = d.first_offer_s - d.call_s
        normal = d.served & ~d.emergency
        urgent = d.served & d.emergency
        assert urgent.any() and normal.any()
        assert held[urgent].max() == 0.0  # doctors were free: an emergency goes at once
        assert held[normal].mean() > 10.0
        assert held[normal].max() <= 60.0 + 1e-6

    def test_latencies_are_recorded_only_with_a_timer(self, helsinki_router: Router) -> None:
        g = helsinki_router.graph
        scenario = make_scenario(g.node_lat, g.node_lon, SMALL, 1)
        ticks = iter(range(0, 10**9, 1_000))
        timed = simulate_day(
            helsinki_router, scenario, Policy.DEFAULT, SMALL, timer=lambda: next(ticks)
        )
        assert timed.latency_us.size == int(timed.offers[timed.measured].sum())
        assert np.all(timed.latency_us > 0)
        assert day(helsinki_router, Policy.DEFAULT).latency_us.size == 0


# -- a river with one bridge: the straight line is fooled, the road is not ------------------------


@pytest.fixture(scope="module")
def river() -> Router:
    """Two banks 220 m apart, 11 km long, one bridge at the east end."""
    n = 51
    lons = 24.80 + 0.004 * np.arange(n)  # ~222 m apart at 60° N
    node_lat = np.concatenate([np.full(n, 60.002), np.full(n, 60.000)])
    node_lon = np.concatenate([lons, lons])
    ids = np.arange(2 * n, dtype=np.int64) + 1
    north, south = ids[:n], ids[n:]
    seg_from = np.concatenate([north[:-1], south[:-1], [north[-1]]])
    seg_to = np.concatenate([north[1:], south[1:], [south[-1]]])
    m = seg_from.size
    graph = compile_road_graph(
        node_osm_id=ids,
        node_lat=node_lat,
        node_lon=node_lon,
        seg_from_osm_id=seg_from,
        seg_to_osm_id=seg_to,
        seg_forward=np.ones(m, dtype=bool),
        seg_backward=np.ones(m, dtype=bool),
        seg_speed_forward_kph=np.full(m, 40.0),
        seg_speed_backward_kph=np.full(m, 40.0),
        seg_highway=np.zeros(m, dtype=np.uint8),
        seg_way_id=np.arange(m, dtype=np.int64),
    )
    return Router(graph)


def test_road_eta_is_never_worse_than_the_straight_line_across_a_river(river: Router) -> None:
    def node(lat: float, lon: float) -> int:
        return river.snap(lat, lon).node

    # Calls on the north bank's west end; one doctor across the water from each (200 m by
    # air, 22 km by road), another 1-2 km along the same bank.
    calls = [node(60.002, 24.80 + 0.004 * i) for i in range(3)]
    doctors = [node(60.000, 24.80 + 0.004 * i) for i in range(3)]
    doctors += [node(60.002, 24.84 + 0.004 * i) for i in range(3)]
    config = SimConfig(doctors=6, warmup_s=0.0, hours=1.0, emergency_share=0.0)
    scenario = Scenario(
        seed=0,
        doctor_nodes=np.array(doctors, dtype=np.int64),
        call_s=np.array([60.0, 120.0, 180.0]),
        call_nodes=np.array(calls, dtype=np.int64),
        call_emergency=np.zeros(3, dtype=bool),
        call_visit_s=np.full(3, 1_800.0),
        call_measured=np.ones(3, dtype=bool),
        offer_draws=np.zeros((3, 8)),
    )
    results = {p: simulate_day(river, scenario, p, config) for p in Policy}
    greedy = results[Policy.GREEDY]
    assert_conserved(greedy)
    assert greedy.time_to_doctor_s.min() > 1_500  # sent over the far bridge every time
    for policy in (Policy.ROAD, Policy.DEFAULT, Policy.BATCH):
        d = results[policy]
        assert_conserved(d)
        assert np.all(d.time_to_doctor_s <= greedy.time_to_doctor_s)
        assert d.time_to_doctor_s.max() < 400  # a doctor from the same bank
    comparison = compare(list(results.values()), Policy.ROAD)
    assert comparison.headline()["improvement_vs_greedy"] > 0.7


# -- the queue rule: a freed doctor takes the nearest waiting call, unless one waited long ---------


def test_a_freed_doctor_takes_the_nearest_waiting_call(helsinki_router: Router) -> None:
    g = helsinki_router.graph
    registry = DoctorRegistry(helsinki_router.projection, MatchingPolicy(stale_after_s=math.inf))
    matcher = Matcher(registry, helsinki_router)
    registry.upsert_doctor(DoctorProfile("d0"), DoctorStatus.AVAILABLE)
    here = int(np.argmin(g.node_lat))  # the south end of the map
    far = int(np.argmax(g.node_lat))
    near = int(
        np.argsort(np.hypot(g.node_lat - g.node_lat[here], g.node_lon - g.node_lon[here]))[5]
    )
    registry.update_position("d0", float(g.node_lat[here]), float(g.node_lon[here]), 5.0, 0.0, 0.0)
    old = Pending("old", float(g.node_lat[far]), float(g.node_lon[far]), False, created_s=0.0)
    new = Pending("new", float(g.node_lat[near]), float(g.node_lon[near]), False, created_s=590.0)

    def plan(policy: Policy, aging: float) -> dict[str, str | None] | None:
        source = SimCandidates(
            policy,
            matcher,
            helsinki_router,
            available={"d0"},
            locate=lambda _d, _t: None,
            aging_s_per_s=aging,
        )
        source.prepare(600.0, [old, new], frozenset())
        return source.plan

    assert plan(Policy.DEFAULT, 0.0) == {"old": None, "new": "d0"}  # nearest, not oldest
    assert plan(Policy.DEFAULT, 10.0) == {"old": "d0", "new": None}  # 10 min waited outweighs
    assert plan(Policy.ROAD, 0.0) is None  # first come: the core serves the oldest
    assert plan(Policy.BATCH, 0.0) == {"old": None, "new": None}  # not a batch tick


# -- many seeds, processes, the report ------------------------------------------------------------


def test_worker_processes_give_the_same_days(helsinki_graph: RoadGraph) -> None:
    policies = policies_for(Policy.DEFAULT)
    assert policies == [Policy.GREEDY, Policy.ROAD, Policy.DEFAULT]
    one = run_days(helsinki_graph, SMALL, policies, [0, 1], workers=1)
    two = run_days(helsinki_graph, SMALL, policies, [0, 1], workers=2)
    assert [(d.seed, d.policy) for d in one] == [(d.seed, d.policy) for d in two]
    for a, b in zip(one, two, strict=True):
        assert_same_outcomes(a, b)
        assert a.latency_us.size == b.latency_us.size > 0
    comparison = compare(one, Policy.DEFAULT)
    headline = comparison.headline()
    assert set(headline) >= REQUIRED_KEYS
    assert headline["seeds"] == 2
    assert headline["calls"] == sum(d.calls for d in one if d.policy == "default")
    header, rows = table_rows(comparison)
    assert header[1:] == ["greedy", "road", "default"]
    assert "time to doctor, mean (min)" in format_table(header, rows)
    with pytest.raises(ValueError, match="no days of policy 'batch'"):
        compare(one, Policy.BATCH)


def test_the_command_writes_the_report(
    capsys: pytest.CaptureFixture[str],
    bundled_osm: Path,
    graph_cache_dir: Path,
    helsinki_graph: RoadGraph,
    tmp_path: Path,
) -> None:
    out = tmp_path / "report"
    argv = [
        "simulate",
        "--osm",
        str(bundled_osm),
        "--cache-dir",
        str(graph_cache_dir),
        "--doctors",
        "10",
        "--calls-per-hour",
        "40",
        "--hours",
        "0.5",
        "--warmup-min",
        "10",
        "--seeds",
        "3",
        "--policy",
        "batch",
        "--compare",
        "default",
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    headline = json.loads(printed[-1])
    assert set(headline) >= REQUIRED_KEYS
    assert headline["policy"] == "batch" and headline["seeds"] == 3
    assert headline["cost_vs_road"] is not None
    assert printed[0].startswith("helsinki.osm.pbf (36 km of road): 10 doctors, 40 calls per hour;")
    assert "greedy" in printed[1] and "batch" in printed[1] and "default" in printed[1]
    for name in (
        "report.md",
        "results.json",
        "time_to_doctor.png",
        "dispatch_latency.png",
        "map.png",
    ):
        assert (out / name).stat().st_size > 0, name
        if name.endswith(".png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((out / "results.json").read_text())
    assert set(doc["policies"]) == {"greedy", "road", "batch", "default"}
    assert len(doc["policies"]["greedy"]["days"]) == 3
    assert doc["headline"] == headline
    report = (out / "report.md").read_text()
    assert "## The issue's targets" in report and "![map](map.png)" in report


def test_the_command_refuses_bad_settings(
    capsys: pytest.CaptureFixture[str], bundled_osm: Path, graph_cache_dir: Path, tmp_path: Path
) -> None:
    base = ["simulate", "--osm", str(bundled_osm), "--cache-dir", str(graph_cache_dir)]
    for bad in (["--doctors", "0"], ["--seeds", "0"], ["--calls-per-hour", "-3"]):
        assert main([*base, *bad, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tot: error:") and "Traceback" not in err


# -- defaults scaled to the map; the targets only for the set-up they were set for -----------------


def porto_like(graph: RoadGraph, *, road_factor: float = 1.0, porto: bool = False) -> RoadGraph:
    """The graph with its roads stretched (a bigger network) or named as the Porto extract."""
    meta = {**graph.meta, "source_sha256": PORTO_SHA256 if porto else "0" * 64}
    return replace(graph, edge_length_m=graph.edge_length_m * road_factor, meta=meta)


def test_the_fleet_is_scaled_to_the_map(helsinki_graph: RoadGraph) -> None:
    # Porto itself: the set-up the targets were set for
    porto = fleet_for(porto_like(helsinki_graph, porto=True), None, None)
    assert (porto.doctors, porto.calls_per_hour, porto.how) == (150, 120.0, "porto")
    # central Helsinki (36 km of road, Porto 16,344 km): the fewest doctors a comparison needs
    small = fleet_for(helsinki_graph, None, None)
    assert road_km(helsinki_graph) == pytest.approx(36.5, abs=0.5)
    assert (small.doctors, small.calls_per_hour, small.how) == (10, 8.0, "scaled")
    # a network 100 times as big: Porto's doctors per km of road and calls per doctor
    big = fleet_for(porto_like(helsinki_graph, road_factor=100.0), None, None)
    assert big.doctors == round(150 * road_km(helsinki_graph) * 100 / 16_343.6) == 34
    assert big.calls_per_hour == pytest.approx(0.8 * big.doctors, abs=0.05)
    # what the command line gives is kept; the other figure follows Porto's ratio
    assert fleet_for(helsinki_graph, 40, None).calls_per_hour == 32.0
    assert fleet_for(helsinki_graph, None, 24.0).doctors == 30
    given = fleet_for(helsinki_graph, 7, 3.0)
    assert (given.doctors, given.calls_per_hour, given.how) == (7, 3.0, "given")


def test_the_porto_setup_is_recognised_exactly(helsinki_graph: RoadGraph) -> None:
    porto = porto_like(helsinki_graph, porto=True)
    setup = SimConfig(doctors=150, calls_per_hour=120.0)
    assert is_porto_setup(porto, setup)
    assert is_porto_setup(porto, replace(setup, hours=0.5))  # any measured hours
    assert not is_porto_setup(helsinki_graph, setup)  # another map
    assert not is_porto_setup(porto, replace(setup, doctors=149))
    assert not is_porto_setup(porto, replace(setup, calls_per_hour=240.0))
    assert not is_porto_setup(porto, replace(setup, visit_min_s=600.0))


def test_targets_are_stated_only_for_the_porto_setup(
    tmp_path: Path, helsinki_router: Router
) -> None:
    results = [
        day(helsinki_router, p, seed=s) for p in policies_for(Policy.DEFAULT) for s in (0, 1)
    ]
    comparison = compare(results, Policy.DEFAULT)
    headline = {**comparison.headline(), "wall_s": 12.0}
    assert targets(headline, porto_setup=False) is None
    checks = targets(headline, porto_setup=True, seeds=20, hours=2.0)
    assert checks is not None
    assert set(checks) == {
        "improvement_vs_greedy",
        "p90_improvement_vs_greedy",
        "no_doctor_rate",
        "cost_vs_road",
        "wall_s",
    }
    assert checks["wall_s"]["met"] is True  # 12 s <= 120 s
    # the wall-time bound was set for 20 seeds of 2 hours: not stated for a shorter run
    short = targets(headline, porto_setup=True, seeds=2, hours=0.75)
    assert short is not None and "wall_s" not in short
    meta = {"osm": "porto.osm.pbf", "nodes": 1, "edges": 1, "wall_s": 12.0, "simulate_s": 1.0}
    write_documents(tmp_path / "porto", comparison, SMALL, {**meta, "workers": 1}, headline, checks)
    report = (tmp_path / "porto" / "report.md").read_text()
    assert (
        "| improvement_vs_greedy |" in report and "| wall_s | 12.0 s | <= 120 s | yes |" in report
    )
    write_documents(tmp_path / "other", comparison, SMALL, {**meta, "workers": 1}, headline, None)
    report = (tmp_path / "other" / "report.md").read_text()
    assert "| improvement_vs_greedy |" not in report and "none is stated" in report
    assert json.loads((tmp_path / "other" / "results.json").read_text())["targets"] is None


def test_the_command_on_another_map_scales_and_states_no_target(
    capsys: pytest.CaptureFixture[str],
    bundled_osm: Path,
    graph_cache_dir: Path,
    helsinki_graph: RoadGraph,
    tmp_path: Path,
) -> None:
    out = tmp_path / "report"
    argv = ["simulate", "--osm", str(bundled_osm), "--cache-dir", str(graph_cache_dir)]
    argv += ["--hours", "0.5", "--warmup-min", "10", "--seeds", "2", "--workers", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    headline = json.loads(printed[-1])
    assert (headline["doctors"], headline["calls_per_hour"]) == (10, 8.0)
    assert headline["porto_setup"] is False and headline["targets_met"] is None
    assert "scaled to this map" in printed[0]
    assert "targets are stated only for Porto, 150 doctors, 120 calls per hour" in printed[0]
    report = (out / "report.md").read_text()
    assert "10 doctors, 8 calls per hour (scaled to this map" in report
    assert "none is stated" in report and "| met |" not in report
    doc = json.loads((out / "results.json").read_text())
    assert doc["targets"] is None and doc["config"]["doctors"] == 10
    # the headline's dispatch p99 is the table's: both over every decision, pooled
    header = printed[1].split()
    row = next(line for line in printed if line.startswith("dispatch latency p99, all decisions"))
    cells = row.removeprefix("dispatch latency p99, all decisions (µs)").split()
    column = header.index("default") - header.index("greedy")
    assert int(cells[column]) == round(headline["dispatch_p99_us"])
    assert f"dispatch p99 {headline['dispatch_p99_us']:.0f} µs wall" in report


def _pixels_of(fig: object, colour: str) -> int:
    """Pixels of `colour` inside the figure's axes, legends left out."""
    import matplotlib.colors

    fig.canvas.draw()  # type: ignore[attr-defined]
    image = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].astype(int)  # type: ignore[attr-defined]
    height = image.shape[0]
    want = np.array([round(255 * c) for c in matplotlib.colors.to_rgb(colour)])
    near = np.abs(image - want).sum(axis=2) < 60
    inside = np.zeros_like(near)
    for ax in fig.axes:  # type: ignore[attr-defined]
        box = ax.get_window_extent()
        inside[int(height - box.y1) : int(height - box.y0), int(box.x0) : int(box.x1)] = True
        legend = ax.get_legend()
        if legend is not None:
            lb = legend.get_window_extent()
            inside[int(height - lb.y1) : int(height - lb.y0), int(lb.x0) : int(lb.x1)] = False
    return int((near & inside).sum())


def test_every_policys_curve_shows_even_where_they_coincide(helsinki_graph: RoadGraph) -> None:
    import matplotlib.pyplot as plt

    from tot.simulate import _COLOURS

    policies = [Policy.GREEDY, Policy.ROAD, Policy.BATCH, Policy.DEFAULT]
    results = run_days(helsinki_graph, SMALL, policies, [0, 1], workers=1)  # timed decisions
    comparison = compare(results, Policy.DEFAULT)
    road, default = comparison.summaries["road"], comparison.summaries["default"]
    # a quiet day: no queue, so the default policy chooses exactly as road greedy
    np.testing.assert_array_equal(road.time_to_doctor_s, default.time_to_doctor_s)
    for figure in (time_to_doctor_figure(comparison), latency_figure(comparison)):
        try:
            for name in ("greedy", "road", "batch", "default"):
                assert _pixels_of(figure, _COLOURS[name]) > 150, name
        finally:
            plt.close(figure)
    figure = time_to_doctor_figure(comparison)
    try:
        labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    finally:
        plt.close(figure)
    assert "default (mean" in labels[-1] and "the same as road" in labels[-1]
