#!/usr/bin/env bash
# An existing Gigya SDK pointed at `avatarium serve`, unmodified: the npm `gigya` package
# (scripts/sdk-compat/) against a server on 127.0.0.1 over HTTPS (the SDK signs for https),
# with a site secret and with a userKey's signature; and the server answering any Host, so
# DNS-level `accounts.<apiDomain>` routing works (docs/rest.md, "Point an existing Gigya SDK here").
#
# Called by scripts/test-rest.sh with AVATARIUM_CLI_BIN; runs on its own too (then it builds).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export CARGO_TERM_COLOR=never
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
if [ -z "${AVATARIUM_CLI_BIN:-}" ]; then
  cargo build --locked -q -p avatarium-cli
  AVATARIUM_CLI_BIN="${AVATARIUM_TARGET_DIR:-$ROOT/target/$CARGO_BUILD_TARGET/debug}/avatarium"
fi

for tool in node npm python3 curl openssl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done

# The SDK and its dependencies, from the committed lock (only when missing or stale).
(
  cd scripts/sdk-compat
  if [ ! -f node_modules/.package-lock.json ] \
    || [ package-lock.json -nt node_modules/.package-lock.json ] \
    || [ package.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
)

# docs/rest.md shows the hook verbatim: its copy must be the file this test runs.
awk '/^<!-- scripts\/sdk-compat\/point-at.js -->$/ { on = 1; getline; next }
     on && /^```$/ { exit } on' docs/rest.md | diff -u scripts/sdk-compat/point-at.js - ||
  { echo "FAILED: docs/rest.md's copy of scripts/sdk-compat/point-at.js differs (above)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/pp-sdk.XXXXXX)
SERVER=
PHOTOS=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  [ -n "$PHOTOS" ] && kill "$PHOTOS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; [ -f "$WORK/server.log" ] && cat "$WORK/server.log" >&2; exit 1; }
# wait_line FILE PID SED-EXPR: the first match of SED-EXPR in FILE, once PID has written it.
wait_line() {
  local got
  for _ in $(seq 100); do
    got=$(sed -n "$3" "$1" 2>/dev/null | head -1)
    [ -n "$got" ] && { printf '%s' "$got"; return; }
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# ---- the photo the SDK asks the server to import, on a plain HTTP server of its own ----
python3 -u -m http.server 0 --bind 127.0.0.1 --directory examples/photos \
  >"$WORK/photos.out" 2>"$WORK/photos.log" &
PHOTOS=$!
PHOTO_PORT=$(wait_line "$WORK/photos.out" "$PHOTOS" 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9]*\).*/\1/p') ||
  fail "the photo server did not start: $(cat "$WORK/photos.log")"

# ---- a site with a userKey, and the server on HTTPS with the test certificate ----
API_KEY="3_sdk-compat"
SECRET=$(openssl rand -base64 24)
USER_KEY="AKsdkcompat1"
USER_SECRET=$(openssl rand -base64 24)
cat >"$WORK/avatarium.toml" <<EOF
data_dir = "$WORK/data"
# The photo comes from 127.0.0.1 here; never set these in production.
allow_loopback = true
fetch_allowed_ports = [$PHOTO_PORT]

[[sites]]
api_key = "$API_KEY"
secret = "$SECRET"

[[sites.user_keys]]
user_key = "$USER_KEY"
secret = "$USER_SECRET"
EOF

CA_FILE="$ROOT/cli/tests/tls/localhost-cert.pem"
"$AVATARIUM_CLI_BIN" serve --config "$WORK/avatarium.toml" --listen 127.0.0.1:0 \
  --tls-cert "$CA_FILE" --tls-key "$ROOT/cli/tests/tls/localhost-key.pem" \
  >"$WORK/stdout" 2>"$WORK/server.log" &
SERVER=$!
BASE=$(wait_line "$WORK/stdout" "$SERVER" 's/^listening on //p') || fail "the server did not start"
echo "server at $BASE, photo at http://127.0.0.1:$PHOTO_PORT/astronaut.png"

# ---- any Host: the API answers whatever name the client dialled ----
for host in accounts.eu1.gigya.com accounts.us1.gigya.com ACCOUNTS.AU1.GIGYA.COM photos.example.com:8443; do
  R=$(curl -sS --cacert "$CA_FILE" -H "Host: $host" "$BASE/accounts.getPolicies" \
    --data-urlencode "apiKey=$API_KEY" --data-urlencode "secret=$SECRET")
  case "$R" in *'"errorCode":0,'*'"thumbnailWidth":'*) ;; *) fail "Host: $host: $R" ;; esac
  echo "ok   Host: $host answered (errorCode 0)"
done

# ---- the npm SDK ----
AVATARIUM_URL="$BASE" AVATARIUM_CA_FILE="$CA_FILE" AVATARIUM_SERVER_PID="$SERVER" \
  AVATARIUM_API_KEY="$API_KEY" AVATARIUM_SECRET="$SECRET" \
  AVATARIUM_USER_KEY="$USER_KEY" AVATARIUM_USER_SECRET="$USER_SECRET" \
  AVATARIUM_PHOTO_URL="http://127.0.0.1:$PHOTO_PORT/astronaut.png" \
  node --test-reporter=spec --test scripts/sdk-compat/gigya-npm.test.js ||
  fail "the npm gigya SDK"

kill -TERM "$SERVER"
wait "$SERVER" || fail "the server exited with $?"
SERVER=
for s in "$SECRET" "$USER_SECRET"; do
  grep -qF -- "$s" "$WORK/server.log" && fail "a secret is in the server log"
done
echo "sdk-compat: all passed"
