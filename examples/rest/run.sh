#!/usr/bin/env bash
# `avatarium serve` called with curl, the way a server SDK calls Gigya's REST API:
#   1. apiKey + secret in the form body (plain HTTP is allowed here only because the server
#      listens on loopback with --allow-loopback-plain-http; in production use --tls-cert);
#   2. a signed request, the signature computed below with openssl from SPEC.md's recipe;
#   3. the photo URL fetched from the server itself, with its cache headers.
# Needs curl, openssl and coreutils. Exits non-zero when any answer is not the expected one.
#
#   AVATARIUM_BIN=target/debug/avatarium bash examples/rest/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN="${AVATARIUM_BIN:-${AVATARIUM_TARGET_DIR:-target/debug}/avatarium}"
[ -x "$BIN" ] || { echo "no $BIN: build it with cargo build -p avatarium-cli" >&2; exit 2; }
for tool in curl openssl od; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 2; }
done

WORK=$(mktemp -d)
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAILED: $*" >&2; [ -f "$WORK/server.log" ] && cat "$WORK/server.log" >&2; exit 1; }
# A top-level string or number field of a compact JSON envelope.
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2"; }
expect_code() { # expect_code WANT RESPONSE WHAT
  local got; got=$(field errorCode "$2")
  [ "$got" = "$1" ] || fail "$3: errorCode $got, wanted $1: $2"
  echo "ok   $3 (errorCode $got)"
}

# ---- a site and the server ----
API_KEY="3_example-site"
SECRET=$(openssl rand -base64 24)       # site secrets are base64, as Gigya issues them
cat >"$WORK/avatarium.toml" <<EOF
data_dir = "$WORK/data"

[[sites]]
api_key = "$API_KEY"
secret = "$SECRET"
EOF

"$BIN" serve --config "$WORK/avatarium.toml" --listen 127.0.0.1:0 \
  --allow-loopback-plain-http >"$WORK/stdout" 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$WORK/stdout" 2>/dev/null && break
  kill -0 "$SERVER" 2>/dev/null || fail "the server did not start"
  sleep 0.1
done
BASE=$(sed -n 's/^listening on //p' "$WORK/stdout")
[ -n "$BASE" ] || fail "no listening line"
echo "server at $BASE"

# ---- 1. apiKey + secret: upload and publish a photo for UID alice ----
base64 -w0 examples/photos/astronaut.png >"$WORK/photo.b64"
R=$(curl -sS "$BASE/accounts.setProfilePhoto" \
  --data-urlencode "apiKey=$API_KEY" --data-urlencode "secret=$SECRET" \
  --data-urlencode "UID=alice" --data-urlencode "photoBytes@$WORK/photo.b64" \
  --data-urlencode "publish=true")
expect_code 0 "$R" "setProfilePhoto with apiKey + secret"
PHOTO_URL=$(field photoURL "$R")
case "$PHOTO_URL" in "$BASE/photos/"*.png) ;; *) fail "photoURL $PHOTO_URL" ;; esac

R=$(curl -sS "$BASE/accounts.getAccountInfo" --data-urlencode "apiKey=$API_KEY" \
  --data-urlencode "secret=not-the-secret" --data-urlencode "UID=alice")
expect_code 403010 "$R" "a wrong secret is refused"

# ---- 2. the published photo, served with a short cache lifetime (a removed photo is
# refused at once by the server and drops out of caches within five minutes) ----
curl -sS -D "$WORK/headers" -o "$WORK/photo.png" "$PHOTO_URL"
grep -qi '^content-type: image/png' "$WORK/headers" || fail "Content-Type: $(cat "$WORK/headers")"
grep -qi '^cache-control: public, max-age=300' "$WORK/headers" || fail "Cache-Control: $(grep -i '^cache-control' "$WORK/headers")"
grep -qi '^x-content-type-options: nosniff' "$WORK/headers" || fail "nosniff"
[ "$(head -c 4 "$WORK/photo.png" | od -An -tx1 | tr -d ' \n')" = "89504e47" ] || fail "not a PNG"
echo "ok   photo served: $PHOTO_URL"

# ---- 3. a signed request: GET accounts.getAccountInfo with timestamp, nonce and sig ----
# RFC 3986 percent-encoding (space as %20, ~ kept), byte by byte.
urlenc() {
  local LC_ALL=C s="$1" out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
      [A-Za-z0-9._~-]) out+="$c" ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}

# sign METHOD URL name=value... → the base64 HMAC-SHA1 signature
sign() {
  local method=$1 url=$2; shift 2
  local query pair base key_hex
  # Sorted by parameter name, each name=value encoded, joined with &.
  query=$(for pair in "$@"; do printf '%s=%s\n' "$(urlenc "${pair%%=*}")" "$(urlenc "${pair#*=}")"; done |
    LC_ALL=C sort -t '=' -k1,1 | paste -sd '&' -)
  # base = METHOD & enc(normalised URL) & enc(sorted parameters); $url is already normalised
  # (scheme://lower-case-host:port/path, the port only when not the default).
  base="$method&$(urlenc "$url")&$(urlenc "$query")"
  key_hex=$(printf '%s' "$SECRET" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
  printf '%s' "$base" | openssl dgst -sha1 -mac HMAC -macopt "hexkey:$key_hex" -binary | openssl base64 -A
}

TS=$(date +%s)
NONCE=$(openssl rand -hex 12)
URL="$BASE/accounts.getAccountInfo"
SIG=$(sign GET "$URL" "apiKey=$API_KEY" "UID=alice" "timestamp=$TS" "nonce=$NONCE")
signed_get() {
  curl -sS --get "$URL" --data-urlencode "apiKey=$API_KEY" --data-urlencode "UID=alice" \
    --data-urlencode "timestamp=$TS" --data-urlencode "nonce=$NONCE" --data-urlencode "sig=$SIG"
}
R=$(signed_get)
expect_code 0 "$R" "signed getAccountInfo"
grep -q "\"photoURL\":\"$PHOTO_URL\"" <<<"$R" || fail "profile.photoURL: $R"
R=$(signed_get)
expect_code 403004 "$R" "the same signed request again (nonce replay)"

# ---- 4. a client-side call: regToken and apiKey only, answered as JSONP ----
R=$(curl -sS "$BASE/accounts.initRegistration" --data-urlencode "apiKey=$API_KEY" \
  --data-urlencode "secret=$SECRET")
expect_code 0 "$R" "initRegistration"
TOKEN=$(field regToken "$R")
R=$(curl -sS --get "$BASE/accounts.getAccountInfo" --data-urlencode "apiKey=$API_KEY" \
  --data-urlencode "regToken=$TOKEN" -d format=jsonp -d callback=onAccount)
case "$R" in "/**/onAccount({"*"});") ;; *) fail "JSONP: $R" ;; esac
expect_code 0 "$R" "getAccountInfo with a regToken, as JSONP"

# ---- graceful stop ----
kill -TERM "$SERVER"
wait "$SERVER" || fail "the server exited with $?"
SERVER=
grep -q -- "$SECRET" "$WORK/server.log" && fail "the secret is in the server log"
echo "ok   server stopped on SIGTERM"
echo "REST example passed"
