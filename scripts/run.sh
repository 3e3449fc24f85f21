#!/usr/bin/env bash
# Sets up the project and runs the main job: builds (or loads) the road graph of the
# bundled Helsinki map, routes a demo trip, then runs `tot demo` (the engine with a
# simulated city: API, WebSockets, pages) on the embedded defaults until Ctrl-C.
# With arguments: `tot ARGS...` (e.g. `serve` for the engine alone).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$PROJECT_ROOT"

ensure_venv
if [ "$#" -gt 0 ]; then
  exec .venv/bin/tot "$@"
fi
.venv/bin/tot graph build
log "a doctor at the Central Railway Station, a patient by the Old Market Hall:"
.venv/bin/tot route --from 60.1710,24.9414 --to 60.1673,24.9534
export TOT_ADMIN_EMAIL="${TOT_ADMIN_EMAIL:-admin@tot.example.org}"
export TOT_ADMIN_PASSWORD="${TOT_ADMIN_PASSWORD:-change-me-now-please}"
log "the demo city: pages http://${TOT_HOST:-127.0.0.1}:${TOT_PORT:-8000}/ (API docs at /docs), WebSockets ws://${TOT_HOST:-127.0.0.1}:${TOT_WS_PORT:-8001}/ws/ (Ctrl-C stops)"
exec .venv/bin/tot demo
