#!/usr/bin/env bash
# Side-by-side pipeline benchmark: ours vs sharp vs Pillow (+ the libjpeg-turbo 1/8 decode
# floor), interleaved rounds, one core. See bench/README.md.
#   bash bench/run.sh [CORPUS_DIR] [driver options: --rounds N, --only PREFIX..., --skip-check]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CORPUS="${1:-$ROOT/../shared/bench-corpus}"
[ $# -gt 0 ] && shift
PEERS="$HERE/.peers"

bash "$HERE/install-peers.sh"

echo "building avatarium-bench (release)…" >&2
(cd "$ROOT" && cargo build -q --profile release -p avatarium-bench --bin avatarium-bench)
TARGET_DIR="$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
BIN="$TARGET_DIR/release/avatarium-bench"
[ -x "$BIN" ] || BIN="$(ls -t "$TARGET_DIR"/*/release/avatarium-bench 2>/dev/null | head -1)"

exec "$PEERS/venv/bin/python" "$HERE/driver.py" "$CORPUS" --ours "$BIN" \
  --python "$PEERS/venv/bin/python" --node "$(command -v node)" "$@"
