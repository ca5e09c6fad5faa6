#!/usr/bin/env bash
# The Python package: build and install it with pip (maturin as the PEP 517 backend) into a
# virtualenv, run its pytest suite (conformance cases, every method and error class, async,
# threads, exit cleanliness, stubtest) and the Python examples.
#
# Called by scripts/test-all.sh; also runs on its own from any directory. The wheel is built
# with the dev profile for $CARGO_BUILD_TARGET, so it reuses the artifacts of the Rust steps in
# target/<triple>/debug instead of compiling the core again in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=services/common.sh
. scripts/services/common.sh

export CARGO_TERM_COLOR=never
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/target/py-venv"

# A virtualenv, made once and reused. Debian's system Python needs python3-venv for it.
if [ ! -x "$VENV/bin/python" ]; then
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
    echo "cannot create a virtualenv: installing python3-venv with apt-get"
    rm -rf "$VENV"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    "$PYTHON" -m venv "$VENV"
  fi
fi
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# pytest and mypy (stubtest) for the suite; skipped when already there.
"$PY" -c 'import pytest, mypy' >/dev/null 2>&1 || "$PY" -m pip install -q "pytest>=8,<10" "mypy>=1.10,<2"

# `pip install ./py`: pip fetches maturin (build isolation), maturin runs cargo on py/.
# --profile dev + CARGO_BUILD_TARGET (maturin reads it) = the same artifacts as cargo's.
# The cargo lines of the build are shown: after the other suites, `Compiling` should list only
# this crate and pyo3 (whose build script tracks the interpreter maturin passes), never the core.
echo "pip install ./py (maturin, profile dev, target $CARGO_BUILD_TARGET)"
LOG="$ROOT/target/py-build.log"
if ! MATURIN_PEP517_ARGS="--profile dev --locked" "$PY" -m pip install -v --force-reinstall --no-deps ./py >"$LOG" 2>&1; then
  cat "$LOG"
  exit 1
fi
grep -E '^ *(Compiling|Finished|📦)' "$LOG" | sed 's/^ */  /' || true
assert_core_reused "$LOG" Python

# Run from outside the source tree so `import avatarium` is the installed wheel.
cd "$ROOT/target"
"$PY" -m pytest "$ROOT/py/tests" -q -p no:cacheprovider

echo "example: import by URL, publish later (the seed's sample)"
"$PY" "$ROOT/examples/python/import_then_publish.py"
echo "example: asyncio web handler"
"$PY" "$ROOT/examples/python/web_handler.py"
echo "python: all passed"
