#!/usr/bin/env bash
# Runs postbox-load against postbox-server next to its baselines, in the same
# run: a raw libuv echo server (same frames, same connection count) and
# redis-benchmark -c 64 -P 1 SET against a local redis-server (appendfsync
# everysec). Prints each figure and the ratios the issue asks for.
#
#   bench/run_load.sh [BUILD_DIR] [DURATION_SECONDS] [CONNECTIONS]
# Every process it starts is stopped by its pid on exit.
set -euo pipefail
build=${1:-build/release}
duration=${2:-5}
conns=${3:-64}
server_bin=$build/server-shim/postbox-server
load_bin=$build/bench/postbox-load
for b in "$server_bin" "$load_bin"; do
  [[ -x $b ]] || { echo "missing $b: build postbox-server and postbox-load first" >&2; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Waits (bounded) for a line matching $2 in file $1 and prints it.
await_line() {
  for _ in $(seq 1 "${3:-200}"); do
    if grep -m1 "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$server_bin" --listen 127.0.0.1:0 --data "$work/data" --log-level warn \
  --max-connections 20000 > "$work/server.out" 2>&1 &
server_pid=$!
pids+=($server_pid)
port=$(await_line "$work/server.out" "listening on" | sed 's/.*://')

echo_port=$(free_port)
"$load_bin" --serve-echo "$echo_port" > "$work/echo.out" 2>&1 &
pids+=($!)
await_line "$work/echo.out" "listening on" > /dev/null

run() { "$load_bin" --port "$1" --data "$work/data" -c "$conns" -d "$duration" --op "$2" | tee /dev/stderr; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

echo "== postbox-server on 127.0.0.1:$port, $conns connections, ${duration}s each" >&2
put=$(run "$port" put | field ops_per_sec)
poll=$(run "$port" poll | field ops_per_sec)
ping=$(run "$port" ping | field ops_per_sec)
echo "== push latency at light load (one sender/recipient pair): status update -> sender's push" >&2
push_p99=$("$load_bin" --port "$port" --data "$work/data" -c 2 -d "$duration" --op push \
  | tee /dev/stderr | field p99_ms)
echo "== raw libuv echo on 127.0.0.1:$echo_port" >&2
echo_rt=$(run "$echo_port" echo | field ops_per_sec)

redis_set=""
if command -v redis-server > /dev/null && command -v redis-benchmark > /dev/null; then
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly yes \
    --appendfsync everysec --dir "$work" --daemonize no > "$work/redis.out" 2>&1 &
  pids+=($!)
  await_line "$work/redis.out" "Ready to accept connections" > /dev/null
  echo "== redis-benchmark -c $conns -P 1 SET" >&2
  redis_set=$(redis-benchmark -h 127.0.0.1 -p "$rport" -c "$conns" -P 1 -t set -n 300000 -q \
    | tr '\r' '\n' | sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -1)
  echo "redis SET: $redis_set req/s" >&2
else
  echo "redis-server / redis-benchmark not installed: no Redis baseline" >&2
fi

# Memory per idle authenticated session: the server's RSS before and after
# IDLE_SESSIONS sessions have said Hello.
idle_n=${IDLE_SESSIONS:-10000}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
rss_before=$(rss_kib "$server_pid")
"$load_bin" --port "$port" --data "$work/data" -c "$idle_n" -d 2 --warmup 0 --op idle \
  > "$work/idle.out" 2>&1 &
idle_pid=$!
pids+=($idle_pid)
per_session=""
if await_line "$work/idle.out" "idle_sessions" 1200 > /dev/null; then
  rss_after=$(rss_kib "$server_pid")
  per_session=$(( (rss_after - rss_before) * 1024 / idle_n ))
  echo "idle sessions: $idle_n, server RSS ${rss_before} KiB -> ${rss_after} KiB" >&2
fi
wait "$idle_pid" || true

awk -v push_p99="$push_p99" -v per="$per_session" -v idle_n="$idle_n" -v put="$put" -v poll="$poll" -v ping="$ping" -v echo_rt="$echo_rt" -v redis="$redis_set" 'BEGIN {
  printf "durable entry puts/s      %10.0f", put
  if (redis != "") printf "   = %.2fx redis SET (%.0f/s)", put / redis, redis
  printf "\npoll round trips/s        %10.0f   = %.2fx raw libuv echo (%.0f/s)\n", poll, poll / echo_rt, echo_rt
  printf "ping round trips/s        %10.0f   = %.2fx raw libuv echo\n", ping, ping / echo_rt
  printf "push latency p99          %10.3f ms (includes the durable commit)\n", push_p99
  if (per != "") printf "memory per idle session   %10d B (%d sessions)\n", per, idle_n
}'
