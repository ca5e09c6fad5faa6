#!/usr/bin/env bash
# Install the C library of avatarium under PREFIX:
#   PREFIX/include/avatarium.h
#   PREFIX/lib/libavatarium.a, PREFIX/lib/libavatarium.so
#   PREFIX/lib/pkgconfig/avatarium.pc
# after which `cc app.c $(pkg-config --cflags --libs avatarium)` builds a program
# (with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a system prefix).
#
# usage: scripts/install-c.sh PREFIX
#   Builds the release library first (cargo build -p avatarium-ffi --release).
#   With AVATARIUM_LIB_DIR=DIR set, installs the libraries already built in DIR instead (the test
#   command passes its dev build this way).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 1 ]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
mkdir -p "$1"
PREFIX=$(cd "$1" && pwd)

LIB_DIR="${AVATARIUM_LIB_DIR:-}"
if [ -z "$LIB_DIR" ]; then
  cargo build --locked -p avatarium-ffi --release
  LIB_DIR="target/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}release"
fi
for f in libavatarium.a libavatarium.so; do
  [ -f "$LIB_DIR/$f" ] || { echo "install-c: $LIB_DIR/$f is missing" >&2; exit 1; }
done

VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)
install -d "$PREFIX/include" "$PREFIX/lib/pkgconfig"
install -m 644 ffi-c/include/avatarium.h "$PREFIX/include/avatarium.h"
install -m 644 "$LIB_DIR/libavatarium.a" "$PREFIX/lib/libavatarium.a"
install -m 755 "$LIB_DIR/libavatarium.so" "$PREFIX/lib/libavatarium.so"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" ffi-c/avatarium.pc.in \
  > "$PREFIX/lib/pkgconfig/avatarium.pc"
echo "installed avatarium $VERSION under $PREFIX"
