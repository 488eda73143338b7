#!/usr/bin/env bash
# CI check of the web client (.ci/run): install exactly what the lockfiles
# say, type-check, rebuild dist/ and fail if it differs from the committed
# one (the server embeds the committed dist/, so a stale one would ship).
#
#   bash clients/web/check.sh
#
# A developer without node/npm gets a skip; under CI=true that fails.
set -euo pipefail

fail() { echo "clients/web: FAIL: $*" >&2; exit 1; }
skip_or_fail() {
  if [[ "${CI:-}" == true ]]; then
    fail "$* (required when CI=true)"
  fi
  echo "clients/web: SKIPPED: $*" >&2
  exit 0
}

cd "$(dirname "${BASH_SOURCE[0]}")"
WEB=$(pwd)
TS_CLIENT=$(cd "$WEB/.." && pwd)/typescript

missing=()
command -v node >/dev/null 2>&1 || missing+=(node)
command -v npm >/dev/null 2>&1 || missing+=(npm)
((${#missing[@]} == 0)) || skip_or_fail "missing tools: ${missing[*]}"

npm_ci() {
  echo "clients/web: npm ci in $1"
  (cd "$1" && npm ci --silent --no-audit --no-fund >/dev/null) || fail "npm ci failed in $1"
}
# The app imports the TypeScript client package from source (tsconfig
# paths), which needs that package's own dependencies' types.
if [[ -f "$TS_CLIENT/package-lock.json" ]]; then
  npm_ci "$TS_CLIENT"
fi
npm_ci "$WEB"

npx --no-install prettier --check src build.mjs || fail "not formatted: run \`npx prettier --write src build.mjs\` in clients/web"
echo "clients/web: type-check (tsc $(npx --no-install tsc --version))"
npx --no-install tsc -p . || fail "type errors (see above)"

echo "clients/web: node build.mjs"
node build.mjs || fail "build failed (see above)"

# Modified, deleted or untracked files under dist/ all show here.
stale=$(git status --porcelain --untracked-files=all -- dist)
if [[ -n "$stale" ]]; then
  echo "$stale" >&2
  fail "the committed bundle is stale: run \`cd clients/web && npm ci && node build.mjs\` and commit clients/web/dist"
fi
echo "clients/web: the committed bundle matches its source"
