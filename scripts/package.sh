#!/usr/bin/env bash
# Builds what a user installs: the release desktop app, bundled by Tauri's bundler as a .deb (and
# an .rpm), with the `flightdeck` command and the web UI inside. Offline; AppImage is not built
# (Tauri's AppImage bundler downloads its tools).
#   bash scripts/package.sh          -> target/release/bundle/deb/Flightdeck_<version>_amd64.deb
#                                       target/release/bundle/rpm/Flightdeck-<version>-1.x86_64.rpm
# Install:  sudo apt install ./target/release/bundle/deb/Flightdeck_*_amd64.deb
set -euo pipefail
cd "$(dirname "$0")/.."
step() { echo; echo "==> $*"; }

bash scripts/setup.sh
if [ ! -d packaging/node_modules ] || [ packaging/package-lock.json -nt packaging/node_modules/.package-lock.json ]; then
  step "installing Tauri's CLI (for its bundler)"
  npm --prefix packaging ci --no-audit --no-fund
fi

step "building the UI"
npm --prefix ui run build

step "building the release binaries (flightdeck, flightdeck-desktop)"
cargo build --release --locked -p flightdeck-cli -p flightdeck-desktop

# Tauri's CLI wants its config in the app's folder, with the paths in it (ui/dist, the icons)
# resolving from there; the config lives at the root, so the folder gets links for the run.
links=(src-tauri/tauri.conf.json src-tauri/ui src-tauri/assets)
cleanup() { rm -f "${links[@]}"; }
trap cleanup EXIT
ln -sfn ../tauri.conf.json src-tauri/tauri.conf.json
ln -sfn ../ui src-tauri/ui
ln -sfn ../assets src-tauri/assets

step "bundling (.deb, .rpm)"
TAURI_APP_PATH=src-tauri CI=true packaging/node_modules/.bin/tauri bundle \
  --bundles deb,rpm --config packaging/deb.json

echo
ls -l target/release/bundle/deb/*.deb target/release/bundle/rpm/*.rpm
