#!/usr/bin/env bash
# Idle cost: starts the demo (data loaded, server up, watcher and periodic tasks running, no
# window) in a scratch home, lets it settle, then measures for IDLE_SECS (default 75: a full
# rescan, forge sync and outbox pass fall inside) the CPU it used (% of one core, from
# /proc/PID/stat) and the bytes it wrote to disk (/proc/PID/io write_bytes).
# Usage: scripts/idle.sh [path/to/flightdeck]   (default: a debug build with the demo)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
if [ -z "$bin" ]; then
    cargo build --locked -q -p flightdeck-cli --features demo
    bin=target/debug/flightdeck
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
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
written() { awk '/^write_bytes/ {print $2}' "/proc/$pid/io"; }
t0=$(ticks); w0=$(written)
sleep "$secs"
t1=$(ticks); w1=$(written)
python3 - "$t0" "$t1" "$w0" "$w1" "$hz" "$secs" <<'PY'
import sys
t0, t1, w0, w1, hz, secs = map(int, sys.argv[1:])
print(f"idle demo over {secs} s: CPU {100 * (t1 - t0) / hz / secs:.2f} % of one core, "
      f"{w1 - w0} bytes written")
PY
