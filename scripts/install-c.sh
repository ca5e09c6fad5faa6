#!/usr/bin/env bash
# Install (or uninstall) the C library of avatarium:
#   $DESTDIR$PREFIX/include/avatarium.h
#   $DESTDIR$PREFIX/lib/libavatarium.so.X.Y.Z (SONAME libavatarium.so.X), the links
#     libavatarium.so.X and libavatarium.so, and libavatarium.a
#   $DESTDIR$PREFIX/lib/pkgconfig/avatarium.pc (relocatable: its prefix is found from where
#     the file is, so a DESTDIR staging tree or a moved tarball works as well)
# after which `cc app.c $(pkg-config --cflags --libs avatarium)` builds a program
# (with PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig when PREFIX is not a system prefix).
#
# usage: scripts/install-c.sh [--uninstall] [PREFIX]
#   PREFIX defaults to $PREFIX, else /usr/local; DESTDIR (staging root) is honoured.
#   Installing builds the release library first (cargo build -p avatarium-ffi --release);
#   with AVATARIUM_LIB_DIR=DIR set, installs the libraries already built in DIR instead
#   (the test command passes its dev build this way).
set -euo pipefail
cd "$(dirname "$0")/.."

ACTION=install
if [ "${1:-}" = "--uninstall" ]; then
  ACTION=uninstall
  shift
fi
if [ $# -gt 1 ]; then
  echo "usage: $0 [--uninstall] [PREFIX]" >&2
  exit 2
fi
PREFIX="${1:-${PREFIX:-/usr/local}}"
case "$PREFIX" in
  /*) ;;
  *) PREFIX="$PWD/$PREFIX" ;;
esac
ROOT="${DESTDIR:-}$PREFIX"

VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)
MAJOR=${VERSION%%.*}
SO="libavatarium.so.$VERSION"
FILES=(include/avatarium.h lib/libavatarium.a lib/"$SO" lib/libavatarium.so."$MAJOR"
  lib/libavatarium.so lib/pkgconfig/avatarium.pc)

if [ "$ACTION" = uninstall ]; then
  for f in "${FILES[@]}"; do rm -f "$ROOT/$f"; done
  # Folders we may have made, only when now empty.
  rmdir "$ROOT/lib/pkgconfig" "$ROOT/include" "$ROOT/lib" 2>/dev/null || true
  echo "uninstalled avatarium $VERSION from $ROOT"
  exit 0
fi

LIB_DIR="${AVATARIUM_LIB_DIR:-}"
if [ -z "$LIB_DIR" ]; then
  cargo build --locked -p avatarium-ffi --release
  LIB_DIR="target/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}release"
fi
for f in libavatarium.a libavatarium.so; do
  [ -f "$LIB_DIR/$f" ] || { echo "install-c: $LIB_DIR/$f is missing" >&2; exit 1; }
done

install -d "$ROOT/include" "$ROOT/lib/pkgconfig"
install -m 644 ffi-c/include/avatarium.h "$ROOT/include/avatarium.h"
install -m 644 "$LIB_DIR/libavatarium.a" "$ROOT/lib/libavatarium.a"
install -m 755 "$LIB_DIR/libavatarium.so" "$ROOT/lib/$SO"
ln -sfn "$SO" "$ROOT/lib/libavatarium.so.$MAJOR"
ln -sfn "libavatarium.so.$MAJOR" "$ROOT/lib/libavatarium.so"
sed -e "s|@VERSION@|$VERSION|g" ffi-c/avatarium.pc.in >"$ROOT/lib/pkgconfig/avatarium.pc"
echo "installed avatarium $VERSION under $ROOT"
