#!/usr/bin/env bash
# Builds engine_bench with the release preset and runs it; prints, per run, the
# ratios of the engine to raw LMDB (measured in the same run) against the targets.
#
# Usage: bench/run_engine_bench.sh [--runs N] [benchmark flags...]
#   --runs N   run the whole binary N times (default 1); these machines are noisy,
#              so compare runs before believing a figure
#   benchmark flags go to the binary, e.g. --benchmark_filter=Durable
# Environment: POSTBOX_BENCH_DIR picks the (disk-backed) folder for the stores.
# Each run's full output and JSON are kept in build/release/bench/engine_bench.<n>.{txt,json}.
# Exits non-zero if the build or a benchmark fails; a missed target is reported, not
# failed (a single noisy run should not fail a script).
set -euo pipefail

runs=1
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --runs=*) runs="${1#--runs=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "run_engine_bench.sh: --runs wants a positive integer, got '$runs'" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! cmake --preset release >"$log" 2>&1; then
  cat "$log" >&2
  echo "run_engine_bench.sh: cmake --preset release failed" >&2
  exit 1
fi
if ! cmake --build --preset release --target engine_bench >"$log" 2>&1; then
  cat "$log" >&2
  echo "run_engine_bench.sh: building engine_bench failed" >&2
  exit 1
fi

bin="build/release/bench/engine_bench"
status=0
for ((n = 1; n <= runs; n++)); do
  out="build/release/bench/engine_bench.$n"
  echo "== run $n of $runs ($(date -u +%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
  # The binary ends its output with the summary table (see bench/engine_bench.cc);
  # show only that here, keep the rest in the .txt file.
  if ! "$bin" --benchmark_out="$out.json" --benchmark_out_format=json ${args[@]+"${args[@]}"} \
      >"$out.txt" 2>&1; then
    cat "$out.txt" >&2
    echo "run_engine_bench.sh: engine_bench failed (run $n)" >&2
    exit 1
  fi
  sed -n '/^Summary:/,$p' "$out.txt"
  if grep -q ' ERROR: ' "$out.txt"; then status=1; fi
  echo "   (full output: $out.txt, JSON: $out.json)"
done
exit "$status"
