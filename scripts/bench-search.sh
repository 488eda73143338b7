#!/usr/bin/env bash
# Search (issue #13) figures, on one machine (docs/BENCHMARKS.md, "Search"):
# 1. the durable direct benchmark with the search indexer on and off, A/B,
#    interleaved, each run on a fresh server;
# 2. indexing throughput: a server without the indexer stores the messages
#    of a 20,000/s run, then a server with it indexes them;
# 3. query latency on that index (the server's own histogram,
#    magpie_search_seconds), for a common term, a rare one, and the worst
#    case of the work bound (a common term with one that is nowhere).
#
#   scripts/bench-search.sh [OUT_DIR]     # BIN=... to use another binary
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-search}
bin=${BIN:-target/release/magpie}
rates=${RATES:-10000 30000}
rounds=${ROUNDS:-2}
mkdir -p "$out"
work=$(mktemp -d)
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

start_server() { # start_server [EXTRA SERVE FLAGS...]
  rm -f "$work/server.out" "$work/server.err"
  "$bin" serve --data-dir "$work/data" --listen-tcp 127.0.0.1:17070 --listen-http 127.0.0.1:17071 \
    --log "${LOG:-warn}" --max-connections 0 --max-connections-per-ip 0 --max-sessions-per-user 0 \
    --auth-rate-per-ip off --login-rate-per-account off --send-rate-per-user off \
    --search-rate-per-user off "$@" >"$work/server.out" 2>"$work/server.err" &
  server=$!
  for _ in $(seq 100); do grep -q 'magpie serving' "$work/server.out" 2>/dev/null && return; sleep 0.1; done
  cat "$work/server.err"; echo "server did not start" >&2; exit 1
}

stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; }

bench() { # bench NAME ARGS...
  local name=$1; shift
  echo "== $name" >&2
  "$bin" bench --server tcp://127.0.0.1:17070 --server-pid "$server" --json --quiet "$@" >"$out/$name.json" \
    || echo "   $name reported an error (see $out/$name.json)" >&2
}

metric() { # metric NAME: its value (a histogram's _sum and _count as "sum count")
  python3 - "$1" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:17071/metrics").read().decode()
name = sys.argv[1]
vals = {}
for line in text.splitlines():
    if line.startswith(name):
        k, v = line.rsplit(" ", 1)
        vals[k] = float(v)
if name + "_sum" in vals:
    print(vals[name + "_sum"], vals[name + "_count"])
else:
    print(vals.get(name + "_total", vals.get(name, 0)))
PY
}

# 1. A/B: the send path with and without the indexer.
for round in $(seq "$rounds"); do
  for mode in off on; do
    rm -rf "$work/data"
    start_server --search-indexer "$mode"
    for rate in $rates; do
      bench "direct-$rate-indexer-$mode-$round" direct --pairs 100 --rate "$rate" --duration 10 --size 100
    done
    echo "   indexed entries: $(metric magpie_search_indexed_entries)" >&2
    stop_server
  done
done

# 2. Indexing throughput.
rm -rf "$work/data"
start_server --search-indexer off
bench "direct-20000-backlog" direct --pairs 100 --rate 20000 --duration 10 --size 100
stop_server
LOG="magpie_server::search=info,warn" start_server --search-indexer on
for _ in $(seq 600); do
  grep -q 'search index caught up' "$work/server.out" "$work/server.err" 2>/dev/null && break
  sleep 0.5
done
grep -h 'search index caught up' "$work/server.out" "$work/server.err" | tee "$out/indexing.txt" >&2
read -r step_sum step_count < <(metric magpie_search_index_step_seconds)
entries=$(metric magpie_search_indexed_entries)
python3 -c "print(f'indexer steps: {int($step_count)}, entries {int($entries)}, busy {$step_sum:.2f} s, {$entries/$step_sum:.0f} entries/s while stepping')" | tee -a "$out/indexing.txt" >&2
ls -l "$work/data" | tee -a "$out/indexing.txt" >&2

# 3. Query latency, as one of the benchmark's users (one conversation of
# about 2,000 messages among 200,000).
who=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT username FROM users ORDER BY id LIMIT 1').fetchone()[0])" "$work/data/magpie.db")
for q in "xxxx" "42" "xxxxxxxxxxxx zz"; do
  read -r s0 c0 < <(metric magpie_search_seconds)
  for _ in $(seq 20); do
    MAGPIE_PASSWORD=magpie-bench-password "$bin" client --server tcp://127.0.0.1:17070 --user "$who" \
      --json message-search "$q" >"$out/query.json" || true
  done
  read -r s1 c1 < <(metric magpie_search_seconds)
  python3 -c "import json; d=json.load(open('$out/query.json')); print(f'query {\"$q\"!r}: {($s1-$s0)/max($c1-$c0,1)*1000:.2f} ms mean over {int($c1-$c0)}, {len(d[\"hits\"])} hits, next={d.get(\"next\")}')" | tee -a "$out/queries.txt" >&2
done
stop_server

python3 - "$out" <<'PY' | tee "$out/results.md"
import json, glob, os, sys
out = sys.argv[1]
print("| run | achieved/s | p50 ms | p99 ms | p99.9 ms | CPU µs/msg | lost/dup |")
print("|---|---|---|---|---|---|---|")
for path in sorted(glob.glob(os.path.join(out, "direct-*.json"))):
    try:
        r = json.load(open(path))
    except Exception:
        continue
    lat = r.get("latency", {})
    cpu = (r.get("server") or {}).get("cpu_us_per_unit")
    rate = r.get("achieved_rate") or 0
    cpu = f"{cpu:.1f}" if cpu else "?"
    print(f"| {os.path.basename(path)[:-5]} | {rate:.0f} | {lat.get('p50_ms', 0):.2f} | {lat.get('p99_ms', 0):.1f} | {lat.get('p999_ms', 0):.1f} | {cpu} | {r.get('lost', '?')}/{r.get('duplicates', '?')} |")
PY
