#!/usr/bin/env bash
# Installs what Flightdeck needs on a fresh Debian 12 machine, skipping what is already there:
# Debian packages (WebKitGTK for the desktop app, Chromium for the browser test, Xvfb),
# the UI's npm packages, tauri-driver (tests only), and a running PostgreSQL (tests only).
# Usage: scripts/setup.sh [--tests]
set -euo pipefail
cd "$(dirname "$0")/.."
for_tests=0
[ "${1:-}" = "--tests" ] && for_tests=1

pkgs=(libwebkit2gtk-4.1-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev librsvg2-dev
      libayatana-appindicator3-dev libxdo-dev libssl-dev build-essential pkg-config file
      xvfb xauth fonts-dejavu-core git curl)
if [ "$for_tests" = 1 ]; then
  # dbus + gnome-keyring: a real Secret Service for the keyring test; openssl: an outside
  # check of the certificate `serve --tls` makes.
  pkgs+=(webkit2gtk-driver chromium dbus-daemon gnome-keyring openssl)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null || { echo "error: cargo not found; install Rust with rustup first" >&2; exit 1; }
command -v npm >/dev/null || { echo "error: npm not found; install Node.js 20 and npm" >&2; exit 1; }

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "==> installing the UI's npm packages"
  npm --prefix ui ci --no-audit --no-fund
fi

if [ "$for_tests" = 1 ]; then
  if ! command -v tauri-driver >/dev/null; then
    echo "==> installing tauri-driver"
    cargo install tauri-driver --version 2.1.0 --locked
  fi
  # PostgreSQL for the store tests: start it when it is installed but down; install it when absent.
  if ! command -v pg_lsclusters >/dev/null; then
    echo "==> installing PostgreSQL"
    sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql
    hba=$(ls /etc/postgresql/*/main/pg_hba.conf | head -n1)
    # Test machines only: trust local TCP so the suite can create its throwaway databases.
    $sudo_cmd sed -i 's/^\(host.*127.0.0.1\/32.*\)\(scram-sha-256\|md5\)$/\1trust/' "$hba"
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "==> starting PostgreSQL"
    v=$(ls /etc/postgresql | head -n1)
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || pg_ctlcluster "$v" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
fi
