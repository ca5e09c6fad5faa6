#!/usr/bin/env bash
# Node addon (node/, npm package `avatarium`): build it, check its typings, run its
# node:test suite and the Node examples. Called by scripts/test-all.sh; runs on its own too.
#
# The addon is built with the DEV profile for the same --target as every other suite, so it
# lands in target/<triple>/debug next to them and reuses the core already built there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=services/common.sh
. scripts/services/common.sh

export CARGO_TERM_COLOR=never
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"

step() { printf '\n---- node: %s ----\n' "$*"; }

# Node >= 20.17 (what @napi-rs/cli 3 and our package.json "engines" need) and npm.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node and npm are required (Node >= 20.17); Debian's own nodejs package is too old" >&2
  exit 1
fi
node -e '
  const [maj, min] = process.versions.node.split(".").map(Number)
  if (maj < 20 || (maj === 20 && min < 17)) { console.error(`Node ${process.version} is too old: need >= 20.17`); process.exit(1) }
'

cd "$ROOT/node"
step "npm ci (only when node_modules is missing or stale)"
if [ ! -f node_modules/.package-lock.json ] \
  || [ package-lock.json -nt node_modules/.package-lock.json ] \
  || [ package.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  echo "node_modules is up to date"
fi

step "build the addon (napi build, dev profile, --target $CARGO_BUILD_TARGET, --locked)"
mkdir -p "$ROOT/target"
BUILD_LOG="$ROOT/target/node-build.log"
npm run build -- -- --locked 2>&1 | tee "$BUILD_LOG"
assert_core_reused "$BUILD_LOG" Node

step "generated native.js / native.d.ts match the committed ones"
git -C "$ROOT" diff --exit-code -- node/native.js node/native.d.ts

step "examples: link the package like another project would"
cd "$ROOT/examples/node"
if [ ! -e node_modules/avatarium/package.json ]; then
  npm install --no-audit --no-fund --no-package-lock
fi

step "typings: tsc --noEmit on the typed example"
(cd "$ROOT/node" && npx --no-install tsc --noEmit -p ../examples/node/tsconfig.json)

step "node:test suite"
(cd "$ROOT/node" && npm test)

step "examples"
node import-photo.js
node import-photo.mjs
node http-handler.js

echo "node: all passed"
