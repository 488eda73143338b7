#!/usr/bin/env bash
# Browser tests: the share-link page (/s/{share}) and the web client (/ and
# /admin) in a real browser, Debian's Chromium (/usr/bin/chromium), driven
# by playwright-core from npm (which never downloads a browser of its own).
#
#   bash interop/browser/run.sh                                 # builds target/debug/magpie
#   MAGPIE_BIN=target/debug/magpie bash interop/browser/run.sh  # as .ci/run does
#   MAGPIE_BROWSER_SCREENSHOTS=/tmp/shots bash interop/browser/run.sh  # keep a PNG of each step
#   MAGPIE_BROWSER_TESTS=chat.test.mjs bash interop/browser/run.sh     # only these files (default *.test.mjs)
#
# Installs Chromium with apt-get when /usr/bin/chromium is missing (a
# developer who cannot gets a skip; under CI=true that fails the run), runs
# `npm ci` when node_modules does not match package-lock.json, starts a
# server on a fresh temporary data dir and free loopback ports, makes a user
# and a shared folder with the CLI client and an administrator with
# `magpie admin bootstrap`, runs the *.test.mjs files, stops the server and
# removes everything it made except node_modules (kept here, git-ignored,
# so a second run is quick).
set -euo pipefail

fail() { echo "interop/browser: FAIL: $*" >&2; exit 1; }
# A developer without a tool gets a skip; CI must not pass silently.
skip_or_fail() {
  if [[ "${CI:-}" == true ]]; then
    fail "$* (required when CI=true)"
  fi
  echo "interop/browser: SKIPPED: $*" >&2
  exit 0
}

started=$SECONDS
# MAGPIE_BIN may be relative to the caller's cwd: resolve it before cd.
if [[ -n "${MAGPIE_BIN:-}" ]]; then
  [[ -x "$MAGPIE_BIN" ]] || fail "MAGPIE_BIN=$MAGPIE_BIN is not an executable file"
  MAGPIE_BIN=$(cd "$(dirname "$MAGPIE_BIN")" && pwd)/$(basename "$MAGPIE_BIN")
fi
# So may MAGPIE_BROWSER_SCREENSHOTS, a directory for a PNG of each step.
if [[ -n "${MAGPIE_BROWSER_SCREENSHOTS:-}" ]]; then
  mkdir -p "$MAGPIE_BROWSER_SCREENSHOTS" || fail "cannot make $MAGPIE_BROWSER_SCREENSHOTS"
  MAGPIE_BROWSER_SCREENSHOTS=$(cd "$MAGPIE_BROWSER_SCREENSHOTS" && pwd)
  export MAGPIE_BROWSER_SCREENSHOTS
fi
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(cd ../.. && pwd)

missing=()
command -v node >/dev/null 2>&1 || missing+=(node)
command -v npm >/dev/null 2>&1 || missing+=(npm)
((${#missing[@]} == 0)) || skip_or_fail "missing tools: ${missing[*]}"

# The server: without MAGPIE_BIN, the workspace's debug build (the profile
# of `cargo test`, so .ci/run, which passes MAGPIE_BIN, builds nothing more).
if [[ -z "${MAGPIE_BIN:-}" ]]; then
  echo "interop/browser: cargo build --locked --bin magpie"
  (cd "$ROOT" && cargo build --locked --bin magpie) || fail "cargo build failed"
  MAGPIE_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/magpie
  [[ "$MAGPIE_BIN" == /* ]] || MAGPIE_BIN=$ROOT/$MAGPIE_BIN
fi
[[ -x "$MAGPIE_BIN" ]] || fail "MAGPIE_BIN=$MAGPIE_BIN is not an executable file"
export MAGPIE_BIN

# Debian's Chromium, installed if missing.
CHROMIUM=/usr/bin/chromium
if [[ ! -x "$CHROMIUM" ]]; then
  echo "interop/browser: $CHROMIUM is missing: apt-get install chromium"
  if ((EUID == 0)) && command -v apt-get >/dev/null 2>&1 &&
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2; then
    [[ -x "$CHROMIUM" ]] || skip_or_fail "apt-get installed chromium but there is no $CHROMIUM"
  else
    skip_or_fail "no $CHROMIUM and 'apt-get install chromium' failed (or not root)"
  fi
fi
export MAGPIE_BROWSER_CHROMIUM=$CHROMIUM

# playwright-core, exactly as package-lock.json says.
installed=$(node -e 'try { console.log(require("./node_modules/playwright-core/package.json").version) } catch { }')
locked=$(node -e 'console.log(require("./package-lock.json").packages["node_modules/playwright-core"].version)')
if [[ "$installed" != "$locked" ]]; then
  echo "interop/browser: npm ci (playwright-core $locked)"
  npm ci --silent --no-audit --no-fund >/dev/null || fail "npm ci failed"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/magpie-browser.XXXXXX")
DATA=$WORK/data LOG=$WORK/server.log
mkdir -p "$DATA" "$WORK/files" "$WORK/tmp"
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
read -r TCP_PORT HTTP_PORT < <(node -e '
const net = require("net");
const listen = () => new Promise((ok) => { const s = net.createServer().listen(0, "127.0.0.1", () => ok(s)); });
Promise.all([listen(), listen()]).then(async (socks) => {
  const ports = socks.map((s) => s.address().port);
  await Promise.all(socks.map((s) => new Promise((ok) => s.close(ok))));
  console.log(ports.join(" "));
});')
[[ -n "$TCP_PORT" && -n "$HTTP_PORT" ]] || fail "no free ports"
BASE_URL="http://127.0.0.1:$HTTP_PORT"

"$MAGPIE_BIN" serve --data-dir "$DATA" \
  --listen-tcp "127.0.0.1:$TCP_PORT" --listen-http "127.0.0.1:$HTTP_PORT" >>"$LOG" 2>&1 &
SERVER_PID=$!
up=
for _ in $(seq 1 150); do
  # bash's /dev/tcp, as .ci/run's smoke test: no extra process per try.
  if { exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT"; } 2>/dev/null; then
    printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
    if grep -q '^ok' <&3; then up=1; fi
    exec 3<&-
    [[ -n "$up" ]] && break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited at start"
  sleep 0.1
done
[[ -n "$up" ]] || fail "server did not answer /healthz within 15 s"

# A user, a shared folder and what is in it, through the CLI client.
export MAGPIE_SERVER="tcp://127.0.0.1:$TCP_PORT" MAGPIE_HTTP=$BASE_URL
export MAGPIE_PASSWORD="interop-browser-long-password" MAGPIE_STATE_DIR=$WORK/state
drive() { "$MAGPIE_BIN" client --user alice --json drive "$@"; }
json_field() { node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s)[process.argv[1]]))' "$1"; }

export MAGPIE_BROWSER_FOLDER='<img src=x onerror=alert(1)>'
export MAGPIE_BROWSER_SUB='子文件夹'
export MAGPIE_BROWSER_FILE='报告 "final".txt'
export MAGPIE_BROWSER_ODD_FILE='"><svg onload=alert(2)>.txt'
export MAGPIE_BROWSER_FILE_PATH=$WORK/files/$MAGPIE_BROWSER_FILE
export MAGPIE_BROWSER_ODD_FILE_PATH=$WORK/files/$MAGPIE_BROWSER_ODD_FILE
printf '季度报告 final\n<b>not markup</b>\n\x00\x01\xff binary tail\n' >"$MAGPIE_BROWSER_FILE_PATH"
printf 'only text: "><svg onload=alert(2)>\n' >"$MAGPIE_BROWSER_ODD_FILE_PATH"

"$MAGPIE_BIN" client --user alice register >/dev/null || fail "register alice"
drive mkdir -p "/$MAGPIE_BROWSER_FOLDER/$MAGPIE_BROWSER_SUB" >/dev/null || fail "drive mkdir"
drive upload "$MAGPIE_BROWSER_FILE_PATH" "/$MAGPIE_BROWSER_FOLDER/$MAGPIE_BROWSER_SUB" >/dev/null ||
  fail "drive upload $MAGPIE_BROWSER_FILE"
drive upload "$MAGPIE_BROWSER_ODD_FILE_PATH" "/$MAGPIE_BROWSER_FOLDER" >/dev/null ||
  fail "drive upload $MAGPIE_BROWSER_ODD_FILE"
share=$(drive share "/$MAGPIE_BROWSER_FOLDER") || fail "drive share"
MAGPIE_BROWSER_LINK=$(json_field link <<<"$share")
MAGPIE_BROWSER_SHARE_ID=$(json_field id <<<"$share")
MAGPIE_BROWSER_CODE=$(json_field code <<<"$share")
[[ "$MAGPIE_BROWSER_LINK" == "$BASE_URL/s/$MAGPIE_BROWSER_SHARE_ID" ]] || fail "unexpected share: $share"
export MAGPIE_BROWSER_LINK MAGPIE_BROWSER_SHARE_ID MAGPIE_BROWSER_CODE
export MAGPIE_BROWSER_WORK=$WORK

# An administrator for the admin console, made directly in the database
# (the server is running: bootstrap works either way).
export MAGPIE_BROWSER_ADMIN=root MAGPIE_BROWSER_ADMIN_PASSWORD="interop-admin-long-password"
export MAGPIE_BROWSER_PLAIN_USER=alice
MAGPIE_PASSWORD=$MAGPIE_BROWSER_ADMIN_PASSWORD "$MAGPIE_BIN" admin bootstrap --user "$MAGPIE_BROWSER_ADMIN" \
  --data-dir "$DATA" >/dev/null || fail "admin bootstrap"

status=0
echo "interop/browser: $("$CHROMIUM" --version 2>/dev/null) with playwright-core $locked against $MAGPIE_BROWSER_LINK"
# TMPDIR: Playwright makes Chromium's fresh --user-data-dir there.
TMPDIR=$WORK/tmp timeout 900 node --test --test-reporter=spec ${MAGPIE_BROWSER_TESTS:-*.test.mjs} || status=$?

kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died during the run"
((status == 0)) || fail "the browser test failed (exit $status); see above"
echo "interop/browser: all passed in $((SECONDS - started)) s"
