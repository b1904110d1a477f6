#!/usr/bin/env bash
# The HTTP listener against its raw baseline, in one run (docs/benchmarks.md
# "HTTP listener"): wrk -t2 -c64 -d10s (keep-alive) with the same method and
# body against
#   raw     bench/http_raw_responder: one libuv loop + http-parser answering
#           201 Created with a Location, storing nothing
#   target  the URL given (or a path on a postbox-server this script starts
#           with --http-listen on ephemeral ports, --start-server)
# and prints each one's requests/s and p99 latency, and target/raw.
#
# Usage: bench/run_http_bench.sh [options] URL_OR_PATH
#   --method M         GET, POST, PUT... (default POST)
#   --body-bytes N     body of each request, for methods that send one (default 3072)
#   --duration D       wrk's -d (default 10s)
#   --build DIR        build tree holding bench/http_raw_responder and
#                      server-shim/postbox-server (default build/release, else build/dev)
#   --start-server     start postbox-server (--threads 2) and use URL_OR_PATH as a path on it
#   --webpush          Web Push: start postbox-server (durable store, --webpush-rate 0) with
#                      a mailbox and an endpoint made by postbox-admin, and POST
#                      notifications (TTL: 60, Content-Encoding: aes128gcm) to
#                      /push/<token>: every 201 comes after a durable commit. No
#                      URL_OR_PATH.
# Installs nothing: it needs wrk (Debian: apt-get install wrk, or scripts/deps).
set -euo pipefail

method=POST
body_bytes=3072
duration=10s
build=""
start_server=0
webpush=0
target=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --method) method="$2"; shift 2 ;;
    --body-bytes) body_bytes="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --start-server) start_server=1; shift ;;
    --webpush) webpush=1; start_server=1; target=/push; shift ;;
    -*) echo "run_http_bench.sh: unknown option '$1'" >&2; exit 2 ;;
    *) target="$1"; shift ;;
  esac
done
if [[ -z "$target" ]]; then
  echo "usage: bench/run_http_bench.sh [--method M] [--body-bytes N] [--start-server] URL_OR_PATH" >&2
  exit 2
fi
if ! command -v wrk >/dev/null; then
  echo "run_http_bench.sh: wrk is not installed (Debian: apt-get install wrk; scripts/deps installs it)" >&2
  exit 2
fi
if ! [[ "$body_bytes" =~ ^[0-9]+$ ]]; then
  echo "run_http_bench.sh: --body-bytes wants a number, got '$body_bytes'" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "$build" ]]; then
  build="$root/build/release"
  [[ -x "$build/bench/http_raw_responder" ]] || build="$root/build/dev"
fi
raw_bin="$build/bench/http_raw_responder"
server_bin="$build/server-shim/postbox-server"
if [[ ! -x "$raw_bin" ]]; then
  echo "run_http_bench.sh: $raw_bin is missing; build it: cmake --build --preset dev --target http_raw_responder" >&2
  exit 2
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The Lua script: the method, and for body-carrying methods a fixed body.
{
  echo "wrk.method = \"$method\""
  if [[ "$method" != GET && "$method" != HEAD && "$body_bytes" -gt 0 ]]; then
    echo "wrk.body = string.rep(\"x\", $body_bytes)"
    echo 'wrk.headers["Content-Type"] = "application/octet-stream"'
  fi
  if [[ "$webpush" == 1 ]]; then
    echo 'wrk.headers["TTL"] = "60"'
    echo 'wrk.headers["Content-Encoding"] = "aes128gcm"'
  fi
} > "$work/request.lua"

# Starts "$@" with stdout to $work/$name.out and waits for its line with "$pattern".
start() {
  local name="$1" pattern="$2"; shift 2
  "$@" > "$work/$name.out" 2> "$work/$name.err" &
  pids+=("$!")
  for _ in $(seq 100); do
    if grep -q "$pattern" "$work/$name.out"; then
      grep "$pattern" "$work/$name.out" | sed 's/.*://'
      return 0
    fi
    sleep 0.05
  done
  echo "run_http_bench.sh: $name did not start:" >&2
  cat "$work/$name.err" >&2
  exit 1
}

raw_port="$(start raw 'http_raw_responder listening on' "$raw_bin")"
if [[ "$start_server" == 1 ]]; then
  [[ -x "$server_bin" ]] || { echo "run_http_bench.sh: $server_bin is missing" >&2; exit 2; }
  extra=()
  if [[ "$webpush" == 1 ]]; then
    admin_bin="$build/server-shim/postbox-admin"
    "$admin_bin" --data "$work/data" init > /dev/null
    mkey="$("$admin_bin" --data "$work/data" --json mailbox create |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["mkey"])')"
    token="$("$admin_bin" --data "$work/data" --json endpoint add "$mkey" bench |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
    target="/push/$token"
    extra=(--webpush-rate 0)
  fi
  http_port="$(start server 'http listening on' "$server_bin" --listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 --data "$work/data" --threads 2 --log-level warn "${extra[@]}")"
  target="http://127.0.0.1:$http_port$target"
fi

# wrk prints "Requests/sec: N" and, with --latency, "99%  1.23ms".
run() {
  local url="$1" out="$2"
  wrk -t2 -c64 -d"$duration" --latency -s "$work/request.lua" "$url" > "$out"
  if grep -q "Non-2xx or 3xx responses" "$out"; then
    echo "run_http_bench.sh: $url answered errors:" >&2
    grep "Non-2xx" "$out" >&2
  fi
}
run "http://127.0.0.1:$raw_port/m" "$work/raw.txt"
run "$target" "$work/target.txt"

rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
p99() { awk '$1 == "99%" {print $2}' "$1"; }
printf '%-8s %-44s %14s %10s\n' which url requests/s p99
printf '%-8s %-44s %14s %10s\n' raw "http://127.0.0.1:$raw_port/m" "$(rps "$work/raw.txt")" "$(p99 "$work/raw.txt")"
printf '%-8s %-44s %14s %10s\n' target "$target" "$(rps "$work/target.txt")" "$(p99 "$work/target.txt")"
awk -v t="$(rps "$work/target.txt")" -v r="$(rps "$work/raw.txt")" \
  'BEGIN { printf "target/raw requests/s: %.2f\n", (r > 0 ? t / r : 0) }'
echo "(wrk -t2 -c64 -d$duration --latency, $method$([[ "$method" != GET && "$method" != HEAD ]] && echo " with a $body_bytes-byte body"), keep-alive)"
