#!/usr/bin/env bash
# The shipped artifacts, installed as a user would, each in a clean place with no cargo or
# rustc on PATH, then used: the wheel in a fresh venv runs the Python example; the two npm
# tarballs in a fresh project run the Node example as CommonJS and as ESM (and, without the
# platform package, fail with an error naming it); the C package installed under DESTDIR
# builds the C example with pkg-config and runs it, then uninstalls to nothing; the CLI
# tarball's binary answers --version and imports a photo. Each install's wall time goes to
# dist/install-times.txt.
#
# Builds the artifacts first (scripts/dist.sh) unless AVATARIUM_DIST_BUILT=1 says dist/ is
# current. Called by scripts/test-all.sh; runs on its own too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=services/common.sh
. scripts/services/common.sh
DIST="$ROOT/dist"
OUT="$ROOT/target/dist-smoke"

step() { printf '\n---- dist: %s ----\n' "$*"; }

if [ "${AVATARIUM_DIST_BUILT:-}" != 1 ]; then
  bash scripts/dist.sh "$DIST"
fi
VERSION=$(sed -n '/^\[workspace.package\]/,/^\[/ s/^version = "\(.*\)"/\1/p' Cargo.toml)

# A PATH with the interpreters and the C toolchain but no Rust: an install that needed to
# compile would fail here, not quietly build from source.
PYTHON_BIN=$(dirname "$(python3 -c 'import sys; print(sys.executable)')")
CLEAN_PATH="$PYTHON_BIN:$(dirname "$(command -v node)"):/usr/local/bin:/usr/bin:/bin"
clean() {
  env -i HOME="$OUT/home" PATH="$CLEAN_PATH" LANG=C.UTF-8 NPM_CONFIG_UPDATE_NOTIFIER=false "$@"
}
clean bash -c '! command -v cargo && ! command -v rustc' >/dev/null \
  || { echo "dist smoke: cargo or rustc is on the clean PATH" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT/home"
TIMES="$DIST/install-times.txt"
: >"$TIMES"
timed() {
  local what=$1 start end
  shift
  start=$(date +%s%N)
  "$@"
  end=$(date +%s%N)
  printf '%6.2f s  %s\n' "$(((end - start) / 1000000))e-3" "$what" | tee -a "$TIMES"
}

# The examples' photo server (the C example and the CLI fetch from it).
serve_example_photos "$OUT/photo-server.log"
trap 'kill $PHOTO_SERVER_PID 2>/dev/null || true' EXIT
PORT=${PHOTO_URL#http://127.0.0.1:}
PORT=${PORT%%/*}

step "Python: pip install the wheel into a fresh venv, run the example"
clean python3 -m venv "$OUT/venv"
# --no-index: the wheel has no dependencies, and must not need a build from an sdist.
timed "pip install avatarium wheel" clean "$OUT/venv/bin/pip" install -q --no-index \
  "$DIST"/avatarium-"$VERSION"-*.whl
clean "$OUT/venv/bin/python" examples/python/import_then_publish.py
# The installed package answered, not the source tree.
clean "$OUT/venv/bin/python" -c '
import avatarium, sys
assert avatarium.__version__ == sys.argv[1], avatarium.__version__
assert avatarium.__file__.startswith(sys.argv[2]), avatarium.__file__
' "$VERSION" "$OUT/venv/"

# The sdist (for platforms without a wheel) must hold every crate it builds: its workspace
# resolves from the files it carries (cargo's own check, no compile).
SDIST="$OUT/sdist"
mkdir -p "$SDIST"
tar -C "$SDIST" -xzf "$DIST/avatarium-$VERSION.tar.gz"
cargo metadata --format-version 1 --offline --no-deps \
  --manifest-path "$SDIST/avatarium-$VERSION/py/Cargo.toml" >/dev/null
echo "sdist: its workspace resolves"

step "Node: npm install the two tarballs into a fresh project, run CommonJS and ESM"
NODE_PROJECT="$OUT/node-project"
mkdir -p "$NODE_PROJECT"
cp examples/node/import-photo.js examples/node/import-photo.mjs examples/node/photo-server.js "$NODE_PROJECT/"
mkdir -p "$OUT/photos" && cp examples/photos/astronaut.png "$OUT/photos/"
(cd "$NODE_PROJECT" && clean npm init -y >/dev/null)
timed "npm install avatarium + avatarium-linux-x64-gnu" \
  clean npm install --prefix "$NODE_PROJECT" --offline --no-audit --no-fund \
  "$DIST/avatarium-linux-x64-gnu-$VERSION.tgz" "$DIST/avatarium-$VERSION.tgz"
[ ! -e "$NODE_PROJECT/node_modules/avatarium/avatarium.linux-x64-gnu.node" ] \
  || { echo "the main npm package carries the addon" >&2; exit 1; }
# The main package names the platform package at its own version, and npm sees the tree
# as complete (npm ls fails on a missing or mismatched dependency).
(cd "$NODE_PROJECT" && clean node -e '
const p = require("avatarium/package.json"), want = { "avatarium-linux-x64-gnu": p.version }
if (JSON.stringify(p.optionalDependencies) !== JSON.stringify(want)) throw new Error(JSON.stringify(p))
if (require.resolve("avatarium").indexOf(process.cwd() + "/node_modules/") !== 0) throw new Error("not the installed copy")
' && clean npm ls --all >/dev/null)
(cd "$NODE_PROJECT" && clean node import-photo.js && clean node import-photo.mjs)
# Without the platform package (--omit=optional) the error names it.
BARE="$OUT/node-bare"
mkdir -p "$BARE"
(cd "$BARE" && clean npm init -y >/dev/null)
clean npm install --prefix "$BARE" --offline --omit=optional --no-audit --no-fund \
  "$DIST/avatarium-$VERSION.tgz" >/dev/null
if message=$(cd "$BARE" && clean node -e "require('avatarium')" 2>&1); then
  echo "avatarium loaded without its platform package" >&2
  exit 1
fi
grep -q "avatarium-linux-x64-gnu is missing" <<<"$message" \
  || { echo "unclear error without the platform package: $message" >&2; exit 1; }
echo "without the platform package: $(grep -m1 'avatarium-linux-x64-gnu' <<<"$message")"

step "C: install the package under DESTDIR, build the example with pkg-config, run, uninstall"
C_PKG="$OUT/c"
mkdir -p "$C_PKG"
tar -C "$C_PKG" -xzf "$DIST/avatarium-c-$VERSION-x86_64-linux-gnu.tar.gz"
STAGE="$OUT/c-stage"
timed "C package install.sh (DESTDIR)" \
  clean DESTDIR="$STAGE" bash "$C_PKG/avatarium-c-$VERSION-x86_64-linux-gnu/install.sh" /opt/avatarium-smoke
[ ! -e /opt/avatarium-smoke ] || { echo "install.sh wrote outside DESTDIR" >&2; exit 1; }
PC="$STAGE/opt/avatarium-smoke/lib/pkgconfig"
# shellcheck disable=SC2046
clean cc -std=c11 -Wall -Wextra -Werror examples/c/import_then_publish.c -o "$OUT/example_c" \
  $(PKG_CONFIG_PATH="$PC" pkg-config --cflags --libs avatarium)
[ "$(PKG_CONFIG_PATH="$PC" pkg-config --modversion avatarium)" = "$VERSION" ]
mkdir -p "$OUT/c-data" "$OUT/c-data-static"
clean "$OUT/example_c" "$PHOTO_URL" "$OUT/c-data"
# And linked statically, with the libraries the .pc names for that.
read -r -a static_libs <<<"$(PKG_CONFIG_PATH="$PC" pkg-config --variable=native_static_libs avatarium)"
# shellcheck disable=SC2046
clean cc -std=c11 -Wall -Wextra -Werror $(PKG_CONFIG_PATH="$PC" pkg-config --cflags avatarium) \
  examples/c/import_then_publish.c -o "$OUT/example_c_static" \
  "$STAGE/opt/avatarium-smoke/lib/libavatarium.a" "${static_libs[@]}"
clean "$OUT/example_c_static" "$PHOTO_URL" "$OUT/c-data-static" >/dev/null
clean DESTDIR="$STAGE" bash "$C_PKG/avatarium-c-$VERSION-x86_64-linux-gnu/install.sh" --uninstall /opt/avatarium-smoke
left=$(find "$STAGE" -mindepth 1 -not -type d)
[ -z "$left" ] || { echo "uninstall left: $left" >&2; exit 1; }

step "CLI: the tarball's binary, completions and man page"
CLI_PKG="$OUT/cli"
mkdir -p "$CLI_PKG"
timed "CLI tarball unpack" tar -C "$CLI_PKG" -xzf "$DIST/avatarium-cli-$VERSION-x86_64-linux-gnu.tar.gz"
CLI_DIR="$CLI_PKG/avatarium-cli-$VERSION-x86_64-linux-gnu"
[ "$(clean "$CLI_DIR/bin/avatarium" --version)" = "avatarium $VERSION" ]
grep -q '^\.TH avatarium 1' "$CLI_DIR/share/man/man1/avatarium.1"
grep -q '^\.TH avatarium-import-batch 1' "$CLI_DIR/share/man/man1/avatarium-import-batch.1"
grep -q 'import-batch' "$CLI_DIR/share/bash-completion/completions/avatarium"
grep -q '#compdef avatarium' "$CLI_DIR/share/zsh/site-functions/_avatarium"
grep -q 'complete -c avatarium' "$CLI_DIR/share/fish/vendor_completions.d/avatarium.fish"
clean bash -c "source '$CLI_DIR/share/bash-completion/completions/avatarium' && complete -p avatarium" >/dev/null
clean AVATARIUM_ALLOW_ADDRESSES=127.0.0.1 AVATARIUM_FETCH_ALLOWED_PORTS="$PORT" \
  "$CLI_DIR/bin/avatarium" --data-dir "$OUT/cli-data" import "$PHOTO_URL" --uid cli-user --publish \
  | grep -q '"errorCode": *0'

echo
cat "$TIMES"
echo "dist: all artifacts installed and ran"
