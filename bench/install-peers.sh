#!/usr/bin/env bash
# Installs the benchmark peers into bench/.peers (git-ignored): sharp from npm (prebuilt
# libvips) and Pillow from PyPI (prebuilt wheel with libjpeg-turbo) in a venv. Idempotent.
set -euo pipefail
PEERS="$(cd "$(dirname "$0")" && pwd)/.peers"
SHARP_VERSION="${SHARP_VERSION:-0.35.5}"
PILLOW_VERSION="${PILLOW_VERSION:-13.0.0}"
mkdir -p "$PEERS"
if ! [ -f "$PEERS/node_modules/sharp/package.json" ] ||
   ! grep -q "\"version\": \"$SHARP_VERSION\"" "$PEERS/node_modules/sharp/package.json"; then
  echo "installing sharp $SHARP_VERSION into $PEERS…" >&2
  [ -f "$PEERS/package.json" ] || echo '{"name":"avatarium-bench-peers","private":true}' >"$PEERS/package.json"
  (cd "$PEERS" && npm install --no-audit --no-fund --loglevel=error "sharp@$SHARP_VERSION" >&2)
fi
if ! [ -x "$PEERS/venv/bin/python" ] ||
   ! "$PEERS/venv/bin/python" -c "import PIL,sys; sys.exit(PIL.__version__ != '$PILLOW_VERSION')" 2>/dev/null; then
  echo "installing Pillow $PILLOW_VERSION into $PEERS/venv…" >&2
  python3 -m venv "$PEERS/venv"
  "$PEERS/venv/bin/pip" install -q --disable-pip-version-check "pillow==$PILLOW_VERSION" >&2
fi
