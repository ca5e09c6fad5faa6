# Shared helpers of scripts/services/*.sh and the test scripts (sourced, not run).

# Where built service binaries are kept between runs (outside the repository).
AVATARIUM_CACHE_DIR="${AVATARIUM_CACHE_DIR:-$HOME/.cache/avatarium}"
AVATARIUM_BIN_DIR="$AVATARIUM_CACHE_DIR/bin"

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# N random bytes as lower-case hex.
random_hex() {
  od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'
}

# Wait until "$@" succeeds, at most $WAIT_SECS (default 30) seconds.
wait_for() {
  local deadline=$((SECONDS + ${WAIT_SECS:-30}))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.2
  done
}

# Whether process $1 runs (a zombie waiting to be reaped does not count).
pid_alive() {
  local state
  state=$(sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Stop the process whose pid is in file $1 with signal $2 (default TERM; KILL after 5 s);
# no-op when it is not running. Only this pid is signalled.
stop_pidfile() {
  local pidfile=$1 sig=${2:-TERM} pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && pid_alive "$pid"; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      pid_alive "$pid" || break
      sleep 0.1
    done
    if pid_alive "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 50); do
        pid_alive "$pid" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$pidfile"
}

# `cargo install --locked NAME@VERSION [ARGS…]` into the cache, unless the cached binary
# BIN already reports VERSION. The build happens in a temporary target directory.
cargo_install_cached() {
  local bin=$1 name=$2 version=$3
  shift 3
  if [ -x "$AVATARIUM_BIN_DIR/$bin" ]; then
    # cargo's own record of what it installed there, or the binary's --version.
    if grep -qF "\"$name $version " "$AVATARIUM_CACHE_DIR/.crates.toml" 2>/dev/null ||
      "$AVATARIUM_BIN_DIR/$bin" --version 2>/dev/null | grep -qF "$version"; then
      return 0
    fi
  fi
  log "building $name $version (cached in $AVATARIUM_BIN_DIR afterwards; several minutes the first time)"
  local tmp
  tmp=$(mktemp -d /tmp/pp-cargo-install.XXXXXX)
  local started=$SECONDS
  # Test tools, not shipped: opt-level 1 compiles in much less time than release's 3, and
  # what they do in the tests (small S3 objects, cargo-fuzz's CLI) does not need more.
  if ! env -u CARGO_BUILD_TARGET CARGO_TARGET_DIR="$tmp" CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
      cargo install --quiet --locked "$name@$version" \
      --root "$AVATARIUM_CACHE_DIR" "$@"; then
    rm -rf "$tmp"
    die "cargo install $name@$version failed"
  fi
  rm -rf "$tmp"
  log "built $name in $((SECONDS - started)) s"
}

# After scripts/test-all.sh's workspace build (it exports AVATARIUM_WORKSPACE_BUILT=1), a
# face's own cargo build (cargo -p, maturin, napi) must compile only its own crate. The core
# compiled again means some dependency's features differ between that face's graph and the
# workspace's: minutes of CI lost to a duplicate build, which workspace-hack/ prevents.
assert_core_reused() {
  local build_log=$1 face=$2
  [ "${AVATARIUM_WORKSPACE_BUILT:-}" = 1 ] || return 0
  [ -s "$build_log" ] || die "no $face build log at $build_log"
  if grep -qE '^ *Compiling avatarium v' "$build_log"; then
    die "the $face build compiled the core again: run 'cargo hakari generate && cargo hakari manage-deps' (cargo install cargo-hakari) and commit workspace-hack/"
  fi
}

# The examples' photo server ("MY_SERVER"): Python's http.server for examples/photos on a
# free loopback port. Sets PHOTO_SERVER_PID and PHOTO_URL (its astronaut.png); LOG gets
# its output. The caller stops it (kill "$PHOTO_SERVER_PID").
serve_example_photos() {
  local log=$1 port=""
  python3 -u -m http.server --bind 127.0.0.1 --directory examples/photos 0 >"$log" 2>&1 &
  PHOTO_SERVER_PID=$!
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$log" | head -1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || die "the photo server did not start: $(cat "$log")"
  PHOTO_URL="http://127.0.0.1:$port/astronaut.png"
}
