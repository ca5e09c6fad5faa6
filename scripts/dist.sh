#!/usr/bin/env bash
# Every shipped artifact into dist/ (release profile), for x86_64 Linux with glibc >= 2.28:
#   avatarium-V-cp310-abi3-manylinux_2_28_x86_64.whl and avatarium-V.tar.gz (sdist)  Python
#   avatarium-V.tgz, avatarium-linux-x64-gnu-V.tgz (npm pack)                         Node
#   avatarium-c-V-x86_64-linux-gnu.tar.gz (header, .so with SONAME, .a, .pc, install.sh) C
#   avatarium-cli-V-x86_64-linux-gnu.tar.gz (binary, completions, man page)             CLI
# and SHA256SUMS, auditwheel.txt (the wheel's policy report) and sizes.txt.
#
# zig links against glibc 2.28's symbol versions from this newer machine (cargo-zigbuild's
# wrappers); maturin and cargo build in that one environment, so the release core is
# compiled once for all four. Every shared object is checked against the floor.
#
# usage: scripts/dist.sh [OUT_DIR]   (default: dist/). Needs python3, npm, cargo; no network
# beyond the registries (PyPI for the pinned tools).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIST="${1:-$ROOT/dist}"
case "$DIST" in /*) ;; *) DIST="$ROOT/$DIST" ;; esac

TRIPLE=x86_64-unknown-linux-gnu
GLIBC_FLOOR=2.28
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)
MAJOR=${VERSION%%.*}
RELEASE="$ROOT/target/$TRIPLE/release"
export CARGO_TERM_COLOR=never CARGO_BUILD_TARGET=$TRIPLE

step() { printf '\n---- dist: %s ----\n' "$*"; }

step "tools (scripts/dist/requirements.txt) in target/dist-tools"
TOOLS="$ROOT/target/dist-tools"
if ! cmp -s scripts/dist/requirements.txt "$TOOLS/requirements.txt" 2>/dev/null; then
  rm -rf "$TOOLS"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q -r scripts/dist/requirements.txt
  cp scripts/dist/requirements.txt "$TOOLS/requirements.txt"
fi
export PATH="$TOOLS/bin:$PATH"

# Only a folder this script made (its marker inside) or a new one is emptied first.
if [ -e "$DIST" ] && [ ! -e "$DIST/.avatarium-dist" ] && [ -n "$(ls -A "$DIST")" ]; then
  echo "dist: $DIST holds other files; give an empty or new folder" >&2
  exit 2
fi
rm -rf "$DIST"
mkdir -p "$DIST"
touch "$DIST/.avatarium-dist"
STAGE="$ROOT/target/dist-stage"
rm -rf "$STAGE"
mkdir -p "$STAGE"

# The newest glibc symbol version a shared object or program needs must not pass the floor.
check_glibc_floor() {
  local newest
  newest=$(objdump -T "$1" | { grep -o 'GLIBC_[0-9.]*' || true; } | sed 's/GLIBC_//' | sort -uV | tail -1)
  if [ -n "$newest" ] && [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_FLOOR" | sort -V | tail -1)" != "$GLIBC_FLOOR" ]; then
    echo "dist: $1 needs GLIBC_$newest, above the floor $GLIBC_FLOOR" >&2
    exit 1
  fi
  echo "$(basename "$1"): newest glibc symbol ${newest:-none} (floor $GLIBC_FLOOR)"
}

# zig's wrappers, set up by cargo-zigbuild: it is given a "cargo" that prints the environment
# it prepared (CC_/CXX_/AR_/RANLIB_ of the target, its linker, …), and that environment is
# exported here, so maturin and cargo build in the same one and share one compiled core.
step "zig environment for $TRIPLE with glibc $GLIBC_FLOOR (cargo-zigbuild)"
CARGO="$ROOT/scripts/dist/print-env" cargo-zigbuild zigbuild --release \
  --target "$TRIPLE.$GLIBC_FLOOR" >"$STAGE/zig.env"
declare -A ZIG_ENV=()
while IFS= read -r -d '' var; do
  ZIG_ENV[${var%%=*}]=${var#*=}
done <"$STAGE/zig.env"
for name in "${!ZIG_ENV[@]}"; do
  case "$name" in CARGO | _ | SHLVL | PWD | OLDPWD) continue ;; esac
  [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
  if [ "${!name-__unset__}" != "${ZIG_ENV[$name]}" ]; then
    export "$name=${ZIG_ENV[$name]}"
    echo "$name"
  fi
done
[ -n "${CC_x86_64_unknown_linux_gnu:-}" ] || { echo "dist: cargo-zigbuild set no C compiler" >&2; exit 1; }

step "Python: abi3 wheel for manylinux_${GLIBC_FLOOR/./_} (maturin) and sdist"
# maturin checks the wheel's symbol versions against the tag it is asked for.
maturin build --release --locked --compatibility "manylinux_${GLIBC_FLOOR/./_}" \
  --target "$TRIPLE" -m py/Cargo.toml -o "$DIST"
maturin sdist -m py/Cargo.toml -o "$DIST"
WHEEL=$(ls "$DIST"/avatarium-"$VERSION"-*.whl)
# auditwheel reads the wheel's ELF files: the platform tags their symbol versions allow.
auditwheel show "$WHEEL" | tee "$DIST/auditwheel.txt"
tr -s ' \n' ' ' <"$DIST/auditwheel.txt" |
  grep -q "consistent with the following platform tag: \"manylinux_${GLIBC_FLOOR/./_}_x86_64\"" ||
  { echo "dist: auditwheel does not find the wheel consistent with manylinux_${GLIBC_FLOOR/./_}" >&2; exit 1; }
mkdir -p "$STAGE/wheel"
python3 -m zipfile -e "$WHEEL" "$STAGE/wheel"
check_glibc_floor "$STAGE/wheel/avatarium/_native.abi3.so"

step "C library, CLI and Node addon (cargo, the same environment)"
cargo build --release --locked --target "$TRIPLE" -p avatarium-ffi -p avatarium-cli -p avatarium-node
for f in libavatarium.so libavatarium_node.so avatarium; do
  check_glibc_floor "$RELEASE/$f"
done

step "Node: the platform package and the main package (npm pack)"
NODE_FILE=avatarium.linux-x64-gnu.node
PLATFORM="$STAGE/npm/avatarium-linux-x64-gnu"
mkdir -p "$PLATFORM"
sed "s|@VERSION@|$VERSION|" scripts/dist/platform-package.json >"$PLATFORM/package.json"
strip --strip-unneeded -o "$PLATFORM/$NODE_FILE" "$RELEASE/libavatarium_node.so"
printf '# avatarium-linux-x64-gnu\n\nThe native addon of [avatarium](https://www.npmjs.com/package/avatarium) for Linux x64\n(glibc >= %s). Install `avatarium`, not this package: npm picks it as an optional\ndependency on matching machines.\n' "$GLIBC_FLOOR" >"$PLATFORM/README.md"
MAIN="$STAGE/npm/avatarium"
mkdir -p "$MAIN"
cp node/package.json node/README.md node/index.js node/index.mjs node/index.d.ts \
  node/native.js node/native.d.ts "$MAIN/"
# The main package carries no binary: it names the platform package, which npm installs
# only where os/cpu/libc match. No scripts or devDependencies are shipped.
(cd "$MAIN" && npm pkg set "optionalDependencies.avatarium-linux-x64-gnu=$VERSION" \
  && npm pkg delete devDependencies scripts)
(cd "$PLATFORM" && npm pack --silent --pack-destination "$DIST" >/dev/null)
(cd "$MAIN" && npm pack --silent --pack-destination "$DIST" >/dev/null)

step "C: header, shared library (SONAME libavatarium.so.$MAJOR), static library, pkg-config"
C_NAME="avatarium-c-$VERSION-x86_64-linux-gnu"
C_DIR="$STAGE/$C_NAME"
AVATARIUM_LIB_DIR="$RELEASE" bash scripts/install-c.sh "$C_DIR" >/dev/null
cp scripts/install-c.sh "$C_DIR/install.sh"
cp ffi-c/README.md "$C_DIR/README.md"
strip --strip-unneeded "$C_DIR/lib/libavatarium.so.$VERSION"
strip --strip-debug "$C_DIR/lib/libavatarium.a" # the standard library's debug info
check_glibc_floor "$C_DIR/lib/libavatarium.so.$VERSION"
tar -C "$STAGE" -czf "$DIST/$C_NAME.tar.gz" "$C_NAME"

step "CLI: binary, shell completions, man page"
CLI_NAME="avatarium-cli-$VERSION-x86_64-linux-gnu"
CLI_DIR="$STAGE/$CLI_NAME"
mkdir -p "$CLI_DIR/bin" "$CLI_DIR/share/man/man1" "$CLI_DIR/share/bash-completion/completions" \
  "$CLI_DIR/share/zsh/site-functions" "$CLI_DIR/share/fish/vendor_completions.d"
strip -o "$CLI_DIR/bin/avatarium" "$RELEASE/avatarium"
"$CLI_DIR/bin/avatarium" generate man "$CLI_DIR/share/man/man1"
"$CLI_DIR/bin/avatarium" generate bash >"$CLI_DIR/share/bash-completion/completions/avatarium"
"$CLI_DIR/bin/avatarium" generate zsh >"$CLI_DIR/share/zsh/site-functions/_avatarium"
"$CLI_DIR/bin/avatarium" generate fish >"$CLI_DIR/share/fish/vendor_completions.d/avatarium.fish"
cp README.md "$CLI_DIR/README.md"
tar -C "$STAGE" -czf "$DIST/$CLI_NAME.tar.gz" "$CLI_NAME"

step "checksums and sizes"
(cd "$DIST" && sha256sum -- *.whl *.tar.gz *.tgz >SHA256SUMS)
{
  for f in "$DIST"/*.whl "$DIST"/*.tar.gz "$DIST"/*.tgz; do
    printf '%10d  %s\n' "$(stat -c %s "$f")" "$(basename "$f")"
  done
  printf '%10d  %s (unpacked addon)\n' "$(stat -c %s "$PLATFORM/$NODE_FILE")" "$NODE_FILE"
} | tee "$DIST/sizes.txt"
echo "dist: artifacts of avatarium $VERSION in $DIST"
