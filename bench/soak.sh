#!/usr/bin/env bash
# Soak test of `avatarium serve`: N loopback callers for a fixed time mixing good imports,
# uploads, hostile URLs and bombs; fails on an unexpected errorCode or on RSS or open file
# descriptors growing after warm-up; reports calls/s and p50/p99 from /metrics.
#   bash bench/soak.sh [--secs 600] [--callers 32] [--out DIR]
# The server is $AVATARIUM_CLI_BIN when set (the test command passes its debug build),
# else a release build. See bench/README.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
cli="${AVATARIUM_CLI_BIN:-}"
if [ -z "$cli" ]; then
  cargo build -q --release -p avatarium-cli
  TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  triple="${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}"
  cli="$TARGET_DIR/${triple}release/avatarium"
fi
exec python3 "$HERE/soak.py" --cli "$cli" "$@"
