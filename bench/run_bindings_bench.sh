#!/usr/bin/env bash
# The cost of one call through each binding against the C++ call, in one run
# (docs/benchmarks.md "Bindings"): an entry get from an offline replica (one
# entry "k", a 100-byte value) through
#   cxx     postbox::sync::Replica::GetEntry          (bench/bindings_bench.cc)
#   c       pbx_replica_get_entry + pbx_entry_free    (bench/bindings_bench.cc)
#   python  postbox.Replica.get_entry (cffi)          (bench/bindings/python_get_entry.py)
#   java    org.postbox Replica.getEntry (JNI)        (bench/bindings/JavaGetEntry.java)
# and prints each one's wall-clock ns per call, its ratio to cxx and the
# nanoseconds it adds. A binding whose toolchain is missing is reported, not
# failed.
#
# Usage: bench/run_bindings_bench.sh [--preset P] [--runs N]
#   --preset P  the CMake preset to build with (default release)
#   --runs N    repeat the whole set N times (default 1); compare runs before
#               believing a figure on a shared machine
set -euo pipefail

preset=release
runs=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --preset) preset="$2"; shift 2 ;;
    --preset=*) preset="${1#--preset=}"; shift ;;
    --runs) runs="$2"; shift 2 ;;
    --runs=*) runs="${1#--runs=}"; shift ;;
    *) echo "run_bindings_bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "run_bindings_bench.sh: --runs wants a positive integer, got '$runs'" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="build/$preset"
python=/usr/bin/python3

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! cmake --preset "$preset" >"$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
targets=(bindings_bench postbox_c)
# The Java side exists when CMake found a JDK (bindings/java/CMakeLists.txt).
if grep -q 'postbox_java_bench' "$build/build.ninja" 2>/dev/null; then
  targets+=(postbox_java_bench)
fi
cmake --build --preset "$preset" -j"$(nproc)" --target "${targets[@]}" >"$log" 2>&1 || {
  cat "$log" >&2
  exit 1
}
libc="$(find "$build/bindings/c" -name 'libpostbox_c.so.0' -print -quit)"

for ((run = 1; run <= runs; ++run)); do
  declare -A ns=()
  json="$("$build/bench/bindings_bench" --benchmark_format=json --benchmark_min_time=1 2>/dev/null)"
  while read -r name value; do ns[$name]=$value; done < <(
    "$python" -c 'import json, sys
for b in json.load(sys.stdin)["benchmarks"]:
    print(b["name"].split("/")[1], b["real_time"])' <<<"$json")

  if "$python" -c 'import cffi' 2>/dev/null; then
    line="$(PYTHONPATH="$root/bindings/python" POSTBOX_C_LIBRARY="$root/$libc" \
      "$python" bench/bindings/python_get_entry.py)"
    ns[python]="${line#*ns_per_call=}"
  else
    echo "python: skipped (python3-cffi missing)"
  fi

  if [[ -x "$build/bindings/java/run_java_bench" ]]; then
    line="$("$build/bindings/java/run_java_bench")"
    ns[java]="${line#*ns_per_call=}"
  else
    echo "java: skipped (no JDK found when configuring)"
  fi

  echo "run $run/$runs: an entry get from a replica, wall-clock per call"
  printf '  %-8s %12s %14s %12s\n' binding ns/call 'ratio to cxx' 'added ns'
  for b in cxx c python java; do
    [[ -n "${ns[$b]:-}" ]] || continue
    "$python" -c 'import sys
b, v, base = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
print("  %-8s %12.0f %13.2fx %12.0f" % (b, v, v / base, v - base))' "$b" "${ns[$b]}" "${ns[cxx]}"
  done
  unset ns
done
