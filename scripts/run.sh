#!/usr/bin/env bash
# Sets up the project and runs the main job. With no arguments: builds (or loads) the road
# graph of the bundled Helsinki map and routes a demo trip; with arguments: `tot ARGS...`.
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
log "three doctors ranked by road ETA to one patient:"
.venv/bin/tot route --from 60.1710,24.9414 --from 60.1650,24.9300 --from 60.1600,24.9450 \
  --to 60.1673,24.9534
