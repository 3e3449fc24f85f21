#!/usr/bin/env bash
# Sets up everything the tests need (venv, PostGIS, running PostgreSQL and Redis), then runs
# ruff, mypy, the import-layer contracts and pytest. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROJECT_ROOT"

ensure_venv "[dev]"
ensure_postgis
ensure_postgres_running
ensure_redis_running
ensure_chromium

log "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
log "mypy (strict on the core)"
.venv/bin/mypy
log "import contracts"
.venv/bin/lint-imports
log "pytest"
.venv/bin/pytest "$@"
