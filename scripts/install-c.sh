#!/usr/bin/env bash
# Install the C library of profile-photo under PREFIX:
#   PREFIX/include/profile_photo.h
#   PREFIX/lib/libprofile_photo.a, PREFIX/lib/libprofile_photo.so
#   PREFIX/lib/pkgconfig/profile_photo.pc
# after which `cc app.c $(pkg-config --cflags --libs profile_photo)` builds a program
# (with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a system prefix).
#
# usage: scripts/install-c.sh PREFIX
#   Builds the release library first (cargo build -p profile-photo-ffi --release).
#   With PP_LIB_DIR=DIR set, installs the libraries already built in DIR instead (the test
#   command passes its dev build this way).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 1 ]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
mkdir -p "$1"
PREFIX=$(cd "$1" && pwd)

LIB_DIR="${PP_LIB_DIR:-}"
if [ -z "$LIB_DIR" ]; then
  cargo build --locked -p profile-photo-ffi --release
  LIB_DIR="target/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}release"
fi
for f in libprofile_photo.a libprofile_photo.so; do
  [ -f "$LIB_DIR/$f" ] || { echo "install-c: $LIB_DIR/$f is missing" >&2; exit 1; }
done

VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)
install -d "$PREFIX/include" "$PREFIX/lib/pkgconfig"
install -m 644 ffi-c/include/profile_photo.h "$PREFIX/include/profile_photo.h"
install -m 644 "$LIB_DIR/libprofile_photo.a" "$PREFIX/lib/libprofile_photo.a"
install -m 755 "$LIB_DIR/libprofile_photo.so" "$PREFIX/lib/libprofile_photo.so"
sed -e "s|@PREFIX@|$PREFIX|g" -e "s|@VERSION@|$VERSION|g" ffi-c/profile_photo.pc.in \
  > "$PREFIX/lib/pkgconfig/profile_photo.pc"
echo "installed profile_photo $VERSION under $PREFIX"
