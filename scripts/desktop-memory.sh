#!/usr/bin/env bash
# Measures the desktop app's memory with the demo workspace loaded: RSS and PSS (from
# /proc/PID/smaps_rollup) of the app and every process it starts (WebKitWebProcess,
# WebKitNetworkProcess), 8 s after start, under Xvfb — once as is, once with
# WEBKIT_DISABLE_COMPOSITING_MODE=1. Release build, as the floor in shared/DESKTOP.md.
# Usage: scripts/desktop-memory.sh   (needs scripts/setup.sh and the UI built)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --release -p flightdeck-cli -p flightdeck-desktop --features flightdeck-cli/demo
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOME="$tmp/home" target/release/flightdeck demo --dir "$tmp/demo" --port "$port" --no-open >/dev/null 2>&1 &
demo=$!
for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.5; done
kill "$demo"; wait "$demo" 2>/dev/null || true

descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }

measure() {
  local label=$1; shift
  env "$@" HOME="$tmp/home" FLIGHTDECK_DATABASE_URL="sqlite://$tmp/demo/flightdeck.db" \
    xvfb-run -a -s "-screen 0 1280x800x24" target/release/flightdeck-desktop >/dev/null 2>&1 &
  local runner=$!
  sleep 8
  local app
  app=$(pgrep -f -n "^target/release/flightdeck-desktop|/target/release/flightdeck-desktop" || true)
  if [ -z "$app" ]; then echo "error: the desktop app did not start" >&2; kill "$runner"; exit 1; fi
  local total_rss=0 total_pss=0
  echo "== $label"
  printf '%-24s %10s %10s\n' process "RSS MB" "PSS MB"
  for p in "$app" $(descendants "$app"); do
    [ -r "/proc/$p/smaps_rollup" ] || continue
    local name rss pss
    name=$(cat "/proc/$p/comm")
    rss=$(awk '/^Rss:/ {print $2}' "/proc/$p/smaps_rollup")
    pss=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")
    [ -n "$rss" ] || continue
    total_rss=$((total_rss + rss)); total_pss=$((total_pss + pss))
    awk -v n="$name" -v r="$rss" -v p="$pss" 'BEGIN { printf "%-24s %10.0f %10.0f\n", n, r / 1024, p / 1024 }'
  done
  awk -v r="$total_rss" -v p="$total_pss" 'BEGIN { printf "%-24s %10.0f %10.0f\n", "total", r / 1024, p / 1024 }'
  kill "$app" 2>/dev/null || true
  wait "$runner" 2>/dev/null || true
  sleep 2
}

measure "default" FLIGHTDECK_MEASURE=1
measure "WEBKIT_DISABLE_COMPOSITING_MODE=1" WEBKIT_DISABLE_COMPOSITING_MODE=1
