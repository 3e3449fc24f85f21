"""Every benchmark runs both ways the README and a newcomer would try: `python -m
benchmarks.X` and `python benchmarks/X.py` (from the project's root or from elsewhere)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted(
    p.stem
    for p in (PROJECT_ROOT / "benchmarks").glob("*.py")
    if 'if __name__ == "__main__":' in p.read_text() and p.stem != "locustfile"
)


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_every_benchmark_is_found() -> None:
    assert SCRIPTS == [
        "api", "gateway", "geocode", "matching", "payments", "routing", "storage", "tiles",
    ]  # fmt: skip


@pytest.mark.parametrize("name", SCRIPTS)
def test_a_benchmark_runs_as_a_script_and_as_a_module(name: str, tmp_path: Path) -> None:
    script = PROJECT_ROOT / "benchmarks" / f"{name}.py"
    for argv, cwd in (
        ([f"benchmarks/{name}.py", "--help"], PROJECT_ROOT),
        ([str(script), "--help"], tmp_path),  # from anywhere, by its path
        (["-m", f"benchmarks.{name}", "--help"], PROJECT_ROOT),
    ):
        done = run(argv, cwd)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("usage: "), done.stdout
        assert "--quick" in done.stdout
        assert "Error" not in done.stderr


def test_a_scripts_exit_status_comes_through() -> None:
    done = run(["benchmarks/routing.py", "--no-such-option"], PROJECT_ROOT)
    assert done.returncode == 2
    assert "unrecognized arguments: --no-such-option" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_locustfile_says_how_to_run_it() -> None:
    done = run(["benchmarks/locustfile.py"], PROJECT_ROOT)
    assert done.returncode == 2
    assert "locust -f benchmarks/locustfile.py" in done.stderr
