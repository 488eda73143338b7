#!/usr/bin/env bash
# The TypeScript client package's checks, as .ci/run runs them: install the
# locked dev dependencies, type-check and compile (strict), and run the
# tests, which drive a real `magpie serve` (MAGPIE_BIN, default the
# workspace's debug build) over WebSocket.
#
#   bash clients/typescript/check.sh
#   MAGPIE_BIN=target/debug/magpie bash clients/typescript/check.sh
set -euo pipefail

fail() { echo "clients/typescript: FAIL: $*" >&2; exit 1; }
skip_or_fail() {
  if [[ "${CI:-}" == true ]]; then fail "$* (required when CI=true)"; fi
  echo "clients/typescript: SKIPPED: $*" >&2
  exit 0
}

if [[ -n "${MAGPIE_BIN:-}" ]]; then
  [[ -x "$MAGPIE_BIN" ]] || fail "MAGPIE_BIN=$MAGPIE_BIN is not an executable file"
  MAGPIE_BIN=$(cd "$(dirname "$MAGPIE_BIN")" && pwd)/$(basename "$MAGPIE_BIN")
fi
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT=$(cd ../.. && pwd)
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || skip_or_fail "node and npm are needed"

if [[ -z "${MAGPIE_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --locked --bin magpie) || fail "cargo build failed"
  MAGPIE_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/magpie
  [[ "$MAGPIE_BIN" == /* ]] || MAGPIE_BIN=$ROOT/$MAGPIE_BIN
fi
export MAGPIE_BIN

npm ci --silent --no-audit --no-fund >/dev/null || fail "npm ci failed"
npx prettier --check src test bench || fail "not formatted: run npx prettier --write src test bench"
rm -rf dist
npx tsc -p tsconfig.json || fail "tsc found errors"
timeout 600 node test/run.mjs || fail "the tests failed"
