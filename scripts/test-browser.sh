#!/usr/bin/env bash
# The browser suite: the Web SDK, sessions, CORS and the demo page in headless Chromium
# (Debian's `chromium`, installed here when missing) driven by playwright-core from npm
# (no browser download). Screenshot and logs: target/browser/.
#
# Called by scripts/test-all.sh; also runs on its own from any directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export CARGO_TERM_COLOR=never
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
AVATARIUM_TARGET_DIR="${AVATARIUM_TARGET_DIR:-$ROOT/target/$CARGO_BUILD_TARGET/debug}"

if ! command -v chromium >/dev/null; then
  echo "installing chromium with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi
command -v node >/dev/null || { echo "node (>= 20) is needed" >&2; exit 2; }

# As test-rest.sh: test-all.sh hands over the binary; on its own, this script builds it.
if [ -z "${AVATARIUM_CLI_BIN:-}" ]; then
  cargo build --locked -q -p avatarium-cli
  AVATARIUM_CLI_BIN="$AVATARIUM_TARGET_DIR/avatarium"
fi
export AVATARIUM_CLI_BIN
export BROWSER_OUT="$ROOT/target/browser"

(cd scripts/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
timeout 300 node scripts/browser/suite.mjs
