#!/usr/bin/env bash
# The C ABI (ffi-c/): build libavatarium (dev profile), check the committed header,
# install it with scripts/install-c.sh into a scratch prefix, compile the C tests and the C
# example (as C and as C++) with -Wall -Wextra -Werror against the static library, and run
# them all under valgrind (no definite/indirect leak, no invalid access). Also builds the
# example the documented way, `cc $(pkg-config --cflags --libs avatarium) app.c`.
#
# Called by scripts/test-all.sh (which exports CARGO_BUILD_TARGET and AVATARIUM_TARGET_DIR); works
# on its own too. Installs gcc, g++, valgrind, pkg-config and libcjson-dev when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=services/common.sh
. scripts/services/common.sh

export CARGO_TERM_COLOR=never
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
AVATARIUM_TARGET_DIR="${AVATARIUM_TARGET_DIR:-$ROOT/target/$CARGO_BUILD_TARGET/debug}"
OUT="$ROOT/target/c-tests"
PREFIX="$OUT/prefix"

step() { printf '\n---- c: %s ----\n' "$*"; }

# ---- tools ----
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
[ -f /usr/include/cjson/cJSON.h ] || missing+=(libcjson-dev)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---- library and header ----
step "build libavatarium (dev) and check the header"
mkdir -p "$ROOT/target"
BUILD_LOG="$ROOT/target/c-build.log"
{ cargo build --locked -p avatarium-ffi && cargo test --locked -p avatarium-ffi; } 2>&1 | tee "$BUILD_LOG"
assert_core_reused "$BUILD_LOG" C

step "install into $PREFIX"
rm -rf "$OUT"
mkdir -p "$OUT"
AVATARIUM_LIB_DIR="$AVATARIUM_TARGET_DIR" bash scripts/install-c.sh "$PREFIX"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

step "the installed shared library: SONAME, links, DESTDIR and uninstall"
VERSION=$(pkg-config --modversion avatarium)
soname=$(readelf -d "$PREFIX/lib/libavatarium.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libavatarium.so.${VERSION%%.*}" ] || { echo "SONAME is '$soname'" >&2; exit 1; }
[ "$(readlink "$PREFIX/lib/libavatarium.so")" = "libavatarium.so.${VERSION%%.*}" ]
[ "$(readlink "$PREFIX/lib/libavatarium.so.${VERSION%%.*}")" = "libavatarium.so.$VERSION" ]
# A staged install (what distribution packaging does) holds everything under DESTDIR and
# nothing outside it; its relocatable .pc finds its own headers; uninstall removes it all.
STAGE="$OUT/stage"
DESTDIR="$STAGE" AVATARIUM_LIB_DIR="$AVATARIUM_TARGET_DIR" bash scripts/install-c.sh /opt/avatarium >/dev/null
[ ! -e /opt/avatarium ] || { echo "install-c wrote outside DESTDIR" >&2; exit 1; }
read -r staged_cflags < <(PKG_CONFIG_PATH="$STAGE/opt/avatarium/lib/pkgconfig" pkg-config --cflags avatarium)
[ -f "${staged_cflags#-I}/avatarium.h" ] || { echo "staged .pc points at '$staged_cflags'" >&2; exit 1; }
DESTDIR="$STAGE" bash scripts/install-c.sh --uninstall /opt/avatarium >/dev/null
left=$(find "$STAGE" -mindepth 1 -not -type d)
[ -z "$left" ] || { echo "uninstall left: $left" >&2; exit 1; }
echo "SONAME $soname; links, DESTDIR install and uninstall ok"

# ---- compile ----
step "compile the C tests and the example"
CFLAGS=(-std=c11 -g -O1 -Wall -Wextra -Werror)
read -r -a AVATARIUM_CFLAGS <<<"$(pkg-config --cflags avatarium)"
read -r -a STATIC_LIBS <<<"$PREFIX/lib/libavatarium.a $(pkg-config --variable=native_static_libs avatarium)"
read -r -a CJSON <<<"$(pkg-config --cflags --libs libcjson 2>/dev/null || echo -lcjson)"
tests=()
for src in ffi-c/tests/*.c; do
  name=$(basename "$src" .c)
  cc "${CFLAGS[@]}" "${AVATARIUM_CFLAGS[@]}" "$src" -o "$OUT/$name" "${CJSON[@]}" "${STATIC_LIBS[@]}"
  tests+=("$name")
done
EXAMPLE=examples/c/import_then_publish.c
cc "${CFLAGS[@]}" "${AVATARIUM_CFLAGS[@]}" "$EXAMPLE" -o "$OUT/example_c" "${STATIC_LIBS[@]}"
g++ -std=c++17 -g -O1 -Wall -Wextra -Werror "${AVATARIUM_CFLAGS[@]}" -x c++ "$EXAMPLE" -x none \
  -o "$OUT/example_cxx" "${STATIC_LIBS[@]}"
# The documented link line, against the shared library.
# shellcheck disable=SC2046
cc $(pkg-config --cflags --libs avatarium) "$EXAMPLE" -o "$OUT/example_shared"
echo "built: ${tests[*]} example_c example_cxx example_shared"

# ---- run ----
PHOTO_SERVER_PID=""
cleanup() {
  if [ -n "$PHOTO_SERVER_PID" ]; then
    kill "$PHOTO_SERVER_PID" 2>/dev/null || true
    wait "$PHOTO_SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

serve_example_photos "$OUT/photo-server.log"

VALGRIND=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1
  --show-leak-kinds=definite,indirect)

step "run under valgrind: ${tests[*]} example_c example_cxx"
# The tests at once (they mostly wait on timeouts and servers), then the examples, which
# use the default decode deadline (10 s), one at a time. Each run writes its own logs.
pids=()
names=()
run_bg() {
  local name=$1
  shift
  "${VALGRIND[@]}" --log-file="$OUT/$name.valgrind" "$@" >"$OUT/$name.out" 2>&1 &
  pids+=($!)
  names+=("$name")
}
for t in "${tests[@]}"; do
  run_bg "$t" "$OUT/$t" "$ROOT"
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" && echo 0 >"$OUT/${names[$i]}.status" || echo $? >"$OUT/${names[$i]}.status"
done
for ex in example_c example_cxx; do
  mkdir -p "$OUT/data-$ex"
  run_bg "$ex" "$OUT/$ex" "$PHOTO_URL" "$OUT/data-$ex"
  wait "${pids[-1]}" && echo 0 >"$OUT/$ex.status" || echo $? >"$OUT/$ex.status"
done

failed=0
for i in "${!pids[@]}"; do
  name=${names[$i]}
  status=$(cat "$OUT/$name.status")
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT/$name.out" || true)
  leaks=$(grep -E 'definitely lost|indirectly lost|ERROR SUMMARY' "$OUT/$name.valgrind" | sed 's/^==[0-9]*== *//' | tr '\n' ' ')
  [ -n "$leaks" ] || leaks=$(grep -E 'no leaks are possible|ERROR SUMMARY' "$OUT/$name.valgrind" | sed 's/^==[0-9]*== *//' | tr '\n' ' ')
  case "$name" in
  example_*) shown=$(grep -c -E '^(Photo imported|Published|Account):' "$OUT/$name.out" || true)
    [ "$shown" = 3 ] || status=1
    summary="example printed $shown of 3 results" ;;
  *) [ -n "$summary" ] || status=1 ;;
  esac
  if [ "$status" -eq 0 ]; then
    echo "ok    $name: $summary | valgrind: $leaks"
  else
    failed=1
    echo "FAIL  $name (exit $status): $summary | valgrind: $leaks"
    echo "  --- output ---"
    tail -n 40 "$OUT/$name.out" | sed 's/^/  /'
    echo "  --- valgrind ---"
    tail -n 40 "$OUT/$name.valgrind" | sed 's/^/  /'
  fi
done
grep -h -E '^(conformance:|Photo imported|Published)' "$OUT"/test_conformance.out "$OUT"/example_c.out | cut -c1-160

step "example built with pkg-config (shared library)"
mkdir -p "$OUT/data-shared"
if "$OUT/example_shared" "$PHOTO_URL" "$OUT/data-shared" >"$OUT/example_shared.out" 2>&1 &&
  [ "$(grep -c -E '^(Photo imported|Published|Account):' "$OUT/example_shared.out")" = 3 ]; then
  echo "ok    example_shared ($(ldd "$OUT/example_shared" | awk '/libavatarium/ {print $3}'))"
else
  failed=1
  echo "FAIL  example_shared"
  cat "$OUT/example_shared.out"
fi

if [ "$failed" -ne 0 ]; then
  echo "C suite FAILED"
  exit 1
fi
echo "C suite passed"
