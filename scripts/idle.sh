#!/usr/bin/env bash
# Idle cost: starts the demo (data loaded, server up, watcher and periodic tasks running, no
# window) in a scratch home, lets it settle, then measures for IDLE_SECS (default 75: a full
# rescan, forge sync and outbox pass fall inside) the CPU it used (% of one core, from
# /proc/PID/stat) and the bytes it wrote to disk (/proc/PID/io write_bytes).
# With --desktop, then the same for the desktop app on the demo's database, under Xvfb: the app
# and every process it starts (WebKit's web and network processes) summed.
# Usage: scripts/idle.sh [--desktop]   (debug builds; --desktop needs scripts/setup.sh and the UI
# built)
set -euo pipefail
cd "$(dirname "$0")/.."
desktop=${1:-}
cargo build --locked -q -p flightdeck-cli --features demo
bin=target/debug/flightdeck
if [ "$desktop" = --desktop ]; then
    cargo build --locked -q -p flightdeck-desktop
fi
secs=${IDLE_SECS:-75}
scratch=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$scratch"' EXIT
export HOME=$scratch XDG_CONFIG_HOME=$scratch/config XDG_DATA_HOME=$scratch/data
"$bin" demo --dir "$scratch/demo" --no-open --port 0 > "$scratch/out" 2>&1 &
pid=$!
for _ in $(seq 1 180); do
    grep -q 'login?code=' "$scratch/out" && break
    sleep 1
done
grep -q 'login?code=' "$scratch/out" || { cat "$scratch/out"; echo "error: the demo did not start" >&2; exit 1; }
sleep 10 # the first passes after start
hz=$(getconf CLK_TCK)
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
# CPU ticks and bytes written by a process and all it started.
ticks() { local p t=0; for p in "$1" $(descendants "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
written() { local p w=0; for p in "$1" $(descendants "$1"); do w=$((w + $(awk '/^write_bytes/ {print $2}' "/proc/$p/io" 2>/dev/null || echo 0))); done; echo "$w"; }
measure() {
    local label=$1 p=$2 t0 w0 t1 w1
    t0=$(ticks "$p"); w0=$(written "$p")
    sleep "$secs"
    t1=$(ticks "$p"); w1=$(written "$p")
    python3 - "$label" "$t0" "$t1" "$w0" "$w1" "$hz" "$secs" <<'PY'
import sys
label = sys.argv[1]
t0, t1, w0, w1, hz, secs = map(int, sys.argv[2:])
print(f"idle {label} over {secs} s: CPU {100 * (t1 - t0) / hz / secs:.2f} % of one core, "
      f"{w1 - w0} bytes written")
PY
}
measure "demo (serve)" "$pid"
if [ "$desktop" = --desktop ]; then
    kill "$pid"; wait "$pid" 2>/dev/null || true
    FLIGHTDECK_DATABASE_URL="sqlite://$scratch/demo/flightdeck.db" \
        xvfb-run -a -s "-screen 0 1280x800x24" target/debug/flightdeck-desktop >/dev/null 2>&1 &
    runner=$!
    sleep 20 # the window loads and the first passes run
    app=$(pgrep -f -n "target/debug/flightdeck-desktop" || true)
    [ -n "$app" ] || { echo "error: the desktop app did not start" >&2; exit 1; }
    measure "desktop app" "$app"
    kill "$app" "$runner" 2>/dev/null || true
fi
