#!/usr/bin/env bash
# Sets up the project and runs the main job: builds (or loads) the road graph of the
# bundled central-Nizhny Novgorod map, routes a demo trip, then runs `tot demo` (the
# engine with a simulated city: API, WebSockets, pages) on the embedded defaults until
# Ctrl-C.
# With arguments: `tot ARGS...` (e.g. `serve` for the engine alone).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROJECT_ROOT"

ensure_venv
if [ "$#" -gt 0 ]; then
  exec .venv/bin/tot "$@"
fi
.venv/bin/tot graph build
log "a doctor on Minin and Pozharsky Square (by the Kremlin), a patient on Gorky Square:"
.venv/bin/tot route --from 56.3269,44.0065 --to 56.3139,43.9917
export TOT_ADMIN_EMAIL="${TOT_ADMIN_EMAIL:-admin@tot.example.org}"
export TOT_ADMIN_PASSWORD="${TOT_ADMIN_PASSWORD:-change-me-now-please}"
log "the demo city: pages http://${TOT_HOST:-127.0.0.1}:${TOT_PORT:-8000}/ (API docs at /docs), WebSockets ws://${TOT_HOST:-127.0.0.1}:${TOT_WS_PORT:-8001}/ws/ (Ctrl-C stops)"
exec .venv/bin/tot demo
