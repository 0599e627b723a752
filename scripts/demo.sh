#!/usr/bin/env bash
# Sets up a fresh machine and runs the demo: builds the UI and the binaries, builds a demo
# workspace (three git repos, agent logs), loads it and serves it at http://127.0.0.1:7878/.
# With a display, the desktop window opens too. Extra arguments go to `flightdeck demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> building the UI"
npm --prefix ui run build
echo "==> building flightdeck"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  cargo build --locked -p flightdeck-cli -p flightdeck-desktop --features flightdeck-cli/demo
else
  cargo build --locked -p flightdeck-cli --features demo
fi
exec target/debug/flightdeck demo "$@"
