#!/usr/bin/env bash
# Fuzz smoke (issue 14): every cargo-fuzz target of fuzz/ for a bounded time, in the test
# command. One ASan build of all targets, then each target runs AVATARIUM_FUZZ_SECS seconds
# from its seeds; any crash, leak, timeout or out-of-memory finding fails the suite and names
# the saved input. fuzz/README.md says how to run longer campaigns.
#
#   bash scripts/test-fuzz.sh                 every target, 60 s each
#   AVATARIUM_FUZZ_SECS=600 bash scripts/test-fuzz.sh
#   bash scripts/test-fuzz.sh --build-only    install cargo-fuzz and build, run nothing
#
# Knobs: AVATARIUM_FUZZ_SECS (per target, default 60), AVATARIUM_FUZZ_TIMEOUT (seconds per
# input, default 30), AVATARIUM_FUZZ_RSS_MB (default 2560), AVATARIUM_FUZZ_TARGETS (a
# space-separated subset; default: every target `cargo fuzz list` names),
# AVATARIUM_FUZZ_TOOLCHAIN (default: nightly when installed, else the default toolchain with
# RUSTC_BOOTSTRAP=1, so a machine with stable Rust alone still builds it).
#
# Per target T: seeds are fuzz/seeds/T/ plus the folders listed in fuzz/seeds/T.from (one
# path a line, relative to the repository; missing ones are reported and skipped); the
# dictionary is fuzz/T.dict, else fuzz/<T up to its first '_'>.dict (url_policy → url.dict).
# New inputs go to a temporary folder, removed on exit; findings to fuzz/artifacts/T/
# (ignored by git), kept for reproduction.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=services/common.sh
. scripts/services/common.sh

CARGO_FUZZ_VERSION=0.13.2 # builds with Rust 1.95
SECS="${AVATARIUM_FUZZ_SECS:-60}"
# Per input: the largest legal image (50 MP) decodes in a few seconds under ASan; the
# service's own deadline is 10 s. An input over this is a finding.
TIMEOUT="${AVATARIUM_FUZZ_TIMEOUT:-30}"
# The largest legal image costs a few hundred MB under ASan (fuzz/RESULTS.md: peak 635 MB).
RSS_MB="${AVATARIUM_FUZZ_RSS_MB:-2560}"
TRIPLE="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
FUZZ_DIR="$ROOT/fuzz"

started=$SECONDS
step() { printf '\n---- fuzz: %s (at %d s)\n' "$*" "$((SECONDS - started))"; }
fail() { printf -- '---- fuzz: FAILED: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d /tmp/pp-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

step "cargo-fuzz $CARGO_FUZZ_VERSION"
# Installed with the default toolchain, before a fuzzing toolchain is chosen.
cargo_install_cached cargo-fuzz cargo-fuzz "$CARGO_FUZZ_VERSION"
CARGO_FUZZ="$AVATARIUM_BIN_DIR/cargo-fuzz"
cargo_fuzz() { "$CARGO_FUZZ" fuzz "$@" --fuzz-dir "$FUZZ_DIR"; }

# cargo-fuzz passes -Zsanitizer=address and other unstable flags. A fresh CI machine has one
# toolchain (stable); RUSTC_BOOTSTRAP=1 makes it accept them, and stable ships the ASan
# runtime for this target. Nightly, when present, is used as the campaigns use it.
toolchain="${AVATARIUM_FUZZ_TOOLCHAIN:-}"
if [ -z "$toolchain" ] && command -v rustup >/dev/null &&
  rustup toolchain list | grep -q '^nightly-' && rustup run nightly rustc -V >/dev/null 2>&1; then
  toolchain=nightly
fi
if [ -n "$toolchain" ]; then
  export RUSTUP_TOOLCHAIN="$toolchain"
fi
rustc -V >/dev/null || fail "toolchain ${toolchain:-(default)} has no working rustc"
if ! rustc -V | grep -q nightly; then
  # An explicit value wins: RUSTC_BOOTSTRAP=-1 imitates a toolchain that refuses -Z flags,
  # to see the build fail loudly (cargo then rebuilds what it had built with another value).
  export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"
fi
step "toolchain: $(rustc -V)${RUSTC_BOOTSTRAP:+ with RUSTC_BOOTSTRAP=$RUSTC_BOOTSTRAP}"

targets="${AVATARIUM_FUZZ_TARGETS:-$(cargo_fuzz list)}"
[ -n "$targets" ] || fail "cargo fuzz list named no target"

step "ASan build of every target (release, one build)"
# cargo-fuzz has no --locked: check fuzz/Cargo.lock first, as the rest of the test command does.
cargo metadata --locked --format-version 1 --manifest-path "$FUZZ_DIR/Cargo.toml" >/dev/null ||
  fail "fuzz/Cargo.lock is out of date: run cargo update -w --manifest-path fuzz/Cargo.toml"
# No target name: one cargo invocation builds every fuzz target. A toolchain that cannot
# build it fails the suite here (set -e); nothing is skipped.
cargo_fuzz build -O --target "$TRIPLE" || fail "the ASan build failed (toolchain: $(rustc -V))"
bin_dir="$FUZZ_DIR/target/$TRIPLE/release"
if [ "${1:-}" = --build-only ]; then
  step "built; not run (--build-only)"
  exit 0
fi

# LeakSanitizer: jpeg-decoder's worker threads leave a thread-local of std's channels behind
# when LSan scans while the thread is still exiting (fuzz/RESULTS.md, run 1 and 4a: not
# reproducible on re-run). Suppressed by function and by source path, so it matches whether
# llvm-symbolizer or addr2line symbolises the stack.
cat >"$work/lsan.supp" <<'EOF'
leak:jpeg_decoder::worker::multithreaded
leak:/jpeg-decoder-*/src/worker/multithreaded.rs
EOF
export LSAN_OPTIONS="suppressions=$work/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# A fresh machine has binutils' addr2line but no llvm-symbolizer; allow it as a fallback so
# reports (and the suppressions above) see function names and lines.
export ASAN_OPTIONS="allow_addr2line=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

stat_of() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

summary=()
for t in $targets; do
  bin="$bin_dir/$t"
  [ -x "$bin" ] || fail "$t: no binary at $bin after the build"
  step "$t: ${SECS} s"
  corpus="$work/corpus/$t"
  artifacts="$FUZZ_DIR/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  # libFuzzer writes new inputs only into the first corpus folder; the seed folders after it
  # are read, never written, so the repository stays clean.
  seeds=()
  [ -d "fuzz/seeds/$t" ] && seeds+=("fuzz/seeds/$t")
  if [ -f "fuzz/seeds/$t.from" ]; then
    while IFS= read -r line; do
      line="${line%%#*}"
      line="${line%"${line##*[![:space:]]}"}"
      [ -n "$line" ] || continue
      if [ -d "$line" ]; then seeds+=("$line"); else echo "fuzz: $t: seed folder $line is absent, skipped"; fi
    done <"fuzz/seeds/$t.from"
  fi
  args=(-max_total_time="$SECS" -timeout="$TIMEOUT" -rss_limit_mb="$RSS_MB"
    -print_final_stats=1 -artifact_prefix="$artifacts/")
  for dict in "fuzz/$t.dict" "fuzz/${t%%_*}.dict"; do
    if [ -f "$dict" ]; then
      args+=(-dict="$dict")
      break
    fi
  done
  echo "fuzz: $t: seeds: ${seeds[*]:-none}; ${args[*]}"
  log="$work/$t.log"
  before=$(find "$artifacts" -type f ! -name '*.log' | sort)
  t0=$SECONDS
  rc=0
  "$bin" "${args[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  elapsed=$((SECONDS - t0))
  execs=$(stat_of number_of_executed_units "$log")
  rate=$(stat_of average_exec_per_sec "$log")
  rss=$(stat_of peak_rss_mb "$log")
  units=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    # The report itself (from libFuzzer's or the sanitizer's first ERROR line), then the
    # summary; the whole log is kept beside the input.
    first=$(grep -n -m1 -E 'ERROR: |panicked at|deadly signal' "$log" | cut -d: -f1 || true)
    sed -n "${first:-1},+50p" "$log" >&2
    echo "[…]" >&2
    tail -n 8 "$log" >&2
    cp "$log" "$artifacts/last-finding.log"
    new=$(comm -13 <(echo "$before") <(find "$artifacts" -type f ! -name '*.log' | sort) | tr '\n' ' ')
    printf -- '---- fuzz: %s: FINDING (exit %d) after %d s, %s execs; input saved: %s\n' \
      "$t" "$rc" "$elapsed" "${execs:-?}" "${new:-none (see the log above)}" >&2
    echo "full log: $artifacts/last-finding.log; reproduce: $bin $new" >&2
    fail "$t"
  fi
  [ -n "$execs" ] && [ "$execs" -gt 0 ] || { cat "$log" >&2; fail "$t ran no input"; }
  line="$t: ok, $execs execs in $elapsed s ($rate/s), peak RSS $rss MB, $units new units"
  summary+=("$line")
  echo "fuzz: $line"
done

step "every target passed"
printf 'fuzz: %s\n' "${summary[@]}"
