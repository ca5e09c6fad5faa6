#!/usr/bin/env bash
# Garage (an S3-compatible distributed object store that checks SigV4 signatures) for the
# scale-out tests: a cluster of N nodes on 127.0.0.1, each with its own folders and ports,
# replication factor N (N = 3 by default: every object on every node, quorum 2).
#
#   garage.sh install               build garage 2.5.0 once into ~/.cache/avatarium/bin
#   garage.sh start DIR [N]         start N nodes, lay out the cluster, create a bucket and
#                                   a key; writes DIR/env (export lines: AWS_ACCESS_KEY_ID,
#                                   AWS_SECRET_ACCESS_KEY, AVATARIUM_TEST_BLOB_STORE = node 1,
#                                   AVATARIUM_TEST_BLOB_STORES = every node)
#   garage.sh stop-node DIR I       stop node I (1-based); its data stays
#   garage.sh start-node DIR I      start node I again and wait until it serves
#   garage.sh destroy DIR           stop every node and remove DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

GARAGE_VERSION=2.5.0
GARAGE="$AVATARIUM_BIN_DIR/garage"
BUCKET=pp-test
REGION=us-east-1

cmd_install() {
  # Only the SQLite metadata engine: no LMDB, K2V or metrics to compile; opt-level 1 takes
  # 40 % less CPU time to build than 3 and is plenty for a test cluster.
  (
    export CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_DEBUG=false
    cargo_install_cached garage garage "$GARAGE_VERSION" --no-default-features --features bundled-libs,sqlite
  )
}

g() { # g NODE_DIR ARGS…: the CLI against one node
  local nd=$1
  shift
  "$GARAGE" -c "$nd/garage.toml" "$@"
}

node_ready() { # the node answers its admin API's health check with 200 (it can serve requests)
  local port
  port=$(cat "$1/admin_port")
  (
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 5 status <&3 || exit 1
    [[ $status == "HTTP/1."*" 200"* ]]
  ) 2>/dev/null
}

run_node() {
  local nd=$1
  # setsid: the daemon does not get the terminal's signals; we stop it by its pid only.
  setsid "$GARAGE" -c "$nd/garage.toml" server >>"$nd/log" 2>&1 </dev/null &
  echo $! >"$nd/pid"
}

cmd_start() {
  local dir=$1 n=${2:-3} secret i nd
  [ -x "$GARAGE" ] || cmd_install
  mkdir -p "$dir"
  secret=$(random_hex 32)
  for i in $(seq "$n"); do
    nd="$dir/node$i"
    mkdir -p "$nd/meta" "$nd/data"
    free_port >"$nd/rpc_port"
    free_port >"$nd/s3_port"
    free_port >"$nd/admin_port"
    cat >"$nd/garage.toml" <<EOF
metadata_dir = "$nd/meta"
data_dir = "$nd/data"
db_engine = "sqlite"
metadata_fsync = false
data_fsync = false
replication_factor = $n
consistency_mode = "consistent"
rpc_bind_addr = "127.0.0.1:$(cat "$nd/rpc_port")"
rpc_public_addr = "127.0.0.1:$(cat "$nd/rpc_port")"
rpc_secret = "$secret"

[s3_api]
s3_region = "$REGION"
api_bind_addr = "127.0.0.1:$(cat "$nd/s3_port")"
root_domain = ".s3.localhost"

[admin]
api_bind_addr = "127.0.0.1:$(cat "$nd/admin_port")"
EOF
    chmod 600 "$nd/garage.toml"
    run_node "$nd"
  done
  for i in $(seq "$n"); do
    WAIT_SECS=30 wait_for g "$dir/node$i" status || { tail -20 "$dir/node$i/log" >&2; die "garage node $i did not start"; }
  done
  # Connect the nodes to node 1 and give each a role.
  local ids=() id
  for i in $(seq "$n"); do
    id=$(g "$dir/node$i" node id -q 2>/dev/null)
    ids+=("$id")
    if [ "$i" -gt 1 ]; then
      g "$dir/node1" node connect "$id" >/dev/null
    fi
  done
  for i in $(seq "$n"); do
    g "$dir/node1" layout assign -z "dc$i" -c 1G "${ids[$((i - 1))]%%@*}" >/dev/null
  done
  g "$dir/node1" layout apply --version 1 >/dev/null
  for i in $(seq "$n"); do
    WAIT_SECS=60 wait_for node_ready "$dir/node$i" || { tail -20 "$dir/node$i/log" >&2; die "garage node $i is not healthy"; }
  done
  local key_id="GK$(random_hex 12)" key_secret
  key_secret=$(random_hex 32)
  g "$dir/node1" bucket create "$BUCKET" >/dev/null
  g "$dir/node1" key import --yes -n pp-test "$key_id" "$key_secret" >/dev/null
  g "$dir/node1" bucket allow --read --write --owner "$BUCKET" --key pp-test >/dev/null
  local stores=()
  for i in $(seq "$n"); do
    stores+=("s3://$BUCKET?endpoint=http://127.0.0.1:$(cat "$dir/node$i/s3_port")&region=$REGION")
  done
  {
    echo "export AWS_ACCESS_KEY_ID='$key_id'"
    echo "export AWS_SECRET_ACCESS_KEY='$key_secret'"
    echo "export AVATARIUM_TEST_BLOB_STORE='${stores[0]}'"
    echo "export AVATARIUM_TEST_BLOB_STORES='${stores[*]}'"
  } >"$dir/env"
  chmod 600 "$dir/env"
  log "garage: $n node(s) up, bucket $BUCKET"
}

cmd_stop_node() {
  stop_pidfile "$1/node$2/pid"
}

cmd_start_node() {
  local nd="$1/node$2"
  [ -f "$nd/garage.toml" ] || die "no node $2 in $1"
  if [ -f "$nd/pid" ] && pid_alive "$(cat "$nd/pid")"; then
    return 0
  fi
  run_node "$nd"
  WAIT_SECS=60 wait_for node_ready "$nd" || { tail -20 "$nd/log" >&2; die "garage node $2 did not come back"; }
}

cmd_destroy() {
  local dir=$1 nd
  [ -d "$dir" ] || return 0
  # The data is thrown away: no need for a graceful shutdown.
  for nd in "$dir"/node*; do
    [ -d "$nd" ] && stop_pidfile "$nd/pid" KILL
  done
  rm -rf "$dir"
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start "${2:?DIR}" "${3:-3}" ;;
  stop-node) cmd_stop_node "${2:?DIR}" "${3:?node number}" ;;
  start-node) cmd_start_node "${2:?DIR}" "${3:?node number}" ;;
  destroy) cmd_destroy "${2:?DIR}" ;;
  *) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
