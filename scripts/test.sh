#!/usr/bin/env bash
# Sets up a fresh machine and runs every check CI runs: formatting, the layering rule, clippy,
# the UI's unit tests and build, the Rust tests (the store suite on SQLite and PostgreSQL, the
# app layer, the API, the CLI, and the desktop window under Xvfb), the generated-types check,
# the browser end-to-end test, and the installable package (built, unpacked, started).
set -euo pipefail
cd "$(dirname "$0")/.."
export FLIGHTDECK_TEST_PG_URL="${FLIGHTDECK_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
step() { echo; echo "==> $*"; }

bash scripts/setup.sh --tests

step "UI: unit tests and build"
npm --prefix ui test
npm --prefix ui run build

step "cargo fmt --check"
cargo fmt --all -- --check

step "layers: dependencies point down (core <- app <- server <- cli, desktop)"
bash scripts/check-layers.sh --self-test
bash scripts/check-layers.sh

# The tests and the end-to-end test need `flightdeck demo`, so everything is checked and tested
# with the demo feature on; the shipped binaries (without it) are checked on their own too.
step "cargo clippy (with the demo; then the shipped binaries, without it)"
cargo clippy --workspace --all-targets --locked --features flightdeck-cli/demo -- -D warnings
cargo clippy -p flightdeck-cli -p flightdeck-desktop --locked -- -D warnings

step "cargo test (SQLite and PostgreSQL; the desktop test under Xvfb)"
xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test --workspace --locked --features flightdeck-cli/demo -- --include-ignored

step "generated TypeScript types are up to date"
if [ -n "$(git status --porcelain -- ui/src/generated)" ]; then
  git status --short -- ui/src/generated
  echo "error: ui/src/generated is stale: the Rust API types changed; commit the regenerated files (cargo test regenerates them)" >&2
  exit 1
fi

step "browser end-to-end test (tests/browser: Playwright + Chromium against flightdeck demo)"
FLIGHTDECK_BIN="$PWD/target/debug/flightdeck" npm --prefix ui run e2e

step "package: the .deb from Tauri's bundler, unpacked into a clean tree, runs (doctor, demo, desktop)"
bash scripts/package.sh
bash tests/package.sh

echo
echo "all checks passed"
