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
ensure_node

log "web app: npm ci, build, the committed bundle, vitest (node $(node --version))"
(cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
if ! git diff --quiet -- web/dist || [ -n "$(git status --porcelain --untracked-files=all -- web/dist)" ]; then
  git status --short -- web/dist >&2
  log "web/dist differs from a fresh build: run (cd web && npm ci && npm run build) and commit web/dist"
  exit 1
fi
(cd web && npx vitest run)

log "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
log "mypy (strict on the core)"
.venv/bin/mypy
log "import contracts"
.venv/bin/lint-imports
log "pytest"
.venv/bin/pytest "$@"
