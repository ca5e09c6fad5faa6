#!/usr/bin/env bash
# Every test suite of the project, in CI order. `.ci/run` calls exactly this.
#
# One cargo profile (dev, dependencies at opt-level 2) and one target directory serve the
# Rust tests, the C library, the Python wheel and the Node addon, so nothing is compiled
# twice: napi always passes --target, so everything else builds for that target too. The
# one exception is the last suite: the shipped artifacts are release builds
# (scripts/dist.sh, one release build of the core for all four), installed and run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export CARGO_TERM_COLOR=never
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
export AVATARIUM_TARGET_DIR="$ROOT/target/$CARGO_BUILD_TARGET/debug"

# Each step's wall time, printed as it starts the next and summed up at the end, so a suite
# that grows is seen before the CI budget (45 min cold) is.
STEP_NAME="" STEP_START=$SECONDS TIMES=""
step() {
  if [ -n "$STEP_NAME" ]; then
    TIMES+=$(printf '%6d s  %s' $((SECONDS - STEP_START)) "$STEP_NAME")$'\n'
  fi
  STEP_NAME="$*" STEP_START=$SECONDS
  printf '\n==== %s ====\n' "$*"
  # The background build below, once ended, is checked at once: a failure stops the run
  # here rather than at the suite that needs it.
  if [ -n "${tools_pid:-}" ] && ! kill -0 "$tools_pid" 2>/dev/null; then tools_ready; fi
}

# What the last suites build apart from the workspace (Garage for the scale suite; cargo-fuzz
# and the fuzz targets' ASan build) takes minutes on a fresh machine. Built from the start
# at the lowest priority, it takes only the CPU the suites before leave idle (tests waiting
# on sockets, timers and the browser); those suites wait for it first. Cached, it is quick.
tools_log=$(mktemp /tmp/pp-tools.XXXXXX)
# Its own process group (job control on for this one job), so that an early exit stops the
# cargo builds under it too. Not setsid: a new session is a new scheduler autogroup, which
# the kernel shares the CPU with as an equal whatever its nice value (sched_autogroup), and
# the build then slowed the suites by as much as it took.
set -m
nice -n 19 bash -c 'bash scripts/services/garage.sh install && bash scripts/test-fuzz.sh --build-only' \
  >"$tools_log" 2>&1 &
tools_pid=$!
set +m
trap '[ -n "$tools_pid" ] && kill -- "-$tools_pid" 2>/dev/null; rm -f "$tools_log"' EXIT
tools_ready() {
  if [ -n "$tools_pid" ]; then
    echo "waiting for the test tools' background build…"
    local rc=0
    wait "$tools_pid" || rc=$?
    tools_pid=""
    cat "$tools_log"
    [ "$rc" = 0 ] || { echo "building the test tools failed (exit $rc)" >&2; exit 1; }
  fi
}

step "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# No import cycles between files. core/src is left out until the pipeline's parent and
# child modules stop naming each other (pipeline/mod.rs <-> decode/format/jpeg/...).
python3 scripts/check-import-cycles.py --self-test
python3 scripts/check-import-cycles.py cli/src ffi-c/src py/src node/src

step "Rust: core, CLI, examples (examples/rust/tests runs the seed's sample)"
cargo test --workspace --locked
# The CLI binary that build made (the CLI's integration tests run it); later suites reuse it.
export AVATARIUM_CLI_BIN="$AVATARIUM_TARGET_DIR/avatarium"
# The faces' own builds must reuse it (scripts/services/common.sh assert_core_reused).
export AVATARIUM_WORKSPACE_BUILT=1


for suite in c python node rest browser fuzz scale dist; do
  if [ -f "scripts/test-$suite.sh" ]; then
    step "$suite"
    case $suite in fuzz | scale) tools_ready ;; esac
    bash "scripts/test-$suite.sh"
  fi
done

step "all suites passed"
printf '%s%6d s  total\n' "$TIMES" "$SECONDS"
