#!/usr/bin/env bash
# The scale-out suite (issue 8; docs/scale-out.md): starts PostgreSQL and a Garage cluster
# on 127.0.0.1, runs the scale tests against them AND against the embedded default, then
# the docs' example (the CLI as several processes on PostgreSQL + S3). Everything it
# starts is stopped and removed on exit.
#
#   bash scripts/test-scale.sh
#
# First run on a fresh machine: installs PostgreSQL from apt when missing and builds
# garage 2.5.0 once into ~/.cache/avatarium/bin (several minutes); later runs reuse it.
# AVATARIUM_GARAGE_NODES (default 3) sets the cluster size; AVATARIUM_SCALE_HAMMER_SECS the length of
# the multi-process run. (s3s-fs 0.14.1 was tried as a quicker single-node server: its
# ListObjects answers 500 while other clients write, which the multi-process test's
# concurrent purges hit, so Garage it is.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
export AVATARIUM_TARGET_DIR="${AVATARIUM_TARGET_DIR:-$ROOT/target/$CARGO_BUILD_TARGET/debug}"
NODES="${AVATARIUM_GARAGE_NODES:-3}"
S3_SH="$ROOT/scripts/services/garage.sh"

started=$SECONDS
step() { printf '\n---- scale: %s (at %d s)\n' "$*" "$((SECONDS - started))"; }

# A private folder for the services, reachable by the postgres user.
work=$(mktemp -d /tmp/pp-scale.XXXXXX)
chmod 755 "$work"
cleanup() {
  local t=$SECONDS
  bash "$S3_SH" destroy "$work/s3" || true
  local t_s3=$((SECONDS - t))
  bash "$ROOT/scripts/services/postgres.sh" destroy "$work/pg" || true
  rm -rf "$work"
  printf -- '---- scale: services stopped and removed in %d s (Garage %d s)\n' "$((SECONDS - t))" "$t_s3"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "services: PostgreSQL and a $NODES-node Garage cluster"
bash scripts/services/postgres.sh install
bash "$S3_SH" install
AVATARIUM_TEST_DATABASE_URL=$(bash scripts/services/postgres.sh start "$work/pg")
export AVATARIUM_TEST_DATABASE_URL
bash "$S3_SH" start "$work/s3" "$NODES"
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AVATARIUM_TEST_BLOB_STORE (node 1), AVATARIUM_TEST_BLOB_STORES
# shellcheck disable=SC1091
. "$work/s3/env"
# The fault test stops and restarts node 1 (the one AVATARIUM_TEST_BLOB_STORE names) and PostgreSQL.
export AVATARIUM_TEST_S3_STOP="bash '$S3_SH' stop-node '$work/s3' 1"
export AVATARIUM_TEST_S3_START="bash '$S3_SH' start-node '$work/s3' 1"
export AVATARIUM_TEST_PG_STOP="bash '$ROOT/scripts/services/postgres.sh' stop '$work/pg' immediate"
export AVATARIUM_TEST_PG_START="bash '$ROOT/scripts/services/postgres.sh' start '$work/pg' >/dev/null"
# From here on a test that cannot reach the services fails instead of running the
# embedded variant alone.
export AVATARIUM_REQUIRE_SERVICES=1

step "tests: embedded default and PostgreSQL + S3"
# --workspace (with target filters): the same feature set, so the same artifacts, as
# test-all's `cargo test --workspace`; `-p avatarium` would rebuild dependencies.
cargo test --workspace --locked \
  --test scale_store --test scale_api --test scale_conformance --test scale_multiprocess --test scale_fault \
  --test batch_store

step "example: the CLI as separate processes on PostgreSQL + S3 (docs/scale-out.md)"
cargo build --workspace --locked -q --bin avatarium
cli="$AVATARIUM_TARGET_DIR/avatarium"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
"$pg_bin/psql" -q "$AVATARIUM_TEST_DATABASE_URL" -c "CREATE DATABASE avatarium_example"
db_url="${AVATARIUM_TEST_DATABASE_URL%/*}/avatarium_example"
bucket_url="${AVATARIUM_TEST_BLOB_STORE/pp-test\?/pp-test/example?}"
cat >"$work/avatarium.toml" <<EOF
database_url = "$db_url"
blob_store = "$bucket_url"
public_base_url = "https://cdn.example.com/photos/"
secrets = ["example-secret-change-me-0123456789"]
data_dir = "$work/example-data"
EOF
json_field() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval("d" + sys.argv[1]))' "$1"; }
pp() { "$cli" --config "$work/avatarium.toml" "$@"; }
photo=$(pp import examples/photos/astronaut.png --uid alice --publish | json_field '["photoURL"]')
seen=$(pp info --uid alice | json_field '["profile"]["photoURL"]')
[ "$photo" = "$seen" ] || { echo "photoURL differs between processes: $photo vs $seen" >&2; exit 1; }
case "$photo" in https://cdn.example.com/photos/*) ;; *) echo "photoURL not under public_base_url: $photo" >&2; exit 1 ;; esac
token=$(pp init-registration | json_field '["regToken"]')
pp import conformance/files/photo.jpg --reg-token "$token" --publish >/dev/null
pp finalize-registration --reg-token "$token" >/dev/null
if pp info --reg-token "$token" >/dev/null 2>&1; then
  echo "a finalized regToken was accepted" >&2
  exit 1
fi
pp purge | json_field '["errorCode"]' | grep -qx 0
echo "alice's photo: $photo"

step "scale suite passed in $((SECONDS - started)) s"
