#!/usr/bin/env bash
# Builds tls_bench (and postbox-server, which its memory figure runs) and runs it;
# prints, per run, the summary: TLS against plain TCP in the same run, on
# 127.0.0.1 — poll round trips (goal >= 0.7), 64 MiB blob download throughput
# (goal >= 0.5), full handshakes per second (report), and memory per idle
# session at 10,000 sessions of a postbox-server child process (goal <= 16 KiB
# with TLS). See docs/benchmarks.md "TLS".
#
# Usage: bench/run_tls_bench.sh [--preset P] [--runs N] [benchmark flags...]
#   --preset P  the CMake preset to build with (default release; dev is
#               RelWithDebInfo and builds the tests too)
#   --runs N    run the whole binary N times (default 1); these machines are
#               noisy, so compare runs before believing a figure
#   benchmark flags go to the binary, e.g. --benchmark_filter=Memory
# Environment: POSTBOX_BENCH_DIR picks the (disk-backed) folder for the stores;
# POSTBOX_BUILD_JOBS the build's parallelism (default 2: the machines are shared).
# Each run's full output and JSON are kept in build/<preset>/bench/tls_bench.<n>.{txt,json}.
# Exits non-zero if the build or a benchmark fails; a missed goal is reported,
# not failed (a single noisy run should not fail a script).
set -euo pipefail

runs=1
preset=release
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --runs=*) runs="${1#--runs=}"; shift ;;
    --preset) preset="$2"; shift 2 ;;
    --preset=*) preset="${1#--preset=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "run_tls_bench.sh: --runs wants a positive integer, got '$runs'" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! cmake --preset "$preset" >"$log" 2>&1; then
  cat "$log" >&2
  echo "run_tls_bench.sh: cmake --preset $preset failed" >&2
  exit 1
fi
if ! cmake --build --preset "$preset" -j "${POSTBOX_BUILD_JOBS:-2}" --target tls_bench postbox-server \
    >"$log" 2>&1; then
  cat "$log" >&2
  echo "run_tls_bench.sh: building tls_bench failed" >&2
  exit 1
fi

bin="build/$preset/bench/tls_bench"
status=0
for ((n = 1; n <= runs; n++)); do
  out="build/$preset/bench/tls_bench.$n"
  echo "== run $n of $runs ($(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
  # The binary ends its output with the summary table (see bench/tls_bench.cc);
  # show only that here, keep the rest in the .txt file.
  if ! "$bin" --benchmark_out="$out.json" --benchmark_out_format=json ${args[@]+"${args[@]}"} \
      >"$out.txt" 2>&1; then
    cat "$out.txt" >&2
    echo "run_tls_bench.sh: tls_bench failed (run $n)" >&2
    exit 1
  fi
  sed -n '/^Summary:/,$p' "$out.txt" | grep -v '^\[.*\] \[info\]'
  if grep -q ' ERROR: ' "$out.txt"; then status=1; fi
  echo "   (full output: $out.txt, JSON: $out.json)"
done
exit "$status"
