"""`tot demo` and `tot serve` on a taken port: one line naming the port and how to change it,
exit status 2, before anything starts (a real process, a really occupied socket)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def occupied() -> Iterator[int]:
    """A port something listens on (as a first `tot demo` would)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def tot(argv: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "TOT_SQLITE_PATH": str(tmp_path / "tot.sqlite3"),
        "TOT_GRAPH_CACHE_DIR": str(tmp_path / "graphs"),
        "TOT_HOST": "127.0.0.1",
        **env,
    }
    for name in ("DATABASE_URL", "REDIS_URL", "TOT_PORT", "TOT_WS_PORT"):
        if name not in env:
            environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "tot", *argv],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "Errno" not in done.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_taken_http_port_is_one_line(command: str, occupied: int, tmp_path: Path) -> None:
    line = one_line(
        tot([command, "--port", str(occupied), "--ws-port", str(free_port())], tmp_path)
    )
    assert line.startswith("tot: error: the HTTP port")
    assert f"port {occupied} on 127.0.0.1 is taken" in line
    assert "--port or TOT_PORT" in line
    assert not (tmp_path / "graphs").exists(), "refused before any work"


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_taken_websocket_port_is_one_line(command: str, occupied: int, tmp_path: Path) -> None:
    done = tot([command], tmp_path, TOT_PORT=str(free_port()), TOT_WS_PORT=str(occupied))
    line = one_line(done)
    assert line.startswith("tot: error: the WebSocket port")
    assert f"port {occupied} on 127.0.0.1 is taken" in line
    assert "--ws-port or TOT_WS_PORT" in line


def test_the_flag_moves_the_websocket_port(occupied: int, tmp_path: Path) -> None:
    # the environment names a taken port, the flag a free one: the flag wins, so the check
    # passes and the next refusal is the (deliberately) missing map, in one line too
    done = tot(
        ["serve", "--ws-port", str(free_port()), "--port", str(free_port())],
        tmp_path,
        TOT_WS_PORT=str(occupied),
        TOT_OSM_PATH=str(tmp_path / "missing.osm.pbf"),
    )
    assert "missing.osm.pbf: no such file" in one_line(done)
