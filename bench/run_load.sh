#!/usr/bin/env bash
# Runs postbox-load against postbox-server next to its baselines, all in the
# same run: a raw libuv echo server (same frames, same connection count), one
# put per durable LMDB transaction (raw LMDB with the engine's env flags, on
# the same file system as the server's store), and redis-benchmark
# -c CONNECTIONS -P 1 SET against a local redis-server (appendonly,
# appendfsync everysec). Prints each figure and the ratios the issue asks for.
#
#   bench/run_load.sh [BUILD_DIR] [DURATION_SECONDS] [CONNECTIONS]
#
# This machine's disk and CPUs are shared, and a durable commit's cost swings
# by 2-10x within minutes, so the baselines are interleaved: every durable
# status run is bracketed by a raw LMDB measurement (RAW_SECONDS before and
# after) and its ratio is taken against the mean of those two; redis-benchmark
# runs before and after the status runs and the mean is used.
#
# Environment: STATUS_DEPTHS (default "8 16 32 64": the pipelined depths tried
# for durable status updates; the best is reported), STATUS_EXPECT_RATE and
# STATUS_EXPECT_RATE_D1 (default 60000 and 20000 ops/s: size the supply of
# messages of the pipelined and the depth-1 runs; a run that uses its supply
# up ends early and says so), STATUS_SENDERS (default 1: senders posting into
# each connection's mailbox), RAW_SECONDS (default 2), IDLE_SESSIONS (default
# 10000).
# Every process it starts is stopped by its pid on exit. redis-server and
# redis-benchmark are installed (Debian package redis-server) if missing.
set -euo pipefail
build=${1:-build/release}
duration=${2:-5}
conns=${3:-64}
status_depths=${STATUS_DEPTHS:-8 16 32 64}
expect_rate=${STATUS_EXPECT_RATE:-60000}
expect_rate_d1=${STATUS_EXPECT_RATE_D1:-20000}
senders=${STATUS_SENDERS:-1}
raw_seconds=${RAW_SECONDS:-2}
idle_n=${IDLE_SESSIONS:-10000}
server_bin=$build/server-shim/postbox-server
load_bin=$build/bench/postbox-load
for b in "$server_bin" "$load_bin"; do
  [[ -x $b ]] || { echo "missing $b: build postbox-server and postbox-load first" >&2; exit 2; }
done

if ! command -v redis-server > /dev/null || ! command -v redis-benchmark > /dev/null; then
  echo "== installing redis-server (the Redis baseline)" >&2
  # Keep the package's own service from starting: we start our own below.
  made_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; } >&2 ||
    echo "could not install redis-server: no Redis baseline" >&2
  if [[ -n $made_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Drops $1 from pids once it has ended, so the exit trap never signals a reused pid.
forget_pid() {
  local keep=() p
  for p in "${pids[@]+"${pids[@]}"}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  pids=("${keep[@]+"${keep[@]}"}")
}

# Waits (bounded) for a line matching $2 in file $1 and prints it.
await_line() {
  for _ in $(seq 1 "${3:-200}"); do
    if grep -m1 "$2" "$1" 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}

# Copies stdin to stdout and to stderr (without reopening /dev/stderr, which
# would truncate a log file that stderr is redirected to).
tee_err() { while IFS= read -r l; do printf '%s\n' "$l" >&2; printf '%s\n' "$l"; done; }
field() { sed -n "s/.* $1=\([0-9.-]*\).*/\1/p"; }
mean() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print a b; else print (a + b) / 2 }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Starts postbox-server on a fresh store in $1; sets server_pid and port.
start_server() {
  "$server_bin" --listen 127.0.0.1:0 --data "$1" --log-level warn \
    --max-connections 20000 > "$1.out" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  port=$(await_line "$1.out" "listening on" | sed 's/.*://')
}
stop_server() {
  kill "$server_pid" || true
  wait "$server_pid" || true
  forget_pid "$server_pid"
}

# One put per durable LMDB transaction for RAW_SECONDS; prints txn/s.
raw_lmdb() {
  "$load_bin" --raw-lmdb-txn "$work/raw" --raw-seconds "$raw_seconds" | tee_err | field txn_per_sec
}

# One load run against the server on $1 with its store in $2; its result line
# goes to stdout and to the terminal. A run with errors still prints its line
# (errors=N), and the script goes on.
run() {
  local p=$1 data=$2
  shift 2
  "$load_bin" --port "$p" --data "$data" -c "$conns" -d "$duration" --server-pid "$server_pid" \
    "$@" | tee_err || true
}

# A durable status run on a server of its own, on a fresh store (so every
# depth meets a store of the same size; removed afterwards), bracketed by raw
# LMDB measurements. Runs in this shell, not in $(...), so the exit trap knows
# the server. Sets status_line (postbox-load's line) and status_raw (the mean
# raw LMDB txn/s around it).
status_run() {
  local dir=$work/status before after
  before=$(raw_lmdb)
  start_server "$dir"
  run "$port" "$dir" --op status "$@" > "$work/status.line"
  stop_server
  rm -rf "$dir" "$dir.out"
  after=$(raw_lmdb)
  server_pid=$main_pid
  port=$main_port
  status_line=$(cat "$work/status.line")
  status_raw=$(mean "$before" "$after")
}

redis_set() {
  [[ -n $rport ]] || return 0
  echo "== redis-benchmark -c $conns -P 1 SET (appendfsync everysec)" >&2
  redis-benchmark -h 127.0.0.1 -p "$rport" -c "$conns" -P 1 -t set -n 300000 -q \
    | tr '\r' '\n' | sed -n 's/^SET: \([0-9.]*\) requests per second.*/\1/p' | tail -1 | tee_err
}

echo "== $(date -Is) $(uptime)" >&2
start_server "$work/data"
main_pid=$server_pid
main_port=$port

echo_port=$(free_port)
"$load_bin" --serve-echo "$echo_port" > "$work/echo.out" 2>&1 &
pids+=("$!")
await_line "$work/echo.out" "listening on" > /dev/null

rport=""
if command -v redis-server > /dev/null && command -v redis-benchmark > /dev/null; then
  rport=$(free_port)
  mkdir -p "$work/redis"
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly yes \
    --appendfsync everysec --dir "$work/redis" --daemonize no > "$work/redis.out" 2>&1 &
  pids+=("$!")
  await_line "$work/redis.out" "Ready to accept connections" > /dev/null
else
  echo "redis-server / redis-benchmark not installed: no Redis baseline" >&2
fi

redis_before=$(redis_set)
echo "== round trips on postbox-server 127.0.0.1:$port and the raw libuv echo, $conns connections, ${duration}s each" >&2
poll=$(run "$port" "$work/data" --op poll | field ops_per_sec)
ping=$(run "$port" "$work/data" --op ping | field ops_per_sec)
echo_rt=$("$load_bin" --port "$echo_port" -c "$conns" -d "$duration" --op echo \
  | tee_err | field ops_per_sec) || true
put=$(run "$port" "$work/data" --op put | field ops_per_sec)

echo "== durable status updates (every op a real rise; $senders sender(s) per mailbox)," \
  "depth 1 and pipelined depths: $status_depths; raw LMDB before and after each" >&2
status_run --depth 1 --senders "$senders" --expect-rate "$expect_rate_d1"
status1=$status_line
raw1=$status_raw
best_depth=1
best_line=$status1
best_raw=$raw1
for d in $status_depths; do
  status_run --depth "$d" --senders "$senders" --expect-rate "$expect_rate"
  if awk -v a="$(field ops_per_sec <<< "$status_line")" -v b="$(field ops_per_sec <<< "$best_line")" \
    'BEGIN { exit !(a > b) }'; then
    best_depth=$d
    best_line=$status_line
    best_raw=$status_raw
  fi
done
echo "== depth $best_depth through the client library (one postbox::sync::Client per connection)" >&2
status_run --depth "$best_depth" --senders "$senders" --driver client --expect-rate "$expect_rate"
client_line=$status_line
client_raw=$status_raw
echo "== durable entry puts at depth $best_depth (same group commit; each op rewrites one of 1024 keys per mailbox)" >&2
put_deep_line=$(run "$port" "$work/data" --op put --depth "$best_depth")
redis_after=$(redis_set)
redis=$(mean "$redis_before" "$redis_after")

echo "== push latency at light load (one sender/recipient pair): status update -> sender's push" >&2
push_raw_line=$("$load_bin" --raw-lmdb-txn "$work/raw" --raw-seconds "$raw_seconds" | tee_err) || true
push_p99=$("$load_bin" --port "$port" --data "$work/data" -c 2 -d "$duration" --op push \
  | tee_err | field p99_ms) || true

# Memory per idle authenticated session: the server's RSS before and after
# IDLE_SESSIONS sessions have said Hello.
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
rss_before=$(rss_kib "$main_pid")
"$load_bin" --port "$main_port" --data "$work/data" -c "$idle_n" -d 2 --warmup 0 --op idle \
  > "$work/idle.out" 2>&1 &
idle_pid=$!
pids+=("$idle_pid")
per_session=""
if await_line "$work/idle.out" "idle_sessions" 1200 > /dev/null; then
  rss_after=$(rss_kib "$main_pid")
  per_session=$(( (rss_after - rss_before) * 1024 / idle_n ))
  echo "idle sessions: $idle_n, server RSS ${rss_before} KiB -> ${rss_after} KiB" >&2
fi
wait "$idle_pid" || true
forget_pid "$idle_pid"
echo "== $(date -Is) $(uptime)" >&2

# One summary line per durable status run: ops/s, latency, group commit, ratios.
status_summary() {  # label line raw
  awk -v label="$1" -v ops="$(field ops_per_sec <<< "$2")" -v p99="$(field p99_ms <<< "$2")" \
    -v per="$(field ops_per_commit <<< "$2")" -v kb="$(field written_kb_per_op <<< "$2")" \
    -v raw="$3" -v redis="$redis" 'BEGIN {
    printf "%-27s %8.0f/s  p99 %6.1f ms  %6.1f ops/commit  %4.1f KB written/op", label, ops, p99, per, kb
    if (redis != "") printf "  %.2fx redis SET", ops / redis
    printf "  %.1fx raw LMDB txn (%.0f/s)\n", ops / raw, raw
  }'
}
echo
if [[ -n $redis ]]; then
  printf 'redis SET -P 1 req/s        %8.0f/s  (before %.0f, after %.0f)\n' "$redis" "$redis_before" "$redis_after"
fi
status_summary "status, depth 1" "$status1" "$raw1"
status_summary "status, depth $best_depth (best)" "$best_line" "$best_raw"
status_summary "status, depth $best_depth, Client" "$client_line" "$client_raw"
status_summary "entry puts, depth $best_depth" "$put_deep_line" "$best_raw"
awk -v push_p99="$push_p99" -v per="$per_session" -v idle_n="$idle_n" -v put="$put" \
  -v poll="$poll" -v ping="$ping" -v echo_rt="$echo_rt" -v redis="$redis" \
  -v raw_p99="$(field p99_ms <<< "$push_raw_line")" 'BEGIN {
  printf "durable entry puts, depth 1 %8.0f/s", put
  if (redis != "") printf "  %.2fx redis SET", put / redis
  printf "\npoll round trips            %8.0f/s  = %.2fx raw libuv echo (%.0f/s)\n", poll, poll / echo_rt, echo_rt
  printf "ping round trips            %8.0f/s  = %.2fx raw libuv echo\n", ping, ping / echo_rt
  printf "push latency p99            %8.3f ms (one durable commit included; a raw LMDB txn p99 just before: %s ms)\n", push_p99, raw_p99
  if (per != "") printf "memory per idle session     %8d B (%d sessions)\n", per, idle_n
}'
