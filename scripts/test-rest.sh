#!/usr/bin/env bash
# The REST endpoint (`avatarium serve`): its curl example against a server on 127.0.0.1, and
# the systemd unit (scripts/systemd/avatarium.service) checked by systemd-analyze.
# The Rust tests of the endpoint (cli/tests/rest_*.rs) run in `cargo test --workspace`.
#
# Called by scripts/test-all.sh; also runs on its own from any directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export CARGO_TERM_COLOR=never
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
AVATARIUM_TARGET_DIR="${AVATARIUM_TARGET_DIR:-$ROOT/target/$CARGO_BUILD_TARGET/debug}"

# curl and openssl (the example signs requests with it); installed only when missing.
missing=()
for tool in curl openssl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# test-all.sh hands over the binary that `cargo test --workspace` built (workspace feature
# set); building `-p avatarium-cli` alone would compile dependencies again with another
# feature set. Run on its own, this script builds it.
if [ -z "${AVATARIUM_CLI_BIN:-}" ]; then
  cargo build --locked -q -p avatarium-cli
  AVATARIUM_CLI_BIN="$AVATARIUM_TARGET_DIR/avatarium"
fi
AVATARIUM_BIN="$AVATARIUM_CLI_BIN" bash examples/rest/run.sh

# The systemd unit (scripts/systemd/avatarium.service) with the binary just built: systemd's
# own checks, where an unknown or misspelt key is only a warning, so any output fails; and
# its exposure score (0 = fully sandboxed, 10 = none), which must stay "OK" (≤ 1.5).
if command -v systemd-analyze >/dev/null; then
  unit_dir=$(mktemp -d /tmp/pp-unit.XXXXXX)
  sed "s#/usr/local/bin/avatarium#$AVATARIUM_CLI_BIN#" scripts/systemd/avatarium.service \
    >"$unit_dir/avatarium.service"
  verify_out=$(cd "$unit_dir" && systemd-analyze verify avatarium.service 2>&1) || {
    echo "$verify_out"
    exit 1
  }
  [ -z "$verify_out" ] || { echo "systemd-analyze verify: $verify_out" >&2; exit 1; }
  (cd "$unit_dir" && systemd-analyze security --offline=yes --threshold=15 avatarium.service |
    tail -1)
  rm -rf "$unit_dir"
  echo "systemd unit: verify clean"
else
  echo "systemd-analyze not found: the systemd unit is not checked" >&2
fi

# An existing Gigya SDK (the npm `gigya` package) pointed at the server, unmodified, and the
# server answering any Host (docs/rest.md, "Point an existing Gigya SDK here").
AVATARIUM_CLI_BIN="$AVATARIUM_CLI_BIN" bash scripts/test-sdk-compat.sh

# docs/openapi.yaml: a valid OpenAPI 3.1 document, and every conformance case's real request
# and answer validated against it.
AVATARIUM_CLI_BIN="$AVATARIUM_CLI_BIN" bash scripts/test-openapi.sh

# A minute of mixed and hostile load at 32 callers (bench/README.md "Soak"): only the
# expected errorCodes, RSS and open descriptors flat, the server's figures from /metrics.
AVATARIUM_CLI_BIN="$AVATARIUM_CLI_BIN" bash bench/soak.sh --secs 60 --out "$ROOT/target/soak"
