"""`tot demo` as a real process for the browser tests: on free ports, with the embedded
store in the test's folder and none of the caller's TOT_*, DATABASE_URL or REDIS_URL."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.test_pages import _free_port
from tot.settings import PROJECT_ROOT


@contextlib.contextmanager
def running_demo(
    tmp_path: Path, args: list[str], env: dict[str, str], *, start_timeout_s: float
) -> Iterator[tuple[str, int]]:
    """Yields the demo's base URL and pid once it is ready; its output is in demo.log."""
    port, ws_port = _free_port(), _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOT_")}
    clean.pop("DATABASE_URL", None)
    clean.pop("REDIS_URL", None)
    clean.update(TOT_SQLITE_PATH=str(tmp_path / "engine.sqlite3"), **env)
    log = (tmp_path / "demo.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "tot", "demo", *args, "--port", str(port), "--ws-port", str(ws_port)],
        env=clean, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            assert server.poll() is None, (tmp_path / "demo.log").read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/api/v1/ready", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError("the demo did not start")
            time.sleep(0.1)
        yield base, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
