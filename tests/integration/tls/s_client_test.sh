#!/usr/bin/env bash
# tls_s_client: postbox-server's TLS as `openssl s_client` sees it. Makes two
# self-signed certificates for localhost / 127.0.0.1 with the openssl command
# line, starts the given postbox-server on 127.0.0.1 port 0 with --tls-cert /
# --tls-key (sync and HTTP listeners), and checks: TLS 1.3 connects and
# verifies; TLS 1.2 is refused by default and accepted with
# --tls-min-version 1.2; TLS 1.1 is refused; ALPN postbox is negotiated and
# h2 alone refused; the HTTP listener answers GET /healthz over TLS with ALPN
# http/1.1; after the files are replaced and SIGHUP sent, new connections see
# the new certificate. The server is stopped by its pid.
# Usage: s_client_test.sh PATH_TO_POSTBOX_SERVER
set -euo pipefail
server=$(realpath "${1:?usage: s_client_test.sh PATH_TO_POSTBOX_SERVER}")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/postbox-s-client.XXXXXX")
pid=""
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [[ -f $tmp/out ]] && sed 's/^/  server: /' "$tmp/out" >&2
  [[ -f $tmp/s_client ]] && sed 's/^/  s_client: /' "$tmp/s_client" >&2
  exit 1
}

# Self-signed EC P-256 certificates A and B for localhost and 127.0.0.1; the
# server's files start as A.
for name in A B; do
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=postbox s_client $name" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$tmp/$name.key" -out "$tmp/$name.crt" 2>/dev/null || fail "openssl req for $name"
done
cp "$tmp/A.crt" "$tmp/live.crt"
cp "$tmp/A.key" "$tmp/live.key"
cat "$tmp/A.crt" "$tmp/B.crt" >"$tmp/both.crt"

sync_port=""
http_port=""
# start ARGS...: starts postbox-server with TLS and ARGS, waits up to 20 s
# for both "listening" lines, and reads the ports.
start() {
  "$server" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --data "$tmp/data" --log-level warn \
    --tls-cert "$tmp/live.crt" --tls-key "$tmp/live.key" "$@" >"$tmp/out" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    sync_port=$(sed -n 's/^postbox-server listening on 127\.0\.0\.1:\([0-9]*\) (TLS)$/\1/p' "$tmp/out")
    http_port=$(sed -n 's/^postbox-server http listening on 127\.0\.0\.1:\([0-9]*\) (TLS)$/\1/p' \
      "$tmp/out")
    [[ -n $sync_port && -n $http_port ]] && return 0
    kill -0 "$pid" 2>/dev/null || fail "postbox-server $* exited before listening"
    sleep 0.1
  done
  fail "postbox-server $* did not print both '... listening on 127.0.0.1:PORT (TLS)' within 20 s"
}
stop() {
  kill "$pid"
  wait "$pid" || true
  pid=""
}

# s_client PORT ARGS...: one connection that verifies the server against the
# current CA file as localhost; its output is in $tmp/s_client; the exit
# status is s_client's (non-zero when the handshake fails).
ca="$tmp/A.crt"
s_client() {
  local port=$1
  shift
  timeout 10 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
    -CAfile "$ca" -verify_return_error -verify_hostname localhost "$@" \
    </dev/null >"$tmp/s_client" 2>&1
}
expect_ok() {
  s_client "$@" || fail "s_client $* failed"
}
expect_refused() {
  if s_client "$@"; then fail "s_client $* connected, should have been refused"; fi
  # Refused by the server, not given up by s_client before it sent anything.
  grep -q "no protocols available\|no ciphers available" "$tmp/s_client" &&
    fail "s_client $* could not even offer that version"
  return 0
}
expect_output() {
  grep -q -- "$1" "$tmp/s_client" || fail "s_client output has no '$1'"
}

start
expect_ok "$sync_port" -tls1_3
expect_output "New, TLSv1.3, Cipher is"
expect_output "Verify return code: 0 (ok)"
expect_refused "$sync_port" -tls1_2
expect_output "alert protocol version"
expect_refused "$sync_port" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
expect_ok "$sync_port" -alpn postbox
expect_output "ALPN protocol: postbox"
expect_refused "$sync_port" -alpn h2
expect_output "no application protocol"
expect_ok "$sync_port" -alpn h2,postbox
expect_output "ALPN protocol: postbox"
# No ALPN at all is accepted.
expect_ok "$sync_port"
expect_output "No ALPN negotiated"
echo "versions and ALPN of the sync listener: ok"

# The HTTP listener: GET /healthz over TLS, ALPN http/1.1.
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
  timeout 10 openssl s_client -connect "127.0.0.1:$http_port" -servername localhost \
    -CAfile "$ca" -verify_return_error -alpn http/1.1 -quiet >"$tmp/s_client" 2>&1 ||
  fail "s_client to the HTTP listener failed"
grep -q "^HTTP/1.1 200" "$tmp/s_client" || fail "GET /healthz over TLS: no 200"
expect_refused "$http_port" -alpn postbox
echo "the HTTP listener over TLS: ok"

# SIGHUP: the files now hold B; new connections see it.
cp "$tmp/B.crt" "$tmp/live.crt"
cp "$tmp/B.key" "$tmp/live.key"
kill -HUP "$pid"
ca="$tmp/both.crt"
seen=""
for _ in $(seq 1 100); do
  if s_client "$sync_port" && grep -q "subject=CN *= *postbox s_client B" "$tmp/s_client"; then
    seen=yes
    break
  fi
  sleep 0.1
done
[[ -n $seen ]] || fail "after SIGHUP the sync listener still serves the old certificate"
kill -0 "$pid" 2>/dev/null || fail "postbox-server exited on SIGHUP"
expect_ok "$http_port" -alpn http/1.1
expect_output "subject=CN *= *postbox s_client B"
# A broken file: SIGHUP keeps B and the server running.
echo "not a key" >"$tmp/live.key"
kill -HUP "$pid"
for _ in $(seq 1 100); do
  grep -q "reloading TLS failed" "$tmp/out" && break
  sleep 0.1
done
grep -q "reloading TLS failed" "$tmp/out" || fail "no error logged for a SIGHUP with a broken key"
kill -0 "$pid" 2>/dev/null || fail "postbox-server exited on a SIGHUP with a broken key"
expect_ok "$sync_port"
expect_output "subject=CN *= *postbox s_client B"
stop
echo "SIGHUP reloads the certificate: ok"

# --tls-min-version 1.2: TLS 1.2 is accepted, 1.1 still refused.
cp "$tmp/A.crt" "$tmp/live.crt"
cp "$tmp/A.key" "$tmp/live.key"
ca="$tmp/A.crt"
start --tls-min-version 1.2
expect_ok "$sync_port" -tls1_2 -alpn postbox
expect_output "New, TLSv1.2, Cipher is"
expect_output "ALPN protocol: postbox"
expect_refused "$sync_port" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
expect_ok "$sync_port" -tls1_3
stop
echo "--tls-min-version 1.2: ok"
