#!/usr/bin/env bash
# The layering rule, enforced: each workspace crate may depend only on crates of a lower layer
#   core (and the fakehub test server) <- app <- server <- cli, desktop
# so the domain never learns of HTTP or Tauri and front ends stay wiring. Reads `cargo metadata`
# (normal, build and dev dependencies alike); fails naming every edge that points up or sideways.
# `--self-test` checks the checker on made-up graphs: a good one passes, bad ones are caught.
set -euo pipefail
cd "$(dirname "$0")/.."

check() {
  python3 -c '
import json, sys
# Lower number = lower layer. A crate missing here is an error: new crates take a place.
LAYER = {
    "fakehub": 0,
    "flightdeck-core": 0,
    "flightdeck-app": 1,
    "flightdeck-server": 2,
    "flightdeck-cli": 3,
    "flightdeck-desktop": 3,
}
meta = json.load(sys.stdin)
ours = {p["name"] for p in meta["packages"]}
bad = []
for p in meta["packages"]:
    name = p["name"]
    if name not in LAYER:
        bad.append(f"{name}: not in the layer table of scripts/check-layers.sh; give it a layer")
        continue
    for d in p["dependencies"]:
        dep = d["name"]
        if dep not in ours:
            continue
        # fakehub stands in for GitHub in tests and the demo: any layer may use it; it uses none
        # of ours (an edge out of it is checked like any other).
        if dep == "fakehub":
            continue
        if dep not in LAYER or LAYER[dep] >= LAYER[name]:
            kind = d.get("kind") or "normal"
            there = LAYER.get(dep, "?")
            bad.append(f"{name} (layer {LAYER[name]}) depends on {dep} (layer {there}) [{kind}]: dependencies point to lower layers only")
for b in bad:
    print(f"error: {b}", file=sys.stderr)
if bad:
    sys.exit(1)
print(f"layers ok: {len(ours)} crates, every dependency points down")
'
}

if [ "${1:-}" = "--self-test" ]; then
  pkg() { printf '{"name":"%s","dependencies":[%s]}' "$1" "$2"; }
  dep() { printf '{"name":"%s","kind":%s}' "$1" "${2:-null}"; }
  graph() { printf '{"packages":[%s]}' "$(IFS=,; echo "$*")"; }
  good=$(graph "$(pkg flightdeck-core '')" "$(pkg flightdeck-app "$(dep flightdeck-core)")" \
    "$(pkg flightdeck-server "$(dep flightdeck-app),$(dep flightdeck-core)")" \
    "$(pkg flightdeck-cli "$(dep flightdeck-server),$(dep fakehub)")" "$(pkg fakehub '')")
  echo "$good" | check >/dev/null || { echo "self-test: a good graph was refused" >&2; exit 1; }
  for badgraph in \
    "$(graph "$(pkg flightdeck-core "$(dep flightdeck-server)")" "$(pkg flightdeck-server '')")" \
    "$(graph "$(pkg flightdeck-app "$(dep flightdeck-server '"dev"')")" "$(pkg flightdeck-server '')")" \
    "$(graph "$(pkg flightdeck-cli "$(dep flightdeck-desktop)")" "$(pkg flightdeck-desktop '')")" \
    "$(graph "$(pkg flightdeck-newthing '')")"; do
    if echo "$badgraph" | check 2>/dev/null; then
      echo "self-test: a bad graph passed: $badgraph" >&2
      exit 1
    fi
  done
  echo "self-test ok: the good graph passes, 4 bad ones are caught"
  exit 0
fi

cargo metadata --format-version 1 --no-deps --offline | check
