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
#   In the repository, installing builds the release library first (cargo build -p
#   avatarium-ffi --release); with AVATARIUM_LIB_DIR=DIR set, installs the libraries already
#   built in DIR instead (the test command passes its dev build this way).
#   The C package of scripts/dist.sh carries this script as its install.sh: there it
#   installs the package's own files, beside it, and needs no Rust toolchain.
set -euo pipefail
CALLER_DIR=$PWD
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -f "$HERE/include/avatarium.h" ] && [ -f "$HERE/lib/pkgconfig/avatarium.pc" ]; then
  PACKAGE=$HERE
else
  PACKAGE=""
  cd "$HERE/.."
fi

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
  *) PREFIX="$CALLER_DIR/$PREFIX" ;;
esac
DESTDIR="${DESTDIR:-}"
case "$DESTDIR" in
  "" | /*) ;;
  *) DESTDIR="$CALLER_DIR/$DESTDIR" ;;
esac
ROOT="$DESTDIR$PREFIX"

if [ "$ACTION" = uninstall ] && [ -f "$ROOT/lib/pkgconfig/avatarium.pc" ]; then
  # What is installed there, which may be an older release than this script's.
  VERSION=$(sed -n 's/^Version: //p' "$ROOT/lib/pkgconfig/avatarium.pc")
elif [ -n "$PACKAGE" ]; then
  VERSION=$(sed -n 's/^Version: //p' "$PACKAGE/lib/pkgconfig/avatarium.pc")
else
  VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)
fi
MAJOR=${VERSION%%.*}
SO="libavatarium.so.$VERSION"
FILES=(include/avatarium.h lib/libavatarium.a lib/"$SO" lib/libavatarium.so."$MAJOR"
  lib/libavatarium.so lib/pkgconfig/avatarium.pc)

if [ "$ACTION" = uninstall ]; then
  # Files only: folders such as PREFIX/include may be shared, and were perhaps not ours.
  for f in "${FILES[@]}"; do rm -f "$ROOT/$f"; done
  echo "uninstalled avatarium $VERSION from $ROOT"
  exit 0
fi

if [ -n "$PACKAGE" ]; then
  HEADER="$PACKAGE/include/avatarium.h" LIB_DIR="$PACKAGE/lib" SO_FILE="$PACKAGE/lib/$SO"
else
  HEADER=ffi-c/include/avatarium.h
  LIB_DIR="${AVATARIUM_LIB_DIR:-}"
  if [ -z "$LIB_DIR" ]; then
    cargo build --locked -p avatarium-ffi --release
    LIB_DIR="target/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}release"
  fi
  SO_FILE="$LIB_DIR/libavatarium.so"
fi
for f in "$LIB_DIR/libavatarium.a" "$SO_FILE"; do
  [ -f "$f" ] || { echo "install-c: $f is missing" >&2; exit 1; }
done

install -d "$ROOT/include" "$ROOT/lib/pkgconfig"
install -m 644 "$HEADER" "$ROOT/include/avatarium.h"
install -m 644 "$LIB_DIR/libavatarium.a" "$ROOT/lib/libavatarium.a"
install -m 755 "$SO_FILE" "$ROOT/lib/$SO"
ln -sfn "$SO" "$ROOT/lib/libavatarium.so.$MAJOR"
ln -sfn "libavatarium.so.$MAJOR" "$ROOT/lib/libavatarium.so"
if [ -n "$PACKAGE" ]; then
  install -m 644 "$PACKAGE/lib/pkgconfig/avatarium.pc" "$ROOT/lib/pkgconfig/avatarium.pc"
else
  sed -e "s|@VERSION@|$VERSION|g" ffi-c/avatarium.pc.in >"$ROOT/lib/pkgconfig/avatarium.pc"
fi
echo "installed avatarium $VERSION under $ROOT"
