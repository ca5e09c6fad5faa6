#!/usr/bin/env bash
# PostgreSQL for the scale-out tests: a private cluster on 127.0.0.1, owned by the
# `postgres` user, in a folder of its own (no systemd, nothing shared with a system cluster).
#
#   postgres.sh install            apt-get install postgresql when initdb is missing
#   postgres.sh start DIR          initdb DIR (first time), start on a free port (the same
#                                  port again on a restart); prints the connection URL
#   postgres.sh stop DIR [MODE]    stop it (pg_ctl mode: fast, the default, or immediate,
#                                  which is a crash); the data stays, `start DIR` resumes
#   postgres.sh url DIR            the connection URL
#   postgres.sh destroy DIR        stop and remove DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] && echo "$bin"
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@" # already an unprivileged user that owns DIR
  fi
}

cmd_install() {
  if ! pg_bin >/dev/null; then
    log "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql >/dev/null
    pg_bin >/dev/null || die "postgresql installed but no initdb found"
  fi
}

url_of() {
  echo "postgres://postgres@127.0.0.1:$(cat "$1/port")/postgres"
}

cmd_start() {
  local dir=$1 bin port
  bin=$(pg_bin) || die "PostgreSQL is not installed (postgres.sh install)"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$dir"
  fi
  as_postgres test -w "$dir" || die "$dir is not writable by the postgres user (its parent folders must be world-executable)"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  [ -f "$dir/port" ] || free_port >"$dir/port"
  port=$(cat "$dir/port")
  # fsync off and no synchronous commit: a throw-away test cluster.
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
    start >/dev/null || { tail -20 "$dir/log" >&2; die "PostgreSQL did not start"; }
  url_of "$dir"
}

cmd_stop() {
  local dir=$1 mode=${2:-fast} bin
  bin=$(pg_bin) || return 0
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_postgres "$bin/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
}

cmd_destroy() {
  local dir=$1
  [ -d "$dir" ] || return 0
  cmd_stop "$dir" immediate
  rm -rf "$dir"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start "${2:?DIR}" ;;
  stop) cmd_stop "${2:?DIR}" "${3:-fast}" ;;
  url) url_of "${2:?DIR}" ;;
  destroy) cmd_destroy "${2:?DIR}" ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
esac
