#!/usr/bin/env bash
# scripts_run_passes_arguments: ./scripts/run hands its arguments to postbox-server
# unchanged, --data included (README promises it), and a relative --data is taken
# from the folder it is run from. Starts the given postbox-server through the
# script (POSTBOX_SERVER_BIN: no build) on 127.0.0.1:0, waits for it to listen,
# checks where its store went, and stops it by its pid.
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
