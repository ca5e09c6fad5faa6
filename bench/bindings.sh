#!/usr/bin/env bash
# Binding overhead: the same sequential imports by URL (400×400 JPEG, publish) from Rust
# (spawned as the bindings do, and awaited inline), Python (sync and asyncio) and Node,
# against one loopback HTTP server, in interleaved rounds. Prints mean / p50 / p99 per call
# and each binding's overhead against Rust. --policies: `accounts.getPolicies` instead of
# the import, a call with almost no work, to see the bindings' fixed cost per call.
# See bench/README.md §3.
#   bash bench/bindings.sh [--calls 300] [--warmup 20] [--rounds 3] [--policies]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CALLS=300 WARMUP=20 ROUNDS=3 FLAGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --calls) CALLS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --policies) FLAGS=(--policies); shift ;;
    *) echo "usage: bash bench/bindings.sh [--calls N] [--warmup N] [--rounds N] [--policies]" >&2; exit 2 ;;
  esac
done
PHOTO="${PHOTO:-$ROOT/../shared/bench-corpus/small_avatar400_Aqua.jpg}"

# Everything (builds, server, runners) on one core: the machine has two, and CPU 0 is
# another bench's. One core for all also means every language pays for the server alike.
PIN=(taskset -c "${BENCH_CPU:-1}")
# One target triple for every build, as the test scripts do, so the core's release
# artifacts are shared by the bench binary, the wheel and the addon; one job (one core).
export CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu CARGO_BUILD_JOBS=1 CARGO_TERM_COLOR=never
export PIP_DISABLE_PIP_VERSION_CHECK=1
cd "$ROOT"
LOGS="$HERE/.results"
mkdir -p "$LOGS"

# The three builds compile the core from the work tree, a few minutes apart: if it changes in
# between (someone is editing it), they would not run the same core. Checked after them.
core_sum() { find core -type f -print0 | sort -z | xargs -0 sha1sum | sha1sum; }
CORE_SUM="$(core_sum)"
echo "build: avatarium-bench-calls (cargo, release)"
"${PIN[@]}" cargo build -q --profile release --locked -p avatarium-bench --features http --bin avatarium-bench-calls
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
RUST_BIN="$TARGET_DIR/$CARGO_BUILD_TARGET/release/avatarium-bench-calls"

echo "build: avatarium wheel (maturin, release) into bench/.peers/bindings-venv"
VENV="$HERE/.peers/bindings-venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! MATURIN_PEP517_ARGS="--profile release --locked" "${PIN[@]}" "$VENV/bin/python" -m pip install -v \
  --force-reinstall --no-deps ./py >"$LOGS/bindings-py-build.log" 2>&1; then
  cat "$LOGS/bindings-py-build.log"
  exit 1
fi

echo "build: node addon (napi build --release)"
(
  cd node
  [ -d node_modules/@napi-rs/cli ] || npm ci --no-audit --no-fund
  "${PIN[@]}" npm run -s build:release -- -- --locked >"$LOGS/bindings-node-build.log" 2>&1 \
    || { cat "$LOGS/bindings-node-build.log"; exit 1; }
)
# napi rewrites the committed loaders; a release build must leave them as they are.
git diff --quiet -- node/native.js node/native.d.ts \
  || { echo "napi build changed node/native.js or native.d.ts" >&2; exit 1; }

if [ "$(core_sum)" != "$CORE_SUM" ]; then
  echo "core/ changed during the builds, so the three may differ: run again" >&2
  exit 1
fi

# The server: the standard library's, serving a folder that holds only the photo.
SERVE_DIR="$(mktemp -d)"
cp "$PHOTO" "$SERVE_DIR/"
"${PIN[@]}" python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$SERVE_DIR" \
  >"$SERVE_DIR.log" 2>/dev/null &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$SERVE_DIR" "$SERVE_DIR.log"' EXIT
PORT=""
for _ in $(seq 100); do
  PORT="$(sed -n 's/^Serving HTTP on .* port \([0-9]*\) .*/\1/p' "$SERVE_DIR.log")"
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "the HTTP server did not start" >&2; exit 1; }
URL="http://127.0.0.1:$PORT/$(basename "$PHOTO")"

run() {
  case "$1" in
    rust) "${PIN[@]}" "$RUST_BIN" "$URL" "$CALLS" "$WARMUP" "${FLAGS[@]}" ;;
    rust-inline) "${PIN[@]}" "$RUST_BIN" "$URL" "$CALLS" "$WARMUP" --inline "${FLAGS[@]}" ;;
    python) "${PIN[@]}" "$VENV/bin/python" "$HERE/bindings/calls.py" "$URL" "$CALLS" "$WARMUP" "${FLAGS[@]}" ;;
    python-async) "${PIN[@]}" "$VENV/bin/python" "$HERE/bindings/calls.py" "$URL" "$CALLS" "$WARMUP" --async "${FLAGS[@]}" ;;
    node) "${PIN[@]}" node "$HERE/bindings/calls.mjs" "$URL" "$CALLS" "$WARMUP" "${FLAGS[@]}" ;;
  esac
}

# The clients' data folders (SQLite + blobs), made by each runner under $TMPDIR: tmpfs by
# default. On this machine's ext4 /tmp, the cost of creating files after the previous
# runner deleted its thousands varies by ±4 % from run to run, more than the bindings cost.
export TMPDIR="${BENCH_TMPDIR:-/dev/shm}"
WHAT="imports of $(basename "$PHOTO") from $URL"
[ ${#FLAGS[@]} -eq 0 ] || WHAT="accounts.getPolicies calls"
echo "$WHAT; $CALLS calls after $WARMUP warm-up, $ROUNDS rounds, all on CPU ${BENCH_CPU:-1}; data in $TMPDIR"
OUT="$LOGS/bindings.jsonl"
: >"$OUT"
LANGS=(rust rust-inline python python-async node)
for ((r = 0; r < ROUNDS; r++)); do
  # The order rotates each round, so no language always runs first or last.
  for ((k = 0; k < ${#LANGS[@]}; k++)); do
    lang="${LANGS[$(((k + r) % ${#LANGS[@]}))]}"
    echo "  round $((r + 1)): $lang"
    run "$lang" >>"$OUT" # a failed call exits non-zero, and set -e stops here
  done
done
echo
python3 "$HERE/bindings/report.py" "$OUT"
echo
echo "raw per-call times: $OUT"
