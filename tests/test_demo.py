"""`tot demo`'s simulated city drives the real engine: calls are assigned and visits end; the
call rate is scaled to the map, the first call comes within seconds, and every figure on the
terminal counts what its label says (bookings recovered from the store apart)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from dispatch_core import BookingStatus
from routing import Router
from services.road_network import load_road_graph
from tests.api_harness import running_api
from tot.demo import CityDemo, DemoConfig, demo_config_from_environment, scaled_calls_per_hour
from tot.settings import BUNDLED_OSM_PATH

# Doctors who answer at once and drive and treat 40 times faster: visits end in seconds.
FAST = DemoConfig(
    doctors=6, calls_per_hour=3_600 * 2, patients=3, accept_p=1.0, decline_p=0.0,
    answer_delay_s=(0.05, 0.2), visit_s=(1.0, 2.0), speed=40.0, fix_every_s=1.0,
    break_p_per_min=0.0, report_every_s=3_600, seed=7, first_call_after_s=0.1,
)  # fmt: skip


@pytest.fixture(scope="module")
def nizhny_router(graph_cache_dir: Path) -> Router:
    return Router(load_road_graph(BUNDLED_OSM_PATH, graph_cache_dir).graph)


async def run_until(city: CityDemo, done: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.1)


def assert_figures_add_up(city: CityDemo) -> None:
    f = city.figures
    assert f.calls == f.completed + f.no_doctor + f.cancelled + f.open, city.summary(0)
    assert f.open >= 0 and f.recovered_open >= 0
    assert f.completed <= f.assigned <= f.calls, city.summary(0)
    assert f.emergencies <= f.calls
    assert len(f.time_to_doctor_s) <= f.assigned


async def test_the_simulated_city_runs_visits_through_the_engine(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        city = CityDemo(api.runtime, FAST)
        await city.start()
        try:
            await run_until(city, lambda: city.figures.completed >= 2)
        finally:
            await city.stop()
        f = city.figures
        assert f.calls >= 2 and f.assigned >= 2 and f.completed >= 2, city.summary(0)
        assert len(f.time_to_doctor_s) >= 2 and min(f.time_to_doctor_s) >= 0
        assert "completed" in city.summary(1.0)
        assert_figures_add_up(city)
        # the money flows too: the sandbox confirms the patients' payments itself, and
        # the completed visits are captured with the ledger balanced
        await run_until(city, lambda: api.runtime.payments.captured >= 1, timeout_s=30)
        assert api.runtime.payments.captured >= 1, city.summary(0)
        assert "paid" in city.summary(1.0)
        assert sum((await api.runtime.payments.store.balances()).values()) == 0
        # every completed visit is stored with its whole history
        listed = await api.runtime.stores.bookings.list_bookings(
            statuses=frozenset({BookingStatus.COMPLETED}), limit=100
        )
        assert len(listed) == f.completed


def test_the_call_rate_is_scaled_to_the_map(helsinki_router: Router, nizhny_router: Router) -> None:
    base = DemoConfig()
    assert base.calls_per_hour is None  # the default: scaled
    small = scaled_calls_per_hour(helsinki_router, base)
    city = scaled_calls_per_hour(nizhny_router, base)
    # central Helsinki is 1.6 km²: drives under a minute; Nizhny Novgorod's centre is a city
    assert small.drive_s < 90 < city.drive_s < 300
    for scale in (small, city):
        # the rate keeps about half the doctors busy: calls x time per call = busy doctors
        busy = scale.calls_per_hour * scale.busy_s / 3_600
        assert busy == pytest.approx(0.5 * base.doctors, rel=1e-6)
    # longer drives take a doctor longer per call: fewer calls keep the fleet as busy
    assert 100 < city.calls_per_hour < small.calls_per_hour
    # twice the doctors, about twice the calls (the nearest of more free doctors is closer)
    double = scaled_calls_per_hour(nizhny_router, replace(base, doctors=60))
    assert 2.0 * city.calls_per_hour < double.calls_per_hour < 2.6 * city.calls_per_hour
    # doctors driving and treating twice as fast: a call takes them half as long
    fast = scaled_calls_per_hour(nizhny_router, replace(base, speed=2.0))
    assert fast.busy_s < 0.6 * city.busy_s
    # the same seed, the same estimate
    assert scaled_calls_per_hour(nizhny_router, base) == city


def test_the_rate_from_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOT_DEMO_CALLS_PER_HOUR", "")  # `tot demo` without --calls-per-hour
    assert demo_config_from_environment().calls_per_hour is None
    monkeypatch.setenv("TOT_DEMO_CALLS_PER_HOUR", "90")
    assert demo_config_from_environment().calls_per_hour == 90.0


async def test_the_first_call_comes_within_seconds(helsinki_router: Router, tmp_path: Path) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        config = DemoConfig(doctors=10, patients=2, report_every_s=3_600)  # the defaults' timing
        city = CityDemo(api.runtime, config)
        assert city.scaled and city.calls_per_hour == city.scale.calls_per_hour
        assert "calls per hour (scaled to this map" in city.describe()
        # the warm start: half as many calls as are open at any moment in the steady state
        steady_open = city.calls_per_hour * city.scale.busy_s / 3_600
        assert city.warm_calls == round(steady_open / 2) >= 2
        started = time.monotonic()
        await city.start()
        try:
            await run_until(city, lambda: city.figures.calls >= 1, timeout_s=10)
            first_s = time.monotonic() - started
        finally:
            await city.stop()
        assert city.figures.calls >= 1
        assert first_s < 5.0

    async with running_api(helsinki_router, tmp_path / "warm") as api:
        city = CityDemo(api.runtime, replace(config, warm_start_every_s=0.2))
        started = time.monotonic()
        await city.start()
        try:
            await run_until(city, lambda: city.figures.calls >= city.warm_calls, timeout_s=10)
            warm_s = time.monotonic() - started
        finally:
            await city.stop()
        assert city.figures.calls >= city.warm_calls
        assert f"then {city.warm_calls - 1} more" in city.describe()
    # at the Poisson rate alone as many calls would take minutes on average
    assert warm_s < 3_600 * city.warm_calls / city.calls_per_hour


async def test_figures_count_each_booking_once_and_recovered_ones_apart(
    helsinki_router: Router, tmp_path: Path
) -> None:
    # A busy first run: 3 doctors, a call every two seconds, so bookings are left open.
    busy = replace(FAST, doctors=3, calls_per_hour=1_800.0, visit_s=(20.0, 40.0))
    async with running_api(helsinki_router, tmp_path) as api:
        city = CityDemo(api.runtime, busy)
        await city.start()
        try:
            # someone books through the API too: a call like the simulated patients'
            _, token = await api.patient()
            await api.book(token)
            await run_until(city, lambda: city.figures.completed >= 2 and city.figures.open >= 3)
        finally:
            await city.stop()
        first = city.figures
        assert_figures_add_up(city)
        assert first.recovered == 0 and "recovered" not in city.summary(0)
        assert first.completed >= 2 and first.open >= 3, city.summary(0)
        stored = await api.runtime.stores.bookings.list_bookings(limit=1_000)
        assert len(stored) == first.calls  # every call is counted once, the API's included
        completed = [b for b in stored if b.status is BookingStatus.COMPLETED]
        assert len(completed) == first.completed
        histories = [await api.runtime.stores.bookings.load(b.booking_id) for b in stored]
        assigned_ever = [
            b
            for b in histories
            if b is not None and any(u.new_status is BookingStatus.ASSIGNED for u in b.history)
        ]
        assert len(assigned_ever) == first.assigned
        left_open = {b.booking_id for b in stored if not b.terminal}
        assert len(left_open) == first.open

    # The demo restarted on the same store: what the first run left open is recovered,
    # counted apart; this run's calls start from nothing.
    # (More doctors now, and no new calls for an hour.)
    second_config = replace(busy, doctors=8, first_call_after_s=3_600.0, visit_s=(1.0, 2.0))
    async with running_api(helsinki_router, tmp_path) as api:
        city = CityDemo(api.runtime, replace(second_config, warm_start_every_s=3_600.0))
        planned = city.warm_calls
        await city.start()
        try:
            f = city.figures
            assert f.recovered_ids == left_open and f.recovered == len(left_open)
            # the recovered bookings are open calls already: the warm start makes fewer
            assert city.warm_calls == max(0, planned - f.recovered)
            assert f.calls == f.completed == f.assigned == 0
            await run_until(city, lambda: city.figures.recovered_open == 0, timeout_s=40)
        finally:
            await city.stop()
        f = city.figures
        assert f.calls == 0 and f.completed == 0 and f.assigned == 0, city.summary(0)
        assert f.recovered_open == 0, city.summary(0)
        assert f.recovered_completed >= 1
        store = api.runtime.stores.bookings
        ended = [await store.load(booking_id) for booking_id in left_open]
        assert f.recovered_completed == sum(
            1 for b in ended if b is not None and b.status is BookingStatus.COMPLETED
        )
        line = city.summary(0)
        assert "calls 0 " in line and "completed 0 " in line
        assert f"recovered {f.recovered}: completed {f.recovered_completed} " in line
        assert_figures_add_up(city)


async def test_the_summary_names_what_the_doctors_do(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        city = CityDemo(api.runtime, replace(FAST, doctors=5, visit_s=(30.0, 60.0)))
        await city.start()
        try:
            await run_until(city, lambda: sum(city.doctors_busy()) >= 2)
            driving, visiting = city.doctors_busy()
        finally:
            await city.stop()
        assert driving + visiting >= 2
        assert "doctors 5: driving " in city.summary(0)


def test_the_demo_refuses_a_real_store(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tot.cli import main

    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    assert main(["demo"]) == 2
    assert "embedded store" in capsys.readouterr().err
