#!/usr/bin/env bash
# Interoperability tests: real third-party tus clients (tuspy from PyPI,
# tus-js-client from npm) upload to Magpie's tus 1.0 server.
#
#   MAGPIE_BIN=target/debug/magpie bash interop/tus/run.sh
#
# Starts a server on a fresh temporary data dir and free loopback ports,
# makes two users (alice, bob), runs test_tuspy.py and test_tus_js.mjs,
# stops the server and removes everything it made except .venv and
# node_modules (kept here, git-ignored, so a second run is quick).
#
# `run.sh start-server` is used by the tests themselves to bring the server
# back after they SIGKILL it: same binary, data dir and ports (from the
# MAGPIE_TUS_* variables exported below).
set -euo pipefail

fail() { echo "interop/tus: FAIL: $*" >&2; exit 1; }

# Start the server in the background and wait until /healthz answers.
# The server is started from a child bash (the tests call this script), so
# once SIGKILLed it is reaped by init, not left as our zombie.
start_server() {
  "$MAGPIE_BIN" serve --data-dir "$MAGPIE_TUS_DATA" \
    --listen-tcp "127.0.0.1:$MAGPIE_TUS_TCP_PORT" \
    --listen-http "127.0.0.1:$MAGPIE_TUS_HTTP_PORT" \
    >>"$MAGPIE_TUS_LOG" 2>&1 &
  echo $! >"$MAGPIE_TUS_PIDFILE"
  local pid=$!
  for _ in $(seq 1 150); do
    if python3 -c 'import sys, urllib.request
sys.exit(urllib.request.urlopen(sys.argv[1], timeout=1).status != 200)' \
      "http://127.0.0.1:$MAGPIE_TUS_HTTP_PORT/healthz" 2>/dev/null; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$MAGPIE_TUS_LOG" >&2; fail "server exited at start"; }
    sleep 0.1
  done
  tail -n 30 "$MAGPIE_TUS_LOG" >&2
  fail "server did not answer /healthz within 15 s"
}

if [[ "${1:-}" == start-server ]]; then
  start_server
  exit 0
fi

# MAGPIE_BIN may be relative to the caller's cwd: resolve it before cd.
[[ -n "${MAGPIE_BIN:-}" ]] || fail "set MAGPIE_BIN to the magpie binary (e.g. MAGPIE_BIN=target/debug/magpie)"
[[ -x "$MAGPIE_BIN" ]] || fail "MAGPIE_BIN=$MAGPIE_BIN is not an executable file"
MAGPIE_BIN=$(cd "$(dirname "$MAGPIE_BIN")" && pwd)/$(basename "$MAGPIE_BIN")
export MAGPIE_BIN

cd "$(dirname "${BASH_SOURCE[0]}")"
HERE=$PWD

# A developer without Python or Node gets a skip; CI must not pass silently.
missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v python3 >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1 && missing+=(pip)
command -v node >/dev/null 2>&1 || missing+=(node)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  if [[ "${CI:-}" == true ]]; then
    fail "missing tools: ${missing[*]} (required when CI=true)"
  fi
  echo "interop/tus: SKIPPED: missing tools: ${missing[*]}" >&2
  exit 0
fi

started=$SECONDS
echo "interop/tus: installing tuspy and tus-js-client"
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
.venv/bin/python -m pip install --quiet -r requirements.txt || fail "pip install -r requirements.txt failed"
npm ci --silent --no-audit --no-fund >/dev/null || fail "npm ci failed"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/magpie-tus.XXXXXX")
export MAGPIE_TUS_DATA=$WORK/data MAGPIE_TUS_LOG=$WORK/server.log MAGPIE_TUS_PIDFILE=$WORK/server.pid
mkdir -p "$MAGPIE_TUS_DATA"

cleanup() {
  local rc=$?
  if [[ -s "$MAGPIE_TUS_PIDFILE" ]]; then
    local pid
    pid=$(cat "$MAGPIE_TUS_PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  if ((rc != 0)) && [[ -f "$MAGPIE_TUS_LOG" ]]; then
    echo "--- last lines of the server log ---" >&2
    tail -n 40 "$MAGPIE_TUS_LOG" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

# Two free loopback ports (bound then released; a race is unlikely here).
read -r MAGPIE_TUS_TCP_PORT MAGPIE_TUS_HTTP_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
export MAGPIE_TUS_TCP_PORT MAGPIE_TUS_HTTP_PORT
# The tests restart a SIGKILLed server with this (same dir, same ports).
export MAGPIE_TUS_RESTART="bash $HERE/run.sh start-server"
export MAGPIE_TUS_URL="http://127.0.0.1:$MAGPIE_TUS_HTTP_PORT"

bash "$HERE/run.sh" start-server

# Users and their session tokens, through the CLI client over raw TCP.
token_of() {
  local user=$1
  export MAGPIE_SERVER="tcp://127.0.0.1:$MAGPIE_TUS_TCP_PORT" MAGPIE_PASSWORD="interop-$user-long-password"
  "$MAGPIE_BIN" client --user "$user" register >/dev/null || fail "register $user"
  "$MAGPIE_BIN" client --user "$user" login |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])' || fail "login $user"
}
ALICE_TOKEN=$(token_of alice)
BOB_TOKEN=$(token_of bob)
[[ -n "$ALICE_TOKEN" && -n "$BOB_TOKEN" ]] || fail "no session token"
export ALICE_TOKEN BOB_TOKEN

status=0
echo "interop/tus: tuspy"
timeout 300 .venv/bin/python test_tuspy.py || { echo "interop/tus: tuspy tests FAILED" >&2; status=1; }
echo "interop/tus: tus-js-client"
timeout 300 node --test --test-reporter=spec test_tus_js.mjs || { echo "interop/tus: tus-js-client tests FAILED" >&2; status=1; }

((status == 0)) || fail "see the failures above"
echo "interop/tus: all passed in $((SECONDS - started)) s"
