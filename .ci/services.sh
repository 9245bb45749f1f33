# Services for the test suite. Sourced by .ci/run.
#
# ensure_chromium (called by start_services): Debian's Chromium for the browser tests.
# ensure_prometheus (called by start_services): Debian's Prometheus server for the /metrics test.
# ensure_bwrap (called by start_services): Debian's bubblewrap, the local backend's sandbox (the
# isolation tests run as root under CI=true and fail without it).
# start_services: a throwaway PostgreSQL 15 cluster on a loopback port, owned by an unprivileged
# user (initdb refuses to run as root), with trust auth for that loopback port only. Exports
# SUANLI_TEST_DATABASE_URL for the tests; stop_services stops the cluster and removes its files.
# start_slurm / stop_slurm (from .ci/slurm.sh, also usable by hand: `.ci/slurm.sh start|stop`): a
# throwaway two-node Slurm cluster with fake GPUs; exports SLURM_CONF and SUANLI_SLURM=1.
# start_ray / stop_ray (from .ci/ray.sh, also `.ci/ray.sh start|stop`): a Ray head with 4 fake GPUs
# and its dashboard on 127.0.0.1:8265; exports SUANLI_RAY_ADDRESS.

# shellcheck source=.ci/slurm.sh
source "$(dirname "${BASH_SOURCE[0]}")/slurm.sh"
# shellcheck source=.ci/ray.sh
source "$(dirname "${BASH_SOURCE[0]}")/ray.sh"

SUANLI_PG_BIN="${SUANLI_PG_BIN:-/usr/local/bin}"

_suanli_pg_run() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u "${SUANLI_PG_USER:-postgres}" -- "$@"
  else
    "$@"
  fi
}

# ensure_chromium: the dashboard tests (tests/web) drive Debian's Chromium through the playwright
# package (never `playwright install`); install it when it is missing.
ensure_chromium() {
  command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
}

# ensure_bwrap: the local backend runs jobs under bubblewrap when it is there (docs/security.md);
# tests/agent/test_isolation.py needs it under CI=true. Install it when it is missing.
ensure_bwrap() {
  command -v bwrap >/dev/null || (apt-get update -qq && apt-get install -y -qq bubblewrap)
}

# ensure_prometheus: tests/api/test_metrics.py starts a real Prometheus server (Debian's package; the
# package's own service is not started) that scrapes `suanli serve`; install it when it is missing.
ensure_prometheus() {
  command -v prometheus >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null)
}

start_services() {
  ensure_chromium || echo "services: could not install chromium; the dashboard tests will fail under CI=true" >&2
  ensure_bwrap || echo "services: could not install bubblewrap; the isolation tests will fail under CI=true" >&2
  ensure_prometheus || echo "services: could not install prometheus; the metrics test will fail under CI=true" >&2
  start_slurm || echo "services: Slurm did not start; the Slurm backend tests will fail under CI=true" >&2
  start_ray || echo "services: Ray did not start; the Ray backend tests will fail under CI=true" >&2
  if [ ! -x "$SUANLI_PG_BIN/initdb" ]; then
    echo "services: no PostgreSQL at $SUANLI_PG_BIN; PostgreSQL tests will fail under CI=true" >&2
    return 0
  fi
  SUANLI_PG_DIR="$(mktemp -d /tmp/suanli-pg.XXXXXX)"
  export SUANLI_PG_DIR
  if [ "$(id -u)" = "0" ]; then chown "${SUANLI_PG_USER:-postgres}" "$SUANLI_PG_DIR"; fi
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  if ! _suanli_pg_run "$SUANLI_PG_BIN/initdb" -D "$SUANLI_PG_DIR/data" -A trust -U suanli --no-sync \
      >"$SUANLI_PG_DIR/initdb.log" 2>&1 \
    || ! _suanli_pg_run "$SUANLI_PG_BIN/pg_ctl" -D "$SUANLI_PG_DIR/data" -l "$SUANLI_PG_DIR/server.log" -w \
      -o "-p $port -k $SUANLI_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on" start >/dev/null; then
    echo "services: PostgreSQL did not start (see below); PostgreSQL tests will fail under CI=true" >&2
    cat "$SUANLI_PG_DIR"/*.log >&2 2>/dev/null || true
    return 0
  fi
  export SUANLI_TEST_DATABASE_URL="postgresql+psycopg://suanli@127.0.0.1:$port/postgres"
  echo "services: PostgreSQL 15 on 127.0.0.1:$port ($SUANLI_PG_DIR)"
}

stop_services() {
  stop_slurm || true
  stop_ray || true
  if [ -n "${SUANLI_PG_DIR:-}" ] && [ -d "$SUANLI_PG_DIR/data" ]; then
    _suanli_pg_run "$SUANLI_PG_BIN/pg_ctl" -D "$SUANLI_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$SUANLI_PG_DIR"
  fi
}
