#!/usr/bin/env bash
# The standard benchmark run, on one machine, in under 10 minutes:
# builds the release binary, starts a server on the chosen storage, runs the
# standard scenarios with `magpie bench`, the same direct workload against
# Mosquitto (the peer baseline), and writes one JSON file per scenario plus
# a Markdown table (results.md) to the output directory.
#
#   scripts/bench.sh [OUT_DIR]            # SQLite (the default)
#   DATABASE_URL=postgres://... scripts/bench.sh
#
# Needs: mosquitto running on 127.0.0.1:1883 for the peer rows (skipped with
# a note if absent); python3 for the table.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-results}
mkdir -p "$out"
cargo build --release --locked --bin magpie >/dev/null
bin=target/release/magpie
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

start_server() { # start_server [EXTRA SERVE FLAGS...]
  # The load generator is one machine playing thousands of users: lift the
  # per-address, per-user and per-account limits meant for real clients.
  local extra=(--max-connections 0 --max-connections-per-ip 0 --max-sessions-per-user 0
    --auth-rate-per-ip off --login-rate-per-account off --send-rate-per-user off "$@")
  [ -n "${DATABASE_URL:-}" ] && extra+=(--database-url "$DATABASE_URL")
  "$bin" serve --data-dir "$work/data" --listen-tcp 127.0.0.1:17070 --listen-http 127.0.0.1:17071 \
    --log warn "${extra[@]}" >"$work/server.out" 2>"$work/server.err" &
  server=$!
  for _ in $(seq 100); do grep -q 'magpie serving' "$work/server.out" 2>/dev/null && return; sleep 0.1; done
  cat "$work/server.err"; echo "server did not start" >&2; exit 1
}

bench() { # bench NAME ARGS...: one scenario against the running server
  local name=$1; shift
  echo "== $name" >&2
  "$bin" bench --server tcp://127.0.0.1:17070 --server-pid "$server" --json --quiet "$@" >"$out/$name.json" \
    || echo "   $name reported an error (see $out/$name.json)" >&2
}

start_server
# Connections: as many as this machine's open-file limit allows both processes.
limit=$(ulimit -Hn)
conns=$(( limit > 100000 ? 100000 : limit - 1000 ))
bench connect connect --connections "$conns" --rate 4000 --users 100 --hold 10
for rate in 2000 5000 10000 20000 30000; do
  bench "direct-$rate" direct --pairs 100 --rate "$rate" --duration 10 --size 100
done
"$bin" bench --server ws://127.0.0.1:17071/ws --server-pid "$server" --json --quiet \
  direct --pairs 100 --rate 5000 --duration 10 >"$out/direct-ws-5000.json" || true
bench fanout-1000 fanout --devices 1000 --rate 10 --duration 10 --size 100
bench sync sync --users 1 --conversations 100 --messages 10000

# The like-for-like peer comparison: Mosquitto keeps nothing on disk, so
# these rows run Magpie with commits that survive a crash of the process
# but not a power cut (SQLite synchronous=NORMAL).
if [ -z "${DATABASE_URL:-}" ]; then
  kill "$server"; wait "$server" 2>/dev/null || true
  rm -rf "$work/data"
  start_server --sqlite-sync normal
  for rate in 20000 30000; do
    bench "nondurable-direct-$rate" direct --pairs 100 --rate "$rate" --duration 10 --size 100
  done
fi

mosquitto=$(pgrep -x mosquitto | head -n1 || true)
if [ -n "$mosquitto" ]; then
  for rate in 2000 5000 10000 20000 30000; do
    echo "== mosquitto-$rate" >&2
    "$bin" bench --server-pid "$mosquitto" --json --quiet \
      direct --peer mqtt://127.0.0.1:1883 --pairs 100 --rate "$rate" --duration 10 --size 100 \
      >"$out/mosquitto-$rate.json" || true
  done
else
  echo "mosquitto is not running: no peer baseline" >&2
fi

python3 - "$out" <<'PY' >"$out/results.md"
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print("| run | target | achieved/s | ok | errors | lost | dup | p50 ms | p99 ms | p99.9 ms | max ms | server CPU µs/unit | bytes/conn |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for f in sorted(out.glob("*.json")):
    try:
        r = json.loads(f.read_text())
    except Exception:
        continue
    s, l = r.get("server") or {}, r["latency"]
    fmt = lambda v, p=1: "" if v is None else f"{v:.{p}f}"
    print(f"| {f.stem} | {fmt(r.get('target_rate'),0)} | {fmt(r.get('achieved_rate'),0)} | {r['succeeded']}/{r['attempted']} "
          f"| {r['errors']} | {r['lost']} | {r['duplicates']} | {l['p50_ms']:.2f} | {l['p99_ms']:.2f} | {l['p999_ms']:.2f} "
          f"| {l['max_ms']:.2f} | {fmt(s.get('cpu_us_per_unit'))} | {fmt(s.get('bytes_per_connection'),0)} |")
PY
cat "$out/results.md"
