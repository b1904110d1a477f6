#!/usr/bin/env bash
# scripts_run_passes_arguments: ./scripts/run hands its arguments to postbox-server
# unchanged, --data included (README promises it), and a relative --data is taken
# from the folder it is run from. Starts the given postbox-server through the
# script (POSTBOX_SERVER_BIN: no build) on 127.0.0.1:0, waits for it to listen,
# checks where its store went, and stops it by its pid.
# --tls: the script makes a self-signed certificate in <store>/tls/ on first use
# (and keeps it), the server speaks TLS with it (checked with `openssl s_client`
# trusting that certificate for localhost and 127.0.0.1), and the pin it prints is
# the certificate's.
# Usage: scripts_run_test.sh REPO_ROOT PATH_TO_POSTBOX_SERVER
set -euo pipefail
root=${1:?usage: scripts_run_test.sh REPO_ROOT PATH_TO_POSTBOX_SERVER}
server=$(realpath "${2:?usage: scripts_run_test.sh REPO_ROOT PATH_TO_POSTBOX_SERVER}")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/postbox-scripts-run.XXXXXX")
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
  exit 1
}

# start_run DIR ARGS...: runs scripts/run from DIR in the background (it execs the
# server, so $pid is the server's) and waits up to 20 s for "listening on".
start_run() {
  local dir=$1
  shift
  (cd "$dir" && exec env POSTBOX_SERVER_BIN="$server" "$root/scripts/run" "$@") >"$tmp/out" 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    grep -q "listening on" "$tmp/out" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || fail "scripts/run $* exited before listening"
    sleep 0.1
  done
  fail "scripts/run $* did not listen within 20 s"
}
stop_run() {
  kill "$pid"
  wait "$pid" || true
  pid=""
}

# An absolute --data: the server opens exactly that store.
start_run "$tmp" --data "$tmp/abs" --listen 127.0.0.1:0 --log-level warn
stop_run
[[ -f $tmp/abs/data.mdb ]] || fail "--data $tmp/abs: no store there"

# --data=DIR, relative to the folder scripts/run was started from.
mkdir -p "$tmp/cwd"
start_run "$tmp/cwd" --listen=127.0.0.1:0 --data=rel --log-level warn
stop_run
[[ -f $tmp/cwd/rel/data.mdb ]] || fail "--data=rel from $tmp/cwd: no store in $tmp/cwd/rel"
echo "scripts/run passes --data on: ok"

# --tls, twice on one store: the first run makes the certificate, the second keeps it.
listen_port() {
  sed -n 's/^postbox-server listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/out" | head -n 1
}
pin_of() {
  openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64
}
for round in first second; do
  start_run "$tmp" --tls --data "$tmp/tls-store" --listen 127.0.0.1:0 --log-level warn
  cert=$tmp/tls-store/tls/cert.pem
  [[ -s $cert && -s $tmp/tls-store/tls/key.pem ]] || fail "--tls ($round run): no certificate and key in $tmp/tls-store/tls"
  grep -q "listening on 127.0.0.1:[0-9]* (TLS)" "$tmp/out" || fail "--tls ($round run): the server does not say it listens with TLS"
  grep -q "TLS certificate $cert\$" "$tmp/out" || fail "--tls ($round run): the certificate's path is not printed"
  printed=$(sed -n 's/^postbox-server: TLS pin //p' "$tmp/out")
  [[ $printed == "sha256/$(pin_of "$cert")" ]] || fail "--tls ($round run): printed pin '$printed' is not the certificate's"
  port=$(listen_port)
  [[ -n $port ]] || fail "--tls ($round run): no port in the server's output"
  for check in "-verify_hostname localhost" "-verify_ip 127.0.0.1"; do
    # shellcheck disable=SC2086  # $check is two words on purpose
    if ! s_client=$(timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$cert" \
        $check -verify_return_error -alpn postbox </dev/null 2>&1); then
      echo "$s_client" | sed 's/^/  s_client: /' >&2
      fail "--tls ($round run): openssl s_client $check failed"
    fi
    grep -q "Verify return code: 0 (ok)" <<<"$s_client" || fail "--tls ($round run): s_client $check did not verify"
    grep -q "ALPN protocol: postbox" <<<"$s_client" || fail "--tls ($round run): no ALPN postbox"
  done
  stop_run
  if [[ $round == first ]]; then
    first_pin=$printed
    grep -q "made a self-signed certificate" "$tmp/out" || fail "--tls: the first run does not say it made a certificate"
  else
    [[ $printed == "$first_pin" ]] || fail "--tls: the second run made a new certificate"
    ! grep -q "made a self-signed certificate" "$tmp/out" || fail "--tls: the second run made a certificate again"
  fi
done
echo "scripts/run --tls: ok"
