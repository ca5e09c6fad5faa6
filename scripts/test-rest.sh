#!/usr/bin/env bash
# The REST endpoint (`profile-photo serve`): its curl example against a server on 127.0.0.1.
# The Rust tests of the endpoint (cli/tests/rest_*.rs) run in `cargo test --workspace`.
#
# Called by scripts/test-all.sh; also runs on its own from any directory.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export CARGO_TERM_COLOR=never
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
PP_TARGET_DIR="${PP_TARGET_DIR:-$ROOT/target/$CARGO_BUILD_TARGET/debug}"

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
# set); building `-p profile-photo-cli` alone would compile dependencies again with another
# feature set. Run on its own, this script builds it.
if [ -z "${PP_CLI_BIN:-}" ]; then
  cargo build --locked -q -p profile-photo-cli
  PP_CLI_BIN="$PP_TARGET_DIR/profile-photo"
fi
PP_BIN="$PP_CLI_BIN" bash examples/rest/run.sh
