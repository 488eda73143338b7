#!/usr/bin/env bash
# Files benchmark (issue #11): one large file through Magpie's HTTP file
# API, beside this machine's own ceilings.
#
#   scripts/bench_files.sh [SIZE_MIB]        # default 1536 (1.5 GiB)
#
# Environment:
#   MAGPIE_BIN  the magpie binary (default target/release/magpie; this
#               script does not build it)
#   BENCH_TMP   where the temporary data goes (default $TMPDIR or /tmp);
#               it needs about 3 x SIZE_MIB free
#   REPS        repetitions of each measure (default 3; the table shows
#               the median time and the highest peak RSS)
#   BENCH_OUT   if set, the raw per-run rows (TSV) are copied there
#
# What it measures, on SIZE_MIB of random bytes:
#   disk ceilings  dd: direct write + fsync, and direct read; the server's
#                  write pattern (1 MiB buffered writes, fdatasync every
#                  8 MiB), with the time of its fdatasyncs alone
#   hash ceiling   sha256sum and openssl dgst -sha256 of the file, from the
#                  page cache (openssl uses the CPU's SHA instructions, as
#                  Magpie's sha2 crate does where the CPU has them)
#   upload         `magpie client upload --no-instant` (tus, 8 MiB PATCHes,
#                  each with a sha256 Upload-Checksum and synced)
#   download       `magpie client download` (GET, synced, then re-hashed)
#   instant        a second user uploads the same file: hash + proof only
# Every transfer starts cold: the file it reads (the client's source for
# upload and instant, the server's blob for download) is dropped from the
# page cache first (posix_fadvise DONTNEED through `dd iflag=nocache`,
# which needs no privilege). Client peak RSS is GNU time's "Maximum
# resident set size"; server peak RSS is VmHWM, reset before each run
# through /proc/PID/clear_refs. Server CPU is utime+stime over the run.
# The server and the client share the machine's cores.
#
# Needs: GNU time at /usr/bin/time (Debian: apt-get install time), dd,
# sha256sum, curl, python3.
set -euo pipefail

fail() { echo "bench_files: FAIL: $*" >&2; exit 1; }

SIZE_MIB=${1:-1536}
[[ "$SIZE_MIB" =~ ^[0-9]+$ ]] && ((SIZE_MIB >= 8)) || fail "SIZE_MIB must be a whole number of MiB, at least 8"
SIZE_MIB=$(( (SIZE_MIB + 7) / 8 * 8 ))   # whole 8 MiB blocks, for dd
SIZE=$((SIZE_MIB * 1024 * 1024))
REPS=${REPS:-3}

# Paths given by the caller are relative to the caller's directory; the
# default binary is relative to the repository.
absolute() { [[ "$1" == /* ]] && echo "$1" || echo "$PWD/$1"; }
[[ -n "${MAGPIE_BIN:-}" ]] && MAGPIE_BIN=$(absolute "$MAGPIE_BIN")
[[ -n "${BENCH_TMP:-}" ]] && BENCH_TMP=$(absolute "$BENCH_TMP")
[[ -n "${BENCH_OUT:-}" ]] && BENCH_OUT=$(absolute "$BENCH_OUT")
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MAGPIE_BIN=${MAGPIE_BIN:-$PWD/target/release/magpie}
[[ -x "$MAGPIE_BIN" ]] || fail "MAGPIE_BIN=$MAGPIE_BIN is not an executable (build it: cargo build --release -p magpie)"
[[ -x /usr/bin/time ]] && /usr/bin/time -v true 2>/dev/null || fail "GNU time is missing (apt-get install time)"
for tool in dd sha256sum curl python3; do
  command -v $tool >/dev/null || fail "$tool is missing"
done

BENCH_TMP=${BENCH_TMP:-${TMPDIR:-/tmp}}
mkdir -p "$BENCH_TMP"
free_kb=$(df -Pk "$BENCH_TMP" | awk 'NR==2 {print $4}')
need_kb=$((SIZE / 1024 * 3 + 512 * 1024))
((free_kb > need_kb)) || fail "$BENCH_TMP has $((free_kb / 1024)) MiB free, needs $((need_kb / 1024)) MiB"

WORK=$(mktemp -d "$BENCH_TMP/magpie-bench-files.XXXXXX")
SERVER_PID=
cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if ((rc != 0)) && [[ -f "$WORK/server.log" ]]; then
    echo "--- last lines of the server log ---" >&2
    tail -n 30 "$WORK/server.log" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SRC=$WORK/source.bin
ROWS=$WORK/rows.tsv
printf 'phase\trep\tseconds\tbytes\tclient_rss_kb\tclient_cpu_s\tserver_hwm_kb\tserver_cpu_s\n' >"$ROWS"
TICK=$(getconf CLK_TCK)

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.3f}")' "$1" "$2"; }
# Drop a file's pages from the page cache (clean pages only: write and
# sync it first).
uncache() { local f; for f in "$@"; do dd if="$f" iflag=nocache count=0 status=none; done; }
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"; }

echo "bench_files: $SIZE_MIB MiB, $REPS runs each, in $WORK" >&2
echo "bench_files: making $SIZE_MIB MiB of random bytes" >&2
head -c "$SIZE" /dev/urandom >"$SRC"
sync "$SRC"

# 1. Ceilings: the disk, and SHA-256 on one core.
DD=$WORK/dd.bin
for rep in $(seq 1 "$REPS"); do
  echo "bench_files: disk ceilings, run $rep" >&2
  cat "$SRC" >/dev/null   # the source comes from memory: only the writes are timed
  t0=$(now); dd if="$SRC" of="$DD" bs=8M oflag=direct conv=fsync status=none; t1=$(now)
  row disk_write_direct_fsync "$rep" "$(elapsed "$t0" "$t1")" "$SIZE" - - - -
  rm -f "$DD"
  # The server's pattern: 1 MiB buffered writes, fdatasync per 8 MiB.
  read -r total syncs < <(python3 - "$SRC" "$DD" <<'PY'
import os, sys, time
src, dst = sys.argv[1:]
i, o = os.open(src, os.O_RDONLY), os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
syncs, n, t0 = 0.0, 0, time.monotonic()
while block := os.read(i, 1 << 20):
    os.write(o, block)
    n += len(block)
    if n % (8 << 20) == 0:
        a = time.monotonic(); os.fdatasync(o); syncs += time.monotonic() - a
a = time.monotonic(); os.fsync(o); syncs += time.monotonic() - a
print(f"{time.monotonic() - t0:.3f} {syncs:.3f}")
PY
)
  row disk_write_sync_per_8MiB "$rep" "$total" "$SIZE" - - - -
  row disk_fdatasyncs_alone "$rep" "$syncs" "$SIZE" - - - -
  uncache "$DD"
  t0=$(now); dd if="$DD" of=/dev/null bs=8M iflag=direct status=none; t1=$(now)
  row disk_read_direct "$rep" "$(elapsed "$t0" "$t1")" "$SIZE" - - - -
  rm -f "$DD"
  t0=$(now); sha256sum "$SRC" >/dev/null; t1=$(now)
  row sha256sum_cached "$rep" "$(elapsed "$t0" "$t1")" "$SIZE" - - - -
  if command -v openssl >/dev/null; then
    t0=$(now); openssl dgst -sha256 "$SRC" >/dev/null; t1=$(now)
    row openssl_sha256_cached "$rep" "$(elapsed "$t0" "$t1")" "$SIZE" - - - -
  fi
done

# 2. A server on a fresh data dir, on two free loopback ports.
read -r TCP_PORT HTTP_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
HTTP=http://127.0.0.1:$HTTP_PORT
mkdir -p "$WORK/data" "$WORK/state"
"$MAGPIE_BIN" serve --data-dir "$WORK/data" \
  --listen-tcp "127.0.0.1:$TCP_PORT" --listen-http "127.0.0.1:$HTTP_PORT" --log warn \
  --auth-rate-per-ip off --login-rate-per-account off --search-rate-per-user off \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 150); do
  curl -fsS -o /dev/null "$HTTP/healthz" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || fail "the server exited at start"
  sleep 0.1
done
curl -fsS -o /dev/null "$HTTP/healthz" || fail "the server did not answer /healthz within 15 s"

export MAGPIE_SERVER=tcp://127.0.0.1:$TCP_PORT MAGPIE_STATE_DIR=$WORK/state
token_of() {
  local user=$1
  MAGPIE_PASSWORD="bench-$user-long-password" "$MAGPIE_BIN" client --user "$user" register >/dev/null
  MAGPIE_PASSWORD="bench-$user-long-password" "$MAGPIE_BIN" client --user "$user" login |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
ALICE=$(token_of alice) || fail "register/login alice"
BOB=$(token_of bob) || fail "register/login bob"

server_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$SERVER_PID/status"; }
server_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }
SERVER_BASE_RSS=$(server_kb VmRSS)
SERVER_BASE_HWM=$(server_kb VmHWM)

# run PHASE REP TOKEN OUT_JSON ARGS...: one client command, timed, with
# the server's peak RSS reset before it and read after it.
run() {
  local phase=$1 rep=$2 token=$3 out=$4; shift 4
  echo 5 >"/proc/$SERVER_PID/clear_refs"
  local ticks0 ticks1 t0 t1
  ticks0=$(server_ticks)
  t0=$(now)
  MAGPIE_TOKEN=$token /usr/bin/time -v -o "$WORK/time.txt" \
    "$MAGPIE_BIN" client --json "$@" >"$out" 2>"$WORK/client.err" ||
    { cat "$WORK/client.err" >&2; fail "$phase run $rep: magpie client $*"; }
  t1=$(now)
  ticks1=$(server_ticks)
  local rss cpu
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u + s}' "$WORK/time.txt")
  row "$phase" "$rep" "$(elapsed "$t0" "$t1")" "$SIZE" "$rss" "$cpu" "$(server_kb VmHWM)" \
    "$(python3 -c "print(f'{($ticks1 - $ticks0) / $TICK:.2f}')")"
}
json_field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
rm_file() { MAGPIE_TOKEN=$1 "$MAGPIE_BIN" client file rm "$2" >/dev/null || fail "file rm $2"; }
blobs() { [[ ! -d "$WORK/data/files/blobs" ]] || find "$WORK/data/files/blobs" -type f; }

# 3. Upload, bytes sent. Each run stores new content: the previous run's
# file is deleted (its blob with it) before the next.
FILE_ID=
for rep in $(seq 1 "$REPS"); do
  echo "bench_files: upload, run $rep" >&2
  [[ -n "$FILE_ID" ]] && rm_file "$ALICE" "$FILE_ID"
  [[ -z "$(blobs)" ]] || fail "a deleted file's blob is still stored"
  uncache "$SRC"
  run upload "$rep" "$ALICE" "$WORK/up.json" upload "$SRC" --no-instant --http "$HTTP"
  [[ "$(json_field "$WORK/up.json" instant)" == False ]] || fail "upload --no-instant was instant"
  [[ "$(json_field "$WORK/up.json" size)" == "$SIZE" ]] || fail "uploaded size differs"
  FILE_ID=$(json_field "$WORK/up.json" id)
done
SHA=$(sha256sum "$SRC" | cut -d' ' -f1)
[[ "$(json_field "$WORK/up.json" sha256)" == "$SHA" ]] || fail "the server's SHA-256 differs from sha256sum's"
STORED=$(du -sk "$WORK/data/files" | cut -f1)

# 4. Download of the stored file, from a cold blob.
for rep in $(seq 1 "$REPS"); do
  echo "bench_files: download, run $rep" >&2
  # shellcheck disable=SC2046
  uncache $(blobs)
  run download "$rep" "$ALICE" "$WORK/down.json" download "$FILE_ID" -o "$WORK/down.bin" --http "$HTTP"
  [[ "$(json_field "$WORK/down.json" sha256)" == "$SHA" ]] || fail "download: wrong SHA-256"
  cmp -s <(stat -c %s "$WORK/down.bin") <(echo "$SIZE") || fail "download: wrong size"
  rm -f "$WORK/down.bin"
done

# 5. Instant upload of the same content by another user.
for rep in $(seq 1 "$REPS"); do
  echo "bench_files: instant upload, run $rep" >&2
  uncache "$SRC"
  run instant "$rep" "$BOB" "$WORK/inst.json" upload "$SRC" --http "$HTTP"
  [[ "$(json_field "$WORK/inst.json" instant)" == True ]] || fail "the second user's upload was not instant"
  rm_file "$BOB" "$(json_field "$WORK/inst.json" id)"
done

if [[ -n "${BENCH_OUT:-}" ]]; then cp "$ROWS" "$BENCH_OUT"; fi

# 6. The table: median time, highest peak RSS over the runs.
python3 - "$ROWS" "$SIZE_MIB" "$REPS" "$SERVER_BASE_RSS" "$SERVER_BASE_HWM" "$STORED" "$(nproc)" <<'PY'
import csv, statistics, sys
rows_path, size_mib, reps, base_rss, base_hwm, stored_kb, cpus = sys.argv[1:]
rows = list(csv.DictReader(open(rows_path), delimiter="\t"))
phases = {}
for r in rows:
    phases.setdefault(r["phase"], []).append(r)
labels = {
    "disk_write_direct_fsync": "disk: write, O_DIRECT + fsync (dd)",
    "disk_write_sync_per_8MiB": "disk: write 1 MiB buffered, fdatasync per 8 MiB (the server's pattern)",
    "disk_fdatasyncs_alone": "disk: the fdatasyncs of that pattern alone",
    "disk_read_direct": "disk: read, O_DIRECT (dd)",
    "sha256sum_cached": "sha256sum (coreutils), from page cache",
    "openssl_sha256_cached": "openssl dgst -sha256 (SHA-NI if present), from page cache",
    "upload": "upload, tus --no-instant (cold source)",
    "download": "download, GET (cold blob)",
    "instant": "instant upload, 2nd user (cold source)",
}
mib = lambda kb: f"{int(kb) / 1024:.0f} MiB"
print(f"\nFiles benchmark: {size_mib} MiB random file, median of {reps} runs, {cpus} CPUs")
print(f"server at rest after start and 2 logins: RSS {mib(base_rss)} (peak so far {mib(base_hwm)}); "
      f"data/files after the uploads: {mib(stored_kb)}\n")
print("| phase | median s | MB/s | runs (s) | server peak RSS | client peak RSS | server CPU s | client CPU s |")
print("|---|---|---|---|---|---|---|---|")
for phase, rs in phases.items():
    secs = [float(r["seconds"]) for r in rs]
    med = statistics.median(secs)
    mbs = int(rs[0]["bytes"]) / med / 1e6
    runs = " / ".join(f"{s:.2f}" for s in secs)
    has = rs[0]["client_rss_kb"] != "-"
    srv = mib(max(int(r["server_hwm_kb"]) for r in rs)) if has else "—"
    cli = mib(max(int(r["client_rss_kb"]) for r in rs)) if has else "—"
    scpu = f'{statistics.median(float(r["server_cpu_s"]) for r in rs):.2f}' if has else "—"
    ccpu = f'{statistics.median(float(r["client_cpu_s"]) for r in rs):.2f}' if has else "—"
    print(f"| {labels.get(phase, phase)} | {med:.2f} | {mbs:.0f} | {runs} | {srv} | {cli} | {scpu} | {ccpu} |")
print("\nMB = 10^6 bytes. Server peak RSS: VmHWM reset before each run; client: GNU time.")
PY
