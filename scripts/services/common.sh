# Shared helpers of scripts/services/*.sh (sourced, not run).

# Where built service binaries are kept between runs (outside the repository).
PP_CACHE_DIR="${PP_CACHE_DIR:-$HOME/.cache/profile-photo}"
PP_BIN_DIR="$PP_CACHE_DIR/bin"

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

# Stop the process whose pid is in file $1 (SIGTERM, then SIGKILL after 10 s); no-op when
# it is not running. Only this pid is signalled.
stop_pidfile() {
  local pidfile=$1 pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 25); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
  fi
  rm -f "$pidfile"
}

# `cargo install --locked NAME@VERSION [ARGS…]` into the cache, unless the cached binary
# BIN already reports VERSION. The build happens in a temporary target directory.
cargo_install_cached() {
  local bin=$1 name=$2 version=$3
  shift 3
  if [ -x "$PP_BIN_DIR/$bin" ] && "$PP_BIN_DIR/$bin" --version 2>/dev/null | grep -q "$version"; then
    return 0
  fi
  log "building $name $version (cached in $PP_BIN_DIR afterwards; several minutes the first time)"
  local tmp
  tmp=$(mktemp -d /tmp/pp-cargo-install.XXXXXX)
  local started=$SECONDS
  if ! env -u CARGO_BUILD_TARGET CARGO_TARGET_DIR="$tmp" cargo install --quiet --locked "$name@$version" \
      --root "$PP_CACHE_DIR" "$@"; then
    rm -rf "$tmp"
    die "cargo install $name@$version failed"
  fi
  rm -rf "$tmp"
  log "built $name in $((SECONDS - started)) s"
}
