#!/usr/bin/env bash
# Contract test: schemathesis (PyPI) drives Magpie's HTTP file API from
# docs/openapi.yaml and checks every answer against the document.
#
#   MAGPIE_BIN=target/debug/magpie bash interop/openapi/run.sh
#
# Starts a server on a fresh temporary data dir and free loopback ports,
# registers a user, seeds a few files and uploads, a drive and its share
# links (prepare.py) whose ids, codes and keys go into a per-run copy of the
# schema as examples, runs `schemathesis run` with a bounded number of
# examples per operation, stops the server and removes everything it made
# except .venv (kept here, git-ignored, so a second run is quick). Exits
# non-zero on any failure.
#
# MAGPIE_OPENAPI_SEED      replay a run (its seed is printed at the end)
# MAGPIE_OPENAPI_EXAMPLES  test cases per operation and phase (default 100)
# MAGPIE_OPENAPI_ARGS      more options for `schemathesis run`, e.g. "--report junit"
# MAGPIE_OPENAPI_SHOW_DROPPED=1  list the failures hooks.py drops as the known bug
set -euo pipefail

fail() { echo "interop/openapi: FAIL: $*" >&2; exit 1; }

# MAGPIE_BIN may be relative to the caller's cwd: resolve it before cd.
[[ -n "${MAGPIE_BIN:-}" ]] || fail "set MAGPIE_BIN to the magpie binary (e.g. MAGPIE_BIN=target/debug/magpie)"
[[ -x "$MAGPIE_BIN" ]] || fail "MAGPIE_BIN=$MAGPIE_BIN is not an executable file"
MAGPIE_BIN=$(cd "$(dirname "$MAGPIE_BIN")" && pwd)/$(basename "$MAGPIE_BIN")

cd "$(dirname "${BASH_SOURCE[0]}")"
HERE=$PWD
SPEC=$(cd ../../docs && pwd)/openapi.yaml
[[ -f "$SPEC" ]] || fail "no $SPEC"

# A developer without Python gets a skip; CI must not pass silently.
missing=()
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ((${#missing[@]})); then
  if [[ "${CI:-}" == true ]]; then
    fail "missing tools: ${missing[*]} (required when CI=true)"
  fi
  echo "interop/openapi: SKIPPED: missing tools: ${missing[*]}" >&2
  exit 0
fi

started=$SECONDS
echo "interop/openapi: installing schemathesis"
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv || fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt ||
  fail "pip install -r requirements.txt failed"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/magpie-openapi.XXXXXX")
DATA=$WORK/data LOG=$WORK/server.log
mkdir -p "$DATA"
SERVER_PID=

cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if ((rc != 0)) && [[ -f "$LOG" ]]; then
    echo "--- last lines of the server log ---" >&2
    tail -n 40 "$LOG" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

# Two free loopback ports (bound then released; a race is unlikely here).
read -r TCP_PORT HTTP_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
BASE_URL="http://127.0.0.1:$HTTP_PORT"

# No per-address limit on share-link codes: schemathesis tries a great many
# from one address. Each link still takes 10 wrong codes per 10 minutes
# (then 429), which prepare.py plans for.
"$MAGPIE_BIN" serve --data-dir "$DATA" \
  --listen-tcp "127.0.0.1:$TCP_PORT" --listen-http "127.0.0.1:$HTTP_PORT" \
  --share-code-rate-per-ip off >>"$LOG" 2>&1 &
SERVER_PID=$!
up=
for _ in $(seq 1 150); do
  if python3 -c 'import sys, urllib.request
sys.exit(urllib.request.urlopen(sys.argv[1], timeout=1).status != 200)' "$BASE_URL/healthz" 2>/dev/null; then
    up=1
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited at start"
  sleep 0.1
done
[[ -n "$up" ]] || fail "server did not answer /healthz within 15 s"

# A user and a session token, through the CLI client over raw TCP.
export MAGPIE_SERVER="tcp://127.0.0.1:$TCP_PORT" MAGPIE_PASSWORD="interop-openapi-long-password"
"$MAGPIE_BIN" client --user carol register >/dev/null || fail "register carol"
TOKEN=$("$MAGPIE_BIN" client --user carol login |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])') || fail "login carol"
[[ -n "$TOKEN" ]] || fail "no session token"

.venv/bin/python prepare.py "$BASE_URL" "$TOKEN" "$SPEC" "$WORK/openapi.yaml" "$MAGPIE_SERVER" ||
  fail "seeding the server"

# The checks (see README.md); everything else is in schemathesis.toml.
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance
CHECKS+=,response_headers_conformance,response_schema_conformance
CHECKS+=,negative_data_rejection,missing_required_header,ignored_auth,unsupported_method
# Extra schemathesis options, e.g. MAGPIE_OPENAPI_ARGS="--report junit".
read -ra extra_args <<<"${MAGPIE_OPENAPI_ARGS:-}"
status=0
echo "interop/openapi: schemathesis $(.venv/bin/schemathesis --version | awk '{print $NF}') against $BASE_URL"
SCHEMATHESIS_HOOKS=$HERE/hooks.py timeout 300 .venv/bin/schemathesis \
  --config-file "$HERE/schemathesis.toml" run "$WORK/openapi.yaml" \
  --url "$BASE_URL" \
  --header "Authorization: Bearer $TOKEN" \
  --checks "$CHECKS" \
  --max-examples "${MAGPIE_OPENAPI_EXAMPLES:-100}" \
  --seed "${MAGPIE_OPENAPI_SEED:-$RANDOM}" \
  --no-color "${extra_args[@]}" || status=$?

if [[ -n "$SERVER_PID" ]] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
  fail "the server died during the run"
fi
((status == 0)) || fail "schemathesis reported failures (exit $status); see above"
echo "interop/openapi: all passed in $((SECONDS - started)) s"
