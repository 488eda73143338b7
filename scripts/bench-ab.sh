#!/usr/bin/env bash
# A/B comparison of two release builds on one machine, scenario by
# scenario, each against a fresh server: the way to tell whether a change
# made the server faster or slower on a noisy 2-core machine (compare the
# two columns of one run, never numbers across days).
#
#   BASE=/path/to/old/magpie NEW=target/release/magpie scripts/bench-ab.sh [OUT_DIR]
#
# Build the old one from a worktree: git worktree add /tmp/base <commit> &&
# (cd /tmp/base && cargo build --release --locked --bin magpie). A binary
# from before the throttling settings existed gets no limit flags (BASE_FLAGS).
set -u
out=${1:-bench-ab}; mkdir -p $out
declare -A BIN=( [base]=${BASE:?set BASE to the old magpie binary} [new]=${NEW:-target/release/magpie} )
declare -A EXTRA=( [base]="${BASE_FLAGS:-}" [new]="--max-connections 0 --max-connections-per-ip 0 --max-sessions-per-user 0 --auth-rate-per-ip off --login-rate-per-account off --send-rate-per-user off" )
run() { # run which name bench-args...
  local which=$1 name=$2; shift 2
  local bin=${BIN[$which]} work; work=$(mktemp -d)
  $bin serve --data-dir $work/data --listen-tcp 127.0.0.1:17070 --listen-http 127.0.0.1:17071 --log warn ${EXTRA[$which]} >$work/out 2>$work/err &
  local pid=$!
  for _ in $(seq 100); do grep -q 'magpie serving' $work/out 2>/dev/null && break; sleep 0.1; done
  $bin bench --server-pid $pid --json --quiet "$@" > $out/$which-$name.json 2>$out/$which-$name.err || echo "$which $name failed" >&2
  kill $pid; wait $pid 2>/dev/null; rm -rf $work
}
for rep in 1 2; do
  for which in base new; do
    run $which direct-10000-$rep --server tcp://127.0.0.1:17070 direct --pairs 100 --rate 10000 --duration 10 --size 100
  done
done
for which in base new; do
  run $which direct-5000 --server tcp://127.0.0.1:17070 direct --pairs 100 --rate 5000 --duration 10 --size 100
  run $which direct-20000 --server tcp://127.0.0.1:17070 direct --pairs 100 --rate 20000 --duration 10 --size 100
  run $which direct-30000 --server tcp://127.0.0.1:17070 direct --pairs 100 --rate 30000 --duration 10 --size 100
  run $which ws-5000 --server ws://127.0.0.1:17071/ws direct --pairs 100 --rate 5000 --duration 10 --size 100
  run $which fanout-1000 --server tcp://127.0.0.1:17070 fanout --devices 1000 --rate 10 --duration 10 --size 100
  run $which sync --server tcp://127.0.0.1:17070 sync --users 1 --conversations 100 --messages 10000
done
python3 - "$out" <<'PY'
import json, pathlib
import sys
out = pathlib.Path(sys.argv[1])
print("| run | achieved/s | lost/dup | p50 ms | p99 ms | p99.9 ms | max ms | server CPU µs/unit |")
print("|---|---|---|---|---|---|---|---|")
for f in sorted(out.glob("*.json")):
    try: r = json.loads(f.read_text())
    except Exception: continue
    s, l = r.get("server") or {}, r["latency"]
    fmt = lambda v, p=1: "" if v is None else f"{v:.{p}f}"
    print(f"| {f.stem} | {fmt(r.get('achieved_rate'),0)} | {r['lost']}/{r['duplicates']} | {l['p50_ms']:.2f} | {l['p99_ms']:.2f} | {l['p999_ms']:.2f} | {l['max_ms']:.2f} | {fmt(s.get('cpu_us_per_unit'))} |")
PY
