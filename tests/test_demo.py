"""`tot demo`'s simulated city drives the real engine: calls are assigned and visits end."""

from __future__ import annotations

import asyncio
from pathlib import Path

from routing import Router
from tests.api_harness import running_api
from tot.demo import CityDemo, DemoConfig


async def test_the_simulated_city_runs_visits_through_the_engine(
    helsinki_router: Router, tmp_path: Path
) -> None:
    async with running_api(helsinki_router, tmp_path) as api:
        config = DemoConfig(
            doctors=6, calls_per_hour=3_600 * 2, patients=3, accept_p=1.0, decline_p=0.0,
            answer_delay_s=(0.05, 0.2), visit_s=(1.0, 2.0), speed=40.0, fix_every_s=1.0,
            break_p_per_min=0.0, report_every_s=3_600, seed=7,
        )  # fmt: skip
        city = CityDemo(api.runtime, config)
        await city.start()
        try:
            for _ in range(80):
                await asyncio.sleep(0.25)
                if city.figures.completed >= 2:
                    break
        finally:
            await city.stop()
        f = city.figures
        assert f.calls >= 2 and f.assigned >= 2 and f.completed >= 2, city.summary(0)
        assert len(f.time_to_doctor_s) >= 2 and min(f.time_to_doctor_s) >= 0
        assert "completed" in city.summary(1.0)
        # every completed visit is stored with its whole history
        listed = await api.runtime.stores.bookings.list_bookings(
            statuses=frozenset({__import__("dispatch_core").BookingStatus.COMPLETED}), limit=10
        )
        assert len(listed) == f.completed


def test_the_demo_refuses_a_real_store(monkeypatch: object, capsys: object) -> None:
    from tot.cli import main

    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")  # type: ignore[attr-defined]
    assert main(["demo"]) == 2
    assert "embedded store" in capsys.readouterr().err  # type: ignore[attr-defined]
