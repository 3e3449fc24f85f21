"""The engine keeps the cyclic collector off its long-lived heap."""

from __future__ import annotations

import asyncio
import gc

from tot import server


async def test_the_heap_is_frozen_every_second_and_the_task_stops(monkeypatch: object) -> None:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    try:
        server.GC_FREEZE_EVERY_S = 0.05  # type: ignore[misc]
        stop = server.keep_the_collector_off_the_heap()
        assert gc.get_threshold()[0] == server.GC_YOUNG_THRESHOLD
        kept = [[i] for i in range(1_000)]  # long-lived objects made after start-up
        await asyncio.sleep(0.2)
        assert gc.get_freeze_count() >= len(kept)
        await stop()
        await asyncio.sleep(0)
        assert not [t for t in asyncio.all_tasks() if t.get_name() == "gc-freeze" and not t.done()]
    finally:
        server.GC_FREEZE_EVERY_S = 1.0  # type: ignore[misc]
        gc.unfreeze()
        gc.set_threshold(*thresholds)
