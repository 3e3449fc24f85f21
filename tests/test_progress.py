"""Long first steps show progress on a terminal (a pseudo-terminal here) and stay quiet in logs:
the project's install (scripts/lib.sh) and the road graph's build (`tot graph build`)."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import HELSINKI_OSM_PATH

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Stands in for the venv's python: pip prints what it collects, slowly, like the real one.
FAKE_PYTHON = """#!/usr/bin/env bash
case "$*" in
  *"pip install --upgrade pip"*) echo "Requirement already satisfied: pip in ./.venv"; exit 0 ;;
  *"pip install"*)
    for p in numpy scipy osmium; do
      echo "Collecting $p==1.0"; sleep 0.7; echo "  Downloading $p-1.0-cp311-manylinux.whl (9.9 MB)"
    done
    echo "Installing collected packages: numpy, scipy, osmium"; sleep 1.6
    [ "${FAKE_PIP_FAILS:-}" ] && { echo "ERROR: no space left on device"; exit 1; }
    echo "Successfully installed numpy-1.0 osmium-1.0 scipy-1.0"; exit 0 ;;
  *) exit 0 ;;
esac
"""


def run_on_pty(argv: list[str], cwd: Path, env: dict[str, str], timeout_s: float = 60) -> str:
    """Run argv with a pseudo-terminal as stdin, stdout and stderr; everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=10) == 0, out.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return out.decode(errors="replace")


@pytest.fixture
def fake_project(tmp_path: Path) -> Path:
    """A project folder with the real scripts/lib.sh and a venv whose python fakes pip."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(PROJECT_ROOT / "scripts" / "lib.sh", tmp_path / "scripts" / "lib.sh")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "requirements.lock").write_text("numpy==1.0\n")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path


ENSURE_VENV = ["bash", "-c", "set -euo pipefail; source scripts/lib.sh; ensure_venv"]


def test_the_install_shows_its_progress_on_a_terminal(fake_project: Path) -> None:
    shown = run_on_pty(ENSURE_VENV, fake_project, {**os.environ, "PYTHON": sys.executable})
    assert "installing the project into" in shown and "a few minutes the first time" in shown
    # a status line that moves: the packages collected so far, the latest line, the time
    assert "installing: " in shown
    assert "1 packages: Collecting numpy==1.0" in shown
    assert "3 packages: Collecting osmium==1.0" in shown
    assert "Installing collected packages" in shown
    seconds = {int(s) for s in re.findall(r"installing: (\d+)s", shown)}
    assert len(seconds) >= 3, "the clock ticks even while pip prints nothing"
    assert "installed in" in shown
    log = (fake_project / ".venv" / "pip-install.log").read_text()
    assert "Successfully installed" in log and log.count("Collecting") == 3
    assert (fake_project / ".venv" / ".tot-installed").is_file()
    # the second run finds the stamp: nothing to do, nothing shown
    assert run_on_pty(ENSURE_VENV, fake_project, {**os.environ, "PYTHON": sys.executable}) == ""


def test_the_install_is_quiet_without_a_terminal(fake_project: Path) -> None:
    done = subprocess.run(
        ENSURE_VENV,
        cwd=fake_project,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "Collecting" not in done.stderr and "\r" not in done.stderr
    assert "installing the project into" in done.stderr
    assert "Successfully installed" in (fake_project / ".venv" / "pip-install.log").read_text()


def test_a_failed_install_shows_pips_log_and_fails(fake_project: Path) -> None:
    done = subprocess.run(
        ENSURE_VENV,
        cwd=fake_project,
        env={**os.environ, "PYTHON": sys.executable, "FAKE_PIP_FAILS": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "ERROR: no space left on device" in done.stderr
    assert "installing the project failed" in done.stderr
    assert not (fake_project / ".venv" / ".tot-installed").exists()


def test_the_graph_build_shows_its_stages_on_a_terminal(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "tot", "graph", "build", "--osm", str(HELSINKI_OSM_PATH)]
    argv += ["--cache-dir", str(tmp_path)]
    shown = run_on_pty(argv, PROJECT_ROOT, dict(os.environ))
    assert "[tot] building the road graph" in shown
    assert "reading the ways of helsinki.osm.pbf" in shown
    assert "finding the largest strongly connected component" in shown
    assert "ordering" in shown and "contraction hierarchy" in shown
    assert "road graph built in" in shown
    assert "built helsinki.osm.pbf: " in shown  # the result, after the status line
    # from the cache: nothing to show but the result
    again = run_on_pty(argv, PROJECT_ROOT, dict(os.environ))
    assert "building the road graph" not in again
    assert "loaded from cache helsinki.osm.pbf" in again


def test_the_graph_build_is_quiet_without_a_terminal(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "tot", "graph", "build", "--osm", str(HELSINKI_OSM_PATH)]
    done = subprocess.run(
        [*argv, "--cache-dir", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("built helsinki.osm.pbf: ")
