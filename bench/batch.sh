#!/usr/bin/env bash
# The batch benchmark: `avatarium import-batch` (release) over N rows served from loopback,
# at several concurrencies, against the pipeline's own speed. See bench/README.md §5.
#   bash bench/batch.sh [CORPUS_DIR] [--rows N] [--concurrency 1,2,8,32]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
cargo build -q --profile release -p avatarium-cli -p avatarium-bench --features avatarium-bench/http \
  --bin avatarium --bin avatarium-bench-batch
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}release"
exec "$BIN/avatarium-bench-batch" "$BIN/avatarium" "$@"
