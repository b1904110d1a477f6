#!/usr/bin/env bash
# Builds replica_bench and runs it; prints, per run, the replica's ratios to the
# baselines measured in the same run (raw LMDB for Mirror::Apply, a Client's
# online writes for the outbox drain). See docs/benchmarks.md "Replica".
#
# Usage: bench/run_replica_bench.sh [--preset P] [--runs N] [benchmark flags...]
#   --preset P  the CMake preset to build with (default release; dev is
#               RelWithDebInfo and builds the tests too)
#   --runs N    run the whole binary N times (default 1); these machines are
#               noisy, so compare runs before believing a figure
#   benchmark flags go to the binary, e.g. --benchmark_filter=MirrorApply
# Environment: POSTBOX_BENCH_DIR picks the (disk-backed) folder for the stores.
# Each run's full output and JSON are kept in build/<preset>/bench/replica_bench.<n>.{txt,json}.
# Exits non-zero if the build or a benchmark fails; a missed target is reported,
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
  echo "run_replica_bench.sh: --runs wants a positive integer, got '$runs'" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! cmake --preset "$preset" >"$log" 2>&1; then
  cat "$log" >&2
  echo "run_replica_bench.sh: cmake --preset $preset failed" >&2
  exit 1
fi
if ! cmake --build --preset "$preset" --target replica_bench >"$log" 2>&1; then
  cat "$log" >&2
  echo "run_replica_bench.sh: building replica_bench failed" >&2
  exit 1
fi

bin="build/$preset/bench/replica_bench"
status=0
for ((n = 1; n <= runs; n++)); do
  out="build/$preset/bench/replica_bench.$n"
  echo "== run $n of $runs ($(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
  # The binary ends its output with the summary table (see bench/replica_bench.cc);
  # show only that here, keep the rest in the .txt file.
  if ! "$bin" --benchmark_out="$out.json" --benchmark_out_format=json ${args[@]+"${args[@]}"} \
      >"$out.txt" 2>&1; then
    cat "$out.txt" >&2
    echo "run_replica_bench.sh: replica_bench failed (run $n)" >&2
    exit 1
  fi
  sed -n '/^Summary:/,$p' "$out.txt" | grep -v '^\[.*\] \[info\]'
  if grep -q ' ERROR: ' "$out.txt"; then status=1; fi
  echo "   (full output: $out.txt, JSON: $out.json)"
done
exit "$status"
