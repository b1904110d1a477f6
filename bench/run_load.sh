#!/usr/bin/env bash
# Runs postbox-load against postbox-server next to its baselines, all in the same
# run, and prints the figures with their ratios (docs/benchmarks.md):
#
#   roundtrip  poll and ping round trips against a raw libuv echo server (same
#              frames, same connection count).
#   fourway    status rises and entry puts, postbox against Redis doing the same
#              logical operation as one Redis function (bench/load/redis.cc), at
#              equal connection count and pipelining depth (1 and 64) and equal
#              durability: postbox durable against `appendfsync always`, postbox
#              relaxed against `appendfsync everysec`. Every cell runs on a fresh
#              server and store on each side, postbox and Redis back to back (the
#              order alternating from cell to cell); each durable postbox cell is
#              bracketed by raw LMDB durable transactions (one put per txn).
#              Plus durable status rises at depth 64 through the client library.
#   depth1     durable status rises and entry puts at depth 1 against Redis
#              `appendfsync always` (as in fourway), DEPTH1_ROUNDS rounds with the
#              order alternating: each round's ratio and the median (issue 17's
#              goal; one round is at the mercy of the machine's noise).
#   push       push latency at light load (one sender/recipient pair).
#   memory     server RSS per authenticated idle session, at each of
#              IDLE_SESSIONS, on a fresh server each (postbox-load --op hostile).
#   hostile    a fresh server flooded by idle sessions, slow readers and request
#              floods (one run per flood op) while a well-behaved client polls.
#   ryw        the cost of read-your-writes: poll, put and putget (an EntryPut then
#              an EntryGet of the same key, pipelined) round trips at depth 1 and
#              64, each on a fresh durable server with --read-your-writes false and
#              true back to back (the order alternating from cell to cell).
#   ops        the cost of operating a server (docs/operations.md "Cost"): durable
#              status rises at depth 1 and 64 with the event log on and /metrics
#              scraped every second, against the same load with both off (no
#              --event-log, no scrape, and the server binary OPS_BASELINE_SERVER:
#              one built from before the metrics counters existed, so that "off"
#              means no counting either; default this build's, which always counts).
#              OPS_ROUNDS rounds, each cell on a fresh server and store, on and off
#              back to back (the order alternating).
#
#   bench/run_load.sh [BUILD_DIR] [DURATION_SECONDS] [CONNECTIONS]
#
# Environment: SECTIONS (default "roundtrip fourway push memory"; add depth1, hostile, ryw, ops),
# STATUS_EXPECT_RATE / STATUS_EXPECT_RATE_D1 (default 100000 / 20000 ops/s: size
# the supply of durable status rises at depth 64 and 1, twice that for relaxed; a run
# that uses its supply up ends early and says so), STATUS_SENDERS (default 1 sender per mailbox), RAW_SECONDS
# (default 2), DEPTH1_ROUNDS (default 5), IDLE_SESSIONS (default 10000; e.g. "10000 50000"), HOSTILE_SECONDS
# (default 60), HOSTILE_IDLE (default 10000), HOSTILE_SLOW (default 100),
# HOSTILE_FLOODS (default 8), HOSTILE_FLOOD_OPS (default "put poll"), OPS_ROUNDS
# (default 3), OPS_BASELINE_SERVER (default this build's postbox-server).
# Tens of thousands of sessions need as many descriptors in the server and in
# postbox-load: the script raises both processes' limit (ulimit -n, which needs
# the hard limit to allow it) and says so when it cannot.
# Every process it starts is stopped by its pid on exit. redis-server is installed
# (Debian package redis-server) if missing, without starting the package's service.
# The server's durability mode is only a flag here: the script does not depend on
# how relaxed mode syncs.
set -euo pipefail
build=${1:-build/release}
duration=${2:-5}
conns=${3:-64}
sections=${SECTIONS:-roundtrip fourway push memory}
expect_rate=${STATUS_EXPECT_RATE:-100000}
expect_rate_d1=${STATUS_EXPECT_RATE_D1:-20000}
senders=${STATUS_SENDERS:-1}
raw_seconds=${RAW_SECONDS:-2}
depth1_rounds=${DEPTH1_ROUNDS:-5}
idle_sizes=${IDLE_SESSIONS:-10000}
hostile_seconds=${HOSTILE_SECONDS:-60}
hostile_idle=${HOSTILE_IDLE:-10000}
hostile_slow=${HOSTILE_SLOW:-100}
hostile_floods=${HOSTILE_FLOODS:-8}
hostile_flood_ops=${HOSTILE_FLOOD_OPS:-put poll}
server_bin=$build/server-shim/postbox-server
load_bin=$build/bench/postbox-load
for b in "$server_bin" "$load_bin"; do
  [[ -x $b ]] || { echo "missing $b: build postbox-server and postbox-load first" >&2; exit 2; }
done
want() { [[ " $sections " == *" $1 "* ]]; }

if { want fourway || want depth1; } && ! command -v redis-server > /dev/null; then
  echo "== installing redis-server (the Redis baseline)" >&2
  made_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; } >&2 ||
    echo "could not install redis-server: no Redis baseline" >&2
  if [[ -n $made_policy ]]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# Stores on a disk-backed file system, never tmpfs: durable figures need real syncs.
work=$(mktemp -d "${POSTBOX_BENCH_DIR:-/var/tmp}/postbox-load.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]+"${pids[@]}"}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]+"${pids[@]}"}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Stops $1 and drops it from pids, so the exit trap never signals a reused pid.
stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
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
# median VALUES...: the median of the numbers given ("-": none; other words skipped).
median() {
  printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
    awk '{ a[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server DIR NOFILE FLAGS...: postbox-server on a fresh store in DIR with a
# descriptor limit of NOFILE (0: inherited); sets server_pid and port.
start_server() {
  local dir=$1 nofile=$2
  shift 2
  (
    if ((nofile > 0)); then ulimit -n "$nofile"; fi
    exec "$server_bin" --listen 127.0.0.1:0 --data "$dir" --log-level warn "$@"
  ) > "$dir.out" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  port=$(await_line "$dir.out" "listening on" | sed 's/.*://') || {
    cat "$dir.out" >&2
    return 1
  }
}

# start_redis DIR FSYNC: a fresh redis-server (AOF on, fsync policy FSYNC, no
# RDB snapshots, no AOF rewrite mid-run); sets redis_pid and rport.
start_redis() {
  local dir=$1
  mkdir -p "$dir"
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly yes \
    --appendfsync "$2" --auto-aof-rewrite-percentage 0 --dir "$dir" --daemonize no \
    > "$dir.out" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  await_line "$dir.out" "Ready to accept connections" > /dev/null
}

# One put per durable LMDB transaction for RAW_SECONDS; prints txn/s.
raw_lmdb() {
  "$load_bin" --raw-lmdb-txn "$work/raw" --raw-seconds "$raw_seconds" | tee_err | field txn_per_sec
}

# load ARGS...: one postbox-load run; its result line goes to stdout and to the
# terminal. A run with errors still prints its line (errors=N), and the script
# goes on.
load() { "$load_bin" -c "$conns" -d "$duration" "$@" | tee_err || true; }

echo "== $(date -Is) $(uptime)" >&2
summary=()

# postbox_cell OP MODE DEPTH [ARGS...]: postbox on a fresh server and store.
postbox_cell() {
  local op=$1 mode=$2 depth=$3 dir=$work/pb before="" after=""
  shift 3
  if [[ $mode == durable ]]; then before=$(raw_lmdb); fi
  start_server "$dir" 0 --durability "$mode"
  echo "== postbox $op, $mode, depth $depth $*" >&2
  load --port "$port" --data "$dir" --op "$op" --depth "$depth" --server-pid "$server_pid" \
    "$@" > "$work/cell.line"
  stop_pid "$server_pid"
  rm -rf "$dir" "$dir.out"
  if [[ $mode == durable ]]; then after=$(raw_lmdb); fi
  cell_line=$(cat "$work/cell.line")
  cell_raw=$(mean "$before" "$after")
}
# redis_cell OP MODE DEPTH [ARGS...]: the same on a fresh redis-server.
redis_cell() {
  local op=$1 mode=$2 depth=$3 dir=$work/redis fsync=everysec
  shift 3
  [[ $mode == durable ]] && fsync=always
  start_redis "$dir" "$fsync"
  echo "== redis $op, appendfsync $fsync, depth $depth" >&2
  load --redis-port "$rport" --op "$op" --depth "$depth" --server-pid "$redis_pid" "$@" \
    > "$work/cell.line"
  stop_pid "$redis_pid"
  rm -rf "$dir" "$dir.out"
  cell_line=$(cat "$work/cell.line")
}

if want roundtrip; then
  echo "== round trips on postbox-server and the raw libuv echo, $conns connections, ${duration}s each" >&2
  start_server "$work/rt" 0
  echo_port=$(free_port)
  "$load_bin" --serve-echo "$echo_port" > "$work/echo.out" 2>&1 &
  echo_pid=$!
  pids+=("$echo_pid")
  await_line "$work/echo.out" "listening on" > /dev/null
  poll=$(load --port "$port" --data "$work/rt" --op poll --server-pid "$server_pid" | field ops_per_sec)
  ping=$(load --port "$port" --data "$work/rt" --op ping --server-pid "$server_pid" | field ops_per_sec)
  echo_rt=$(load --port "$echo_port" --op echo | field ops_per_sec)
  stop_pid "$echo_pid"
  stop_pid "$server_pid"
  summary+=("$(awk -v poll="$poll" -v ping="$ping" -v e="$echo_rt" 'BEGIN {
    printf "poll round trips            %8.0f/s  = %.2fx raw libuv echo (%.0f/s)\n", poll, poll / e, e
    printf "ping round trips            %8.0f/s  = %.2fx raw libuv echo", ping, ping / e }')")
fi

if want fourway; then
  declare -A pb rd raw
  n=0
  for op in status put; do
    for mode in durable relaxed; do
      for depth in 1 64; do
        args=()
        if [[ $op == status ]]; then
          rate=$expect_rate
          [[ $depth == 1 ]] && rate=$expect_rate_d1
          # Relaxed commits skip the sync: twice the supply.
          [[ $mode == relaxed ]] && rate=$((rate * 2))
          args=(--senders "$senders" --expect-rate "$rate")
        fi
        key=$op,$mode,$depth
        if ((n++ % 2 == 0)); then
          postbox_cell "$op" "$mode" "$depth" "${args[@]+"${args[@]}"}"
          pb[$key]=$cell_line raw[$key]=$cell_raw
          if command -v redis-server > /dev/null; then
            redis_cell "$op" "$mode" "$depth" "${args[@]+"${args[@]}"}"
            rd[$key]=$cell_line
          fi
        else
          if command -v redis-server > /dev/null; then
            redis_cell "$op" "$mode" "$depth" "${args[@]+"${args[@]}"}"
            rd[$key]=$cell_line
          fi
          postbox_cell "$op" "$mode" "$depth" "${args[@]+"${args[@]}"}"
          pb[$key]=$cell_line raw[$key]=$cell_raw
        fi
      done
    done
  done
  echo "== postbox status, durable, depth 64 through the client library (one postbox::sync::Client per connection)" >&2
  postbox_cell status durable 64 --senders "$senders" --expect-rate "$expect_rate" --driver client
  client_line=$cell_line client_raw=$cell_raw

  # One table per operation: ops/s on each side and their ratio, postbox's p99,
  # ops per commit and bytes written per op, and (durable) the raw LMDB ratio.
  for op in status put; do
    title="status rises"
    [[ $op == put ]] && title="entry puts"
    table=$(printf '%s, %s connections: postbox vs Redis (same operation, depth, durability)\n' \
      "$title" "$conns")
    table+=$'\n'$(printf '%-27s %10s %10s %7s %9s %10s %9s %s' "durability / depth" "postbox" \
      "redis" "ratio" "p99 ms" "ops/commit" "KB/op" "vs raw LMDB txn")
    for mode in durable relaxed; do
      for depth in 1 64; do
        key=$op,$mode,$depth
        label="$mode / always"
        [[ $mode == relaxed ]] && label="relaxed / everysec"
        table+=$'\n'$(awk -v label="$label, depth $depth" \
          -v p="$(field ops_per_sec <<< "${pb[$key]}")" -v r="$(field ops_per_sec <<< "${rd[$key]:-}")" \
          -v p99="$(field p99_ms <<< "${pb[$key]}")" -v per="$(field ops_per_commit <<< "${pb[$key]}")" \
          -v kb="$(field written_kb_per_op <<< "${pb[$key]}")" -v raw="${raw[$key]}" 'BEGIN {
          printf "%-27s %8.0f/s", label, p
          if (r != "") printf " %8.0f/s %6.2fx", r, p / r; else printf " %10s %7s", "-", "-"
          printf " %9.1f %10.1f %9.1f", p99, per, kb
          if (raw != "") printf "  %.1fx (%.0f txn/s)", p / raw, raw
        }')
      done
    done
    summary+=("$table")
  done
  summary+=("$(awk -v p="$(field ops_per_sec <<< "$client_line")" \
    -v r="$(field ops_per_sec <<< "${rd[status,durable,64]:-}")" -v raw="$client_raw" 'BEGIN {
    printf "status rises, durable, depth 64, through postbox::sync::Client: %.0f/s", p
    if (r != "") printf " = %.2fx redis always", p / r
    printf ", %.1fx raw LMDB txn (%.0f/s)", p / raw, raw }')")
fi

if want depth1; then
  # Durable status rises and entry puts at depth 1 against Redis `always`,
  # DEPTH1_ROUNDS times (the order alternating), each cell on a fresh server:
  # the ratio of each round, and their median (Redis and postbox each move
  # 15-30 % between runs on a shared machine; one round proves little).
  for op in status put; do
    title="status rises"
    [[ $op == put ]] && title="entry puts"
    args=()
    [[ $op == status ]] && args=(--senders "$senders" --expect-rate "$expect_rate_d1")
    ratios=() pbs=() rds=()
    for ((i = 0; i < depth1_rounds; i++)); do
      order=(postbox redis)
      ((i % 2 == 1)) && order=(redis postbox)
      for side in "${order[@]}"; do
        "${side}_cell" "$op" durable 1 "${args[@]+"${args[@]}"}"
        if [[ $side == postbox ]]; then p=$(field ops_per_sec <<< "$cell_line"); else r=$(field ops_per_sec <<< "$cell_line"); fi
      done
      pbs+=("$p") rds+=("$r")
      ratios+=("$(awk -v p="$p" -v r="$r" 'BEGIN { if (p == "" || r == "" || r == 0) print "-"; else printf "%.2f", p / r }')")
    done
    summary+=("$(printf '%s, durable vs always, depth 1, %s conns, %s rounds: ratios %s; median %sx (postbox median %s/s, redis median %s/s)' \
      "$title" "$conns" "$depth1_rounds" "${ratios[*]}" "$(median "${ratios[@]}")" \
      "$(median "${pbs[@]}")" "$(median "${rds[@]}")")")
  done
fi

if want push; then
  echo "== push latency at light load (one sender/recipient pair): status update -> sender's push" >&2
  start_server "$work/push" 0
  push_raw_line=$("$load_bin" --raw-lmdb-txn "$work/raw" --raw-seconds "$raw_seconds" | tee_err) || true
  push_line=$("$load_bin" --port "$port" --data "$work/push" -c 2 -d "$duration" --op push | tee_err) || true
  stop_pid "$server_pid"
  summary+=("$(printf 'push latency, 1 pair        p50 %s ms, p99 %s ms (one durable commit included; a raw LMDB txn p99 just before: %s ms)' \
    "$(field p50_ms <<< "$push_line")" "$(field p99_ms <<< "$push_line")" \
    "$(field p99_ms <<< "$push_raw_line")")")
fi

# hostile_run DIR SECONDS IDLE ARGS...: postbox-load --op hostile against a fresh
# server whose descriptor limit and --max-connections leave room for IDLE
# sessions; prints postbox-load's result line. Fails (with a message) when the
# limit cannot be raised that far.
hostile_run() {
  local dir=$1 seconds=$2 idle=$3
  shift 3
  local need=$((idle + 2000))
  if ! (ulimit -n "$need") 2> /dev/null; then
    echo "cannot open $idle sessions: the descriptor limit cannot be raised to $need" \
      "(hard limit $(ulimit -Hn)); raise it (as root: ulimit -Hn, /etc/security/limits.conf)" >&2
    return 1
  fi
  start_server "$dir" "$need" --max-connections "$((idle + 1000))"
  (
    ulimit -n "$need"
    exec "$load_bin" --port "$port" --data "$dir" --op hostile --idle "$idle" -d "$seconds" \
      --server-pid "$server_pid" "$@"
  ) | tee_err | grep '^op=hostile' || true
  stop_pid "$server_pid"
  rm -rf "$dir" "$dir.out"
}

if want memory; then
  for n in $idle_sizes; do
    echo "== server RSS per idle session: $n authenticated idle sessions" >&2
    line=$(hostile_run "$work/mem" 2 "$n") || continue
    summary+=("$(awk -v n="$n" -v rss="$(field rss_per_idle_session_b <<< "$line")" \
      -v anon="$(field anon_per_idle_session_b <<< "$line")" \
      -v before="$(field rss_before_kib <<< "$line")" -v after="$(field rss_idle_kib <<< "$line")" 'BEGIN {
      printf "memory per idle session     %8.0f B RSS (%.0f B anonymous) at %d sessions: server RSS %d -> %d KiB", rss, anon, n, before, after }')")
  done
fi

if want hostile; then
  for fop in $hostile_flood_ops; do
    echo "== hostile: $hostile_idle idle, $hostile_slow slow readers, $hostile_floods $fop floods, ${hostile_seconds}s" >&2
    line=$(hostile_run "$work/hostile" "$hostile_seconds" "$hostile_idle" \
      --slow-readers "$hostile_slow" --floods "$hostile_floods" --flood-op "$fop") || continue
    summary+=("$(awk -v fop="$fop" -v calls="$(field probe_calls <<< "$line")" \
      -v done_="$(field probe_completed <<< "$line")" -v p50="$(field probe_p50_ms <<< "$line")" \
      -v p99="$(field probe_p99_ms <<< "$line")" -v max="$(field probe_max_ms <<< "$line")" \
      -v peak="$(field server_rss_peak_kib <<< "$line")" -v cut="$(field slow_cut <<< "$line")" \
      -v fr="$(field flood_replies <<< "$line")" -v closed="$(field idle_closed <<< "$line")" 'BEGIN {
      printf "hostile (%s floods)          probe %d/%d polls answered, p50 %.2f ms, p99 %.2f ms, max %.2f ms; server RSS peak %.0f MiB; slow readers cut %d times; %d flood replies; idle sessions lost %d", fop, done_, calls, p50, p99, max, peak / 1024, cut, fr, closed }')")
  done
fi
if want ryw; then
  ryw_table="read-your-writes ($conns connections, durable)  off: ops/s p50 p99 (ms) | on: ops/s p50 p99 (ms) | on/off ops/s"
  n=0
  for op in poll put putget; do
    for depth in 1 64; do
      declare -A ryw_line=()
      order="false true"
      if ((n++ % 2)); then order="true false"; fi
      for rw in $order; do
        start_server "$work/ryw" 0 --read-your-writes "$rw"
        echo "== ryw: $op, depth $depth, read-your-writes $rw" >&2
        ryw_line[$rw]=$(load --port "$port" --data "$work/ryw" --op "$op" --depth "$depth" \
          --server-pid "$server_pid")
        stop_pid "$server_pid"
        rm -rf "$work/ryw" "$work/ryw.out"
      done
      off=${ryw_line[false]} on=${ryw_line[true]}
      ryw_table+=$'\n'"$(awk -v op="$op" -v d="$depth" \
        -v a="$(field ops_per_sec <<< "$off")" -v a50="$(field p50_ms <<< "$off")" \
        -v a99="$(field p99_ms <<< "$off")" -v as="$(field stale_reads <<< "$off")" \
        -v b="$(field ops_per_sec <<< "$on")" -v b50="$(field p50_ms <<< "$on")" \
        -v b99="$(field p99_ms <<< "$on")" -v bs="$(field stale_reads <<< "$on")" 'BEGIN {
        stale = (op == "putget") ? sprintf("  (stale reads: off %d, on %d)", as, bs) : ""
        printf "  %-6s depth %-2d  %8.0f %7.3f %7.3f | %8.0f %7.3f %7.3f | %.2fx%s", op, d, a, a50, a99, b, b50, b99, (a > 0 ? b / a : 0), stale }')"
    done
  done
  summary+=("$ryw_table")
fi

if want ops; then
  ops_base=${OPS_BASELINE_SERVER:-$server_bin}
  [[ -x $ops_base ]] || { echo "OPS_BASELINE_SERVER $ops_base is not executable" >&2; exit 2; }
  command -v curl > /dev/null || { echo "ops: curl is needed to scrape /metrics" >&2; exit 2; }
  # ops_cell on|off DEPTH: one durable status-rise run on a fresh server and store;
  # sets cell_line (and, when on, log_bytes and scrapes).
  ops_cell() {
    local dir=$work/ops rate=$expect_rate scraper http_port
    [[ $2 == 1 ]] && rate=$expect_rate_d1
    if [[ $1 == on ]]; then
      start_server "$dir" 0 --http-listen 127.0.0.1:0 --event-log "$dir.events"
      http_port=$(await_line "$dir.out" "http listening on" | sed 's/.*://')
      (while :; do
        curl -fsS -o /dev/null "http://127.0.0.1:$http_port/metrics" && echo >> "$dir.scrapes"
        sleep 1
      done) > /dev/null 2>&1 &
      scraper=$!
      pids+=("$scraper")
    else
      local server_bin=$ops_base # start_server runs the baseline binary
      start_server "$dir" 0
    fi
    echo "== ops: status, durable, depth $2, event log and metrics $1" >&2
    cell_line=$(load --port "$port" --data "$dir" --op status --depth "$2" \
      --senders "$senders" --expect-rate "$rate" --server-pid "$server_pid")
    [[ $1 == on ]] && stop_pid "$scraper"
    stop_pid "$server_pid" # the log is flushed when the server has stopped
    if [[ $1 == on ]]; then
      # The log rotates at 100 MiB: count the rotated files too.
      log_bytes=$(cat "$dir.events"* | wc -c)
      log_dropped=$(cat "$dir.events"* |
        sed -n 's/.*"event":"events_dropped","count":\([0-9]*\).*/\1/p' |
        awk '{ n += $1 } END { print n + 0 }')
      scrapes=$(wc -l < "$dir.scrapes" 2>/dev/null || echo 0)
    fi
    rm -rf "$dir" "$dir.out" "$dir.events"* "$dir.scrapes"
  }
  off_what="neither"
  [[ $ops_base != "$server_bin" ]] && off_what="neither, $ops_base"
  ops_table="operating cost: durable status rises, $conns connections, event log + /metrics scraped each second (on) vs $off_what (off)"
  ops_table+=$'\n'"$(printf '  %-9s %-6s %10s %10s %7s %15s %9s %9s %8s' depth round off on on/off "cpu us/op off,on" "log B/op" dropped scrapes)"
  n=0
  for depth in 1 64; do
    for round in $(seq 1 "${OPS_ROUNDS:-3}"); do
      order="off on"
      if ((n++ % 2)); then order="on off"; fi
      for side in $order; do
        ops_cell "$side" "$depth"
        if [[ $side == on ]]; then on_line=$cell_line; else off_line=$cell_line; fi
      done
      ops_table+=$'\n'"$(awk -v d="$depth" -v r="$round" -v a="$(field ops_per_sec <<< "$off_line")" \
        -v b="$(field ops_per_sec <<< "$on_line")" -v ops="$(field ops <<< "$on_line")" \
        -v ca="$(field server_cpu <<< "$off_line")" -v cb="$(field server_cpu <<< "$on_line")" \
        -v lb="$log_bytes" -v dr="$log_dropped" -v sc="$scrapes" 'BEGIN {
        printf "  depth %-3d %-6d %8.0f/s %8.0f/s %6.3fx %7.1f,%7.1f %9.0f %9d %8d", d, r, a, b, (a > 0 ? b / a : 0), (a > 0 ? ca / a * 1e6 : 0), (b > 0 ? cb / b * 1e6 : 0), (ops > 0 ? lb / ops : 0), dr, sc }')"
    done
  done
  summary+=("$ops_table")
fi

echo "== $(date -Is) $(uptime)" >&2

echo
for s in "${summary[@]+"${summary[@]}"}"; do printf '%s\n\n' "$s"; done
