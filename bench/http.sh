#!/usr/bin/env bash
# Loopback import load test through the full API: imports/s and p50/p99 latency at 1, 2
# and 16 concurrent callers. See bench/README.md.
#   bash bench/http.sh [CORPUS_DIR] [--imports N] [--callers 1,2,16]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CORPUS="${1:-$ROOT/../shared/bench-corpus}"
[ $# -gt 0 ] && shift
cd "$ROOT"
cargo build -q --profile release -p avatarium-bench --features http --bin avatarium-bench-http
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}release"
exec "$BIN/avatarium-bench-http" "$CORPUS" "$@"
