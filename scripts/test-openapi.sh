#!/usr/bin/env bash
# docs/openapi.yaml: (a) a valid OpenAPI 3.1 document (openapi-spec-validator), and broken
# copies of it are not; (b) every conformance case sent to a real `avatarium serve` on
# 127.0.0.1, each request and response validated against the document (openapi-core) and
# the errorCode the case's; (c) doctored copies of real answers (a field of the wrong type,
# a required field removed, ...) refused by the document.
#
# Called by scripts/test-rest.sh with AVATARIUM_CLI_BIN; also runs on its own from any
# directory (it then builds the binary).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PYTHON="${PYTHON:-python3}"
VENV="$ROOT/target/oas-venv"
REQUIREMENTS="$ROOT/scripts/openapi/requirements.txt"

# A virtualenv of its own (the pins of requirements.txt), made once and remade when the pins
# change. Debian's system Python needs python3-venv for it.
if [ ! -x "$VENV/bin/python" ] || ! cmp -s "$REQUIREMENTS" "$VENV/requirements.txt"; then
  rm -rf "$VENV"
  if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
    echo "cannot create a virtualenv: installing python3-venv with apt-get"
    rm -rf "$VENV"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    "$PYTHON" -m venv "$VENV"
  fi
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip install -q -r "$REQUIREMENTS"
  cp "$REQUIREMENTS" "$VENV/requirements.txt"
fi
PY="$VENV/bin/python"

if [ -z "${AVATARIUM_CLI_BIN:-}" ]; then
  export CARGO_TERM_COLOR=never
  export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
  cargo build --locked -q -p avatarium-cli
  AVATARIUM_CLI_BIN="${AVATARIUM_TARGET_DIR:-$ROOT/target/$CARGO_BUILD_TARGET/debug}/avatarium"
fi

"$PY" scripts/openapi/document.py
"$PY" scripts/openapi/conformance.py "$AVATARIUM_CLI_BIN"
echo "openapi: all passed"
