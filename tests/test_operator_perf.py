"""The operator console stays smooth with 10,000 doctors: `tot demo --osm
../shared/osm/porto.osm.pbf --doctors 10000`, the console in Debian's Chromium at desktop
size with the whole city in view, and for about 10 s, in the page: every animation frame's
time (requestAnimationFrame deltas) and every time the doctors layer was redrawn. The
issue's bars are a redraw at least once a second and no frame over 50 ms; the figures are
printed and recorded (`record_property`) for the README, and only the behaviour is
asserted (every doctor drawn, the layer live)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.demo_process import running_demo
from tests.test_pages import CHROMIUM, DESKTOP, Watch
from tot.settings import PROJECT_ROOT

PORTO = PROJECT_ROOT.parent / "shared" / "osm" / "porto.osm.pbf"
DOCTORS = 10_000
DEMO_PASSWORD = "demo-password-123"
MEASURE_S = 10.0


def _cpu_s(pid: int) -> float:
    """The process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def porto_demo(tmp_path: Path) -> contextlib.AbstractContextManager[tuple[str, int]]:
    # The compiled Porto graph and tiles are kept in the usual cache between runs (a
    # first build takes about 20 s more).
    cache = os.environ.get("TOT_GRAPH_CACHE_DIR")
    return running_demo(
        tmp_path, ["--osm", str(PORTO), "--doctors", str(DOCTORS)],
        {"TOT_GRAPH_CACHE_DIR": cache} if cache else {}, start_timeout_s=120,
    )  # fmt: skip


MEASURE = """async (seconds) => {
  const drawn = window.__totDoctorsDrawn;
  const from = drawn.length;
  const deltas = [];
  const t0 = performance.now();
  let last = t0;
  await new Promise((done) => {
    const tick = (now) => {
      deltas.push(now - last);
      last = now;
      if (now - t0 < seconds * 1000) requestAnimationFrame(tick);
      else done();
    };
    requestAnimationFrame(tick);
  });
  const draws = drawn.slice(from).filter((t) => t >= t0);
  const drawMs = window.__totDrawMs.slice(from);
  const frameMs = window.__totFrameMs.slice(from);
  const gaps = draws.slice(1).map((t, i) => t - draws[i]);
  const sorted = [...deltas].sort((a, b) => a - b);
  const long = (performance.getEntriesByType?.("longtask") ?? []).length;
  return {
    seconds: (last - t0) / 1000,
    frames: deltas.length,
    max_frame_ms: Math.max(...deltas),
    p99_frame_ms: sorted[Math.floor(sorted.length * 0.99)],
    p50_frame_ms: sorted[Math.floor(sorted.length * 0.5)],
    frames_over_50ms: deltas.filter((d) => d > 50).length,
    layer_updates: draws.length,
    max_update_gap_ms: gaps.length ? Math.max(...gaps) : null,
    first_update_after_ms: draws.length ? draws[0] - t0 : null,
    last_update_before_end_ms: draws.length ? last - draws[draws.length - 1] : null,
    doctors_drawn: Number(document.querySelector("#op-map").dataset.doctors),
    long_tasks: long,
    max_build_frame_ms: frameMs.length ? Math.max(...frameMs) : null,
    max_set_data_ms: drawMs.length ? Math.max(...drawMs) : null,
  };
}"""


def _metrics(cdp: Any) -> dict[str, float]:
    got = cdp.send("Performance.getMetrics")
    return {m["name"]: float(m["value"]) for m in got["metrics"]}


@pytest.mark.perf
def test_the_console_stays_smooth_with_10000_doctors(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not PORTO.is_file():
        pytest.skip(f"the team's Porto extract is not at {PORTO}")
    started = time.monotonic()
    watch = Watch()
    with porto_demo(tmp_path) as (base, demo_pid), sync_playwright() as pw:
        ready_s = time.monotonic() - started
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--enable-unsafe-swiftshader", "--use-angle=swiftshader"],
        )
        try:
            ctx = browser.new_context(viewport=DESKTOP, locale="en-GB", service_workers="block")
            ctx.add_init_script(
                "window.__totDoctorsDrawn = []; window.__totDrawMs = []; window.__totFrameMs = [];"
            )
            page = ctx.new_page()
            watch.attach(page, "operator")
            page.goto(f"{base}/operator")
            page.fill("#signin-email", "operator@demo.tot.example.org")
            page.fill("#signin-password", DEMO_PASSWORD)
            page.click("#signin-submit")
            expect(page.locator("#connection")).to_have_attribute(
                "data-state", "open", timeout=30_000
            )
            expect(page.locator("#op-map")).to_have_attribute("data-ready", "true", timeout=30_000)
            # The whole city is in view: all the doctors on shift are drawn.
            page.wait_for_function(
                "() => Number(document.querySelector('#op-map').dataset.doctors) >= 9000",
                timeout=60_000,
            )
            page.wait_for_timeout(1500)  # the first tiles are in
            cdp = ctx.new_cdp_session(page)
            cdp.send("Performance.enable")
            before = _metrics(cdp)
            load_before = os.getloadavg()[0]
            demo_cpu = _cpu_s(demo_pid)
            figures = page.evaluate(MEASURE, MEASURE_S)
            figures["demo_cpu_share"] = round((_cpu_s(demo_pid) - demo_cpu) / figures["seconds"], 2)
            after = _metrics(cdp)
            # The page's main thread: the share of the time it was busy, and with what.
            for name in ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration"):
                figures[f"main_thread_{name}_share"] = round(
                    (after[name] - before[name]) / figures["seconds"], 3
                )
            figures["host_load_1min"] = round(max(load_before, os.getloadavg()[0]), 1)
            figures["cores"] = os.cpu_count()
            page.screenshot(path=str(tmp_path / "operator-10000.png"))
        finally:
            browser.close()
    lines = [x for x in (tmp_path / "demo.log").read_text().splitlines() if x.startswith("[")]
    figures["demo_last_status"] = lines[-1] if lines else None
    figures["demo_ready_s"] = round(ready_s, 1)
    figures["total_s"] = round(time.monotonic() - started, 1)
    print("\noperator console, 10,000 doctors:", json.dumps(figures))
    target = os.environ.get("TOT_SCREENSHOTS_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / "operator-perf.json").write_text(json.dumps(figures, indent=1))
    for name, value in figures.items():
        record_property(name, value)
    assert not watch.outside, watch.outside
    assert not watch.problems, watch.problems
    assert figures["doctors_drawn"] >= 9000, figures
    # The layer is live: it was redrawn from the feed during the measurement. How often,
    # and the longest frame, are measured and printed, not asserted (machines differ by
    # 1.5-2.5 times, and a loaded 2-core host without a GPU draws in software); the
    # README gives the figures against the bars (once a second, no frame over 50 ms).
    assert figures["layer_updates"] >= 2, figures
