#!/usr/bin/env bash
# Runs webpush_node_test with npm's web-push (ctest webpush.node). Installs
# web-push into the build tree once (npm registry; test-only, nothing of it
# ships), then runs the test binary with NODE_PATH pointing there.
#   run.sh <test binary> <node prefix dir> <send.js>
set -euo pipefail
binary=$1 prefix=$2 script=$3
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "webpush.node: node and npm are needed (scripts/deps installs them)" >&2
  exit 1
fi
if [ ! -f "$prefix/node_modules/web-push/package.json" ]; then
  mkdir -p "$prefix"
  # A lock, in case two runs start at once.
  exec 9>"$prefix/.lock"
  flock 9
  if [ ! -f "$prefix/node_modules/web-push/package.json" ]; then
    npm install --silent --no-audit --no-fund --prefix "$prefix" web-push@3.6.7 >&2
  fi
fi
export NODE_PATH="$prefix/node_modules" POSTBOX_SEND_JS="$script"
exec "$binary"
