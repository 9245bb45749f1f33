# A Ray head for the ray backend tests (tests/agent/test_ray_backend.py). Source it and call
# start_ray / stop_ray, or run it: `bash .ci/ray.sh start|stop` (from the repository root).
#
# start_ray: uses the venv's ray (${SUANLI_VENV:-.venv}/bin/ray). The venv is made by `make
# install`, which CI otherwise runs only inside `make test`, after the services start; so when the
# ray binary is missing start_ray runs `make install` first (same stamp, so `make test` does not
# install twice). It then starts a head with 4 fake GPUs, 4 CPUs and a 200 MB object store, its
# dashboard (Jobs API) on 127.0.0.1:8265, waits until the dashboard answers, and exports
# SUANLI_RAY_ADDRESS=http://127.0.0.1:8265. When a dashboard already answers there it is reused.
#
# Token authentication is off for this test head (RAY_AUTH_MODE=disabled, here and in what the
# tests run): Ray 2.5x turns it on by itself when ~/.ray/auth_token exists (`ray get-auth-token
# --generate` leaves one), and then its dashboard answers 401 to every client without the token.
#
# The head is started with an almost empty environment (HOME, PATH, LANG, TMPDIR) from
# ${TMPDIR:-/tmp}: a Ray job's process inherits the environment and the working directory of
# whoever ran `ray start`, so neither CI secrets nor the checkout should be there.
#
# stop_ray: `ray stop --force` (every Ray process of this machine's session, started by us).
#
# On failure start_ray warns and returns 0, like start_services: the ray tests fail under CI=true.

SUANLI_RAY_HOST="${SUANLI_RAY_HOST:-127.0.0.1}"
SUANLI_RAY_PORT="${SUANLI_RAY_PORT:-8265}"

_suanli_ray_bin() {
  local venv="${SUANLI_VENV:-.venv}"
  case "$venv" in /*) ;; *) venv="$PWD/$venv" ;; esac
  echo "$venv/bin/ray"
}

_suanli_ray_answers() {
  "$(dirname "$(_suanli_ray_bin)")/python" - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/api/version", timeout=2).read()
EOF
}

_suanli_ray_wants_token() {
  "$(dirname "$(_suanli_ray_bin)")/python" - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/api/version", timeout=2).read()
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 401 else 1)
sys.exit(1)
EOF
}

start_ray() {
  local ray url log i
  ray="$(_suanli_ray_bin)"
  url="http://$SUANLI_RAY_HOST:$SUANLI_RAY_PORT"
  if [ ! -x "$ray" ]; then
    echo "ray: no $ray; running make install" >&2
    make install >&2 || true
  fi
  if [ ! -x "$ray" ]; then
    echo "ray: $ray is missing after make install; the ray backend tests will fail under CI=true" >&2
    return 0
  fi
  if ! _suanli_ray_answers "$url" && _suanli_ray_wants_token "$url"; then
    echo "ray: the head at $url asks for a token; stopping it to start one without" >&2
    "$ray" stop --force >/dev/null 2>&1 || true
  fi
  if ! _suanli_ray_answers "$url"; then
    log="$(mktemp /tmp/suanli-ray-start.XXXXXX)"
    if ! (cd "${TMPDIR:-/tmp}" && env -i HOME="$HOME" PATH="$PATH" LANG=C.UTF-8 ${TMPDIR:+TMPDIR="$TMPDIR"} \
        RAY_AUTH_MODE=disabled \
        "$ray" start --head --num-gpus 4 --num-cpus 4 --object-store-memory 200000000 \
        --dashboard-host "$SUANLI_RAY_HOST" --dashboard-port "$SUANLI_RAY_PORT" \
        --disable-usage-stats >"$log" 2>&1); then
      echo "ray: ray start failed (below); the ray backend tests will fail under CI=true" >&2
      cat "$log" >&2
      rm -f "$log"
      return 0
    fi
    rm -f "$log"
    for i in $(seq 1 60); do
      _suanli_ray_answers "$url" && break
      sleep 1
    done
  fi
  if ! _suanli_ray_answers "$url"; then
    echo "ray: the dashboard at $url does not answer; the ray backend tests will fail under CI=true" >&2
    return 0
  fi
  export SUANLI_RAY_ADDRESS="$url" RAY_AUTH_MODE=disabled
  echo "ray: head on $url ($("$ray" --version 2>/dev/null))"
}

stop_ray() {
  local ray
  ray="$(_suanli_ray_bin)"
  [ -x "$ray" ] && "$ray" stop --force >/dev/null 2>&1
  unset SUANLI_RAY_ADDRESS
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  cd "$(dirname "$0")/.." || exit 1
  case "${1:-}" in
    start) start_ray; [ -n "${SUANLI_RAY_ADDRESS:-}" ] && echo "export SUANLI_RAY_ADDRESS=$SUANLI_RAY_ADDRESS" ;;
    stop) stop_ray ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
  esac
fi
