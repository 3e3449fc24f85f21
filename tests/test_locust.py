"""The locustfile drives a real `tot serve` headless: every user class works, nothing fails."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tot.settings import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_locust_headless_run_against_the_engine(tmp_path: Path, graph_cache_dir: Path) -> None:
    port, ws_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "TOT_SQLITE_PATH": str(tmp_path / "tot.sqlite3"),
        "TOT_GRAPH_CACHE_DIR": str(graph_cache_dir),
        "TOT_PORT": str(port),
        "TOT_WS_PORT": str(ws_port),
        "TOT_ADMIN_EMAIL": "admin@tot.example.org",
        "TOT_ADMIN_PASSWORD": "locust-admin-password",
        "TOT_ARGON2_TIME_COST": "1",
        "TOT_ARGON2_MEMORY_KIB": "1024",
        "TOT_LOGIN_RATE_PER_MIN": "100000",
        "TOT_BOOKING_RATE_PER_MIN": "100000",
        "TOT_BOOKING_RATE_PER_IP_PER_MIN": "100000",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "tot", "serve"], env=env, cwd=PROJECT_ROOT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/v1/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        out = tmp_path / "locust"
        run = subprocess.run(
            [
                sys.executable, "-m", "locust", "-f", "benchmarks/locustfile.py", "--headless",
                "-u", "6", "-r", "6", "-t", "10s", "--host", base, "--csv", str(out),
                "--only-summary", "--exit-code-on-error", "1",
            ],
            env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        with open(f"{out}_stats.csv") as f:
            rows = {r["Name"]: r for r in csv.DictReader(f)}
        for name in (
            "/bookings [create]",
            "/ws/patient [hello]",
            "/ws/doctor [position+ping]",
            "/operator/bookings",
        ):
            assert int(rows[name]["Request Count"]) > 0, name
        assert int(rows["Aggregated"]["Failure Count"]) == 0
    finally:
        server.terminate()
        server.wait(timeout=20)
