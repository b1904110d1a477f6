#!/usr/bin/env bash
# admin_live: postbox-admin --server against a running postbox-server's admin
# API (docs/operations.md "Live stats"): sessions, viewers, transfers and kick,
# text and --json, and the refusals (no token, a wrong token, an unknown
# session, a server that is not there). Starts the server on 127.0.0.1 with
# ephemeral ports and stops it by its pid.
#   admin_live_test.sh PATH_TO_POSTBOX_SERVER PATH_TO_POSTBOX_ADMIN
set -euo pipefail
server=${1:?usage: admin_live_test.sh SERVER ADMIN}
admin=${2:?usage: admin_live_test.sh SERVER ADMIN}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/postbox-admin-live.XXXXXX")
pid=""
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

printf 'live-test-token-0123456789\n' >"$tmp/token"
"$server" --data "$tmp/store" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --admin-token-file "$tmp/token" >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 200); do
  grep -q "http listening on" "$tmp/out" 2>/dev/null && break
  sleep 0.05
done
sync_port=$(sed -n 's/^postbox-server listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/out")
http_port=$(sed -n 's/^postbox-server http listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/out")
[[ -n $sync_port && -n $http_port ]] || fail "the server did not start: $(cat "$tmp/err")"

live() { "$admin" --server "127.0.0.1:$http_port" --token-file "$tmp/token" "$@"; }

# No session yet.
[[ $(live --json sessions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sessions"]))') == 0 ]] ||
  fail "sessions before any connection"

# A connection that has not said Hello is a session in state "hello".
exec 3<>"/dev/tcp/127.0.0.1/$sync_port"
for _ in $(seq 1 100); do
  n=$(live --json sessions | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["sessions"]))')
  [[ $n == 1 ]] && break
  sleep 0.05
done
[[ $n == 1 ]] || fail "the raw connection is not listed"
doc=$(live --json sessions)
id=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1])["sessions"][0]; assert s["state"]=="hello", s; assert s["mkey"] is None; print(s["id"])' "$doc")
live sessions | grep -q "^$id " || fail "the text listing lacks session $id"
live viewers >/dev/null
live --json transfers | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["downloads"]==[] and d["uploads"]==[], d'

# Kick it: the server closes the connection.
live kick "$id" | grep -q "kicked out" || fail "kick did not say so"
if timeout 5 cat <&3 >/dev/null; then :; else fail "the kicked connection stayed open"; fi
exec 3<&-
rc=0
live kick "$id" 2>"$tmp/kerr" || rc=$?
[[ $rc == 1 ]] && grep -q NotFound "$tmp/kerr" || fail "kicking it again: exit $rc, $(cat "$tmp/kerr")"

# Refusals.
rc=0
POSTBOX_ADMIN_TOKEN=wrong-token-000000000 "$admin" --server "127.0.0.1:$http_port" sessions \
  2>"$tmp/e1" || rc=$?
[[ $rc == 1 ]] && grep -q Unauthenticated "$tmp/e1" || fail "a wrong token: exit $rc, $(cat "$tmp/e1")"
rc=0
env -u POSTBOX_ADMIN_TOKEN "$admin" --server "127.0.0.1:$http_port" sessions 2>"$tmp/e2" || rc=$?
[[ $rc == 1 ]] && grep -q "admin token" "$tmp/e2" || fail "no token: exit $rc, $(cat "$tmp/e2")"
rc=0
env -u POSTBOX_ADMIN_TOKEN "$admin" --token-file "$tmp/token" sessions 2>"$tmp/e3" || rc=$?
[[ $rc == 1 ]] && grep -q -- "--server" "$tmp/e3" || fail "no --server: exit $rc, $(cat "$tmp/e3")"

kill "$pid"
wait "$pid" || true
pid=""
rc=0
live sessions 2>"$tmp/e4" || rc=$?
[[ $rc == 1 ]] && grep -q Unavailable "$tmp/e4" || fail "a stopped server: exit $rc, $(cat "$tmp/e4")"
echo "admin_live: all checks passed"
