#!/usr/bin/env bash
# Start a local S3-compatible server (moto in server mode, from PyPI) for
# the S3 tests of the file area, and print its URL. `.ci/run` sources the
# URL into MAGPIE_TEST_S3; the server runs until the CI job ends (or
# `kill $(cat "$dir/moto.pid")`).
#
# usage: bash interop/s3/start.sh  → prints http://127.0.0.1:PORT
set -euo pipefail
cd "$(dirname "$0")"
command -v python3 >/dev/null || { echo "python3 is needed for the S3 test server" >&2; exit 1; }
if [ ! -x .venv/bin/moto_server ]; then
  python3 -m venv .venv >&2
  .venv/bin/pip install -q -r requirements.txt >&2
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
nohup .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
echo $! > moto.pid
for _ in $(seq 100); do
  if python3 - "$port" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=1)
PY
  sleep 0.1
done
echo "http://127.0.0.1:$port"
