#!/usr/bin/env bash
# The package installs and runs. Unpacks the .deb that scripts/package.sh built into a clean
# directory tree (dpkg-deb -x: no root, nothing touched outside it), checks what a user gets,
# runs the installed `flightdeck doctor` and `flightdeck serve` on a fresh repo and home (the UI
# served from the package's own copy; the demo is not in the package), and starts the installed
# desktop app under a display.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "package test: $*" >&2; exit 1; }

deb=$(ls -t target/release/bundle/deb/*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || fail "no .deb in target/release/bundle/deb: run scripts/package.sh first"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
root="$tmp/root"
dpkg-deb -x "$deb" "$root"
echo "unpacked $(basename "$deb"): $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
depends=$(dpkg-deb -f "$deb" Depends)
echo "depends: $depends"
case "$depends" in *libwebkit2gtk-4.1*) ;; *) fail "Depends lacks WebKitGTK: $depends" ;; esac

cli="$root/usr/bin/flightdeck"
desktop="$root/usr/bin/flightdeck-desktop"
for f in "$cli" "$desktop" "$root/usr/share/flightdeck/ui/index.html"; do
  [ -f "$f" ] || fail "missing from the package: ${f#"$root"}"
done
ls "$root"/usr/share/applications/*.desktop >/dev/null || fail "no .desktop entry"
for bin in "$cli" "$desktop"; do
  if ldd "$bin" | grep -q "not found"; then
    ldd "$bin" | grep "not found" >&2
    fail "$(basename "$bin") needs libraries this machine lacks"
  fi
done

# A fresh user: nothing of this machine's config, data or tokens.
home="$tmp/home"
mkdir -p "$home"
run() {
  env -i PATH=/usr/bin:/bin HOME="$home" XDG_CONFIG_HOME="$home/config" \
    XDG_DATA_HOME="$home/data" FLIGHTDECK_USER=tester "$@"
}
"$cli" --version | grep -q "$(dpkg-deb -f "$deb" Version)" || fail "flightdeck --version does not say the package's version"
out=$(run "$cli" doctor --port 0) || { echo "$out"; fail "the installed flightdeck doctor failed"; }
echo "$out"
echo "$out" | grep -q "^ok    ui: $root/usr/share/flightdeck/ui" \
  || fail "doctor did not find the package's UI at /usr/share/flightdeck/ui"
echo "$out" | grep -q "^all checks passed" || fail "doctor did not pass"

# The package carries no demo (it is a build feature): not in the help; asked for, it says how
# to get it.
if run "$cli" --help | grep -q demo; then fail "the installed flightdeck's help lists demo"; fi
if out=$(run "$cli" demo --no-open --port 0 2>&1); then fail "the installed flightdeck ran a demo: $out"; fi
echo "$out" | grep -q -- "--features demo" || fail "the installed demo refusal does not say how to get it: $out"

# `serve` from the package, on a fresh git repo: the page and the API answer on the port it
# printed, and the repo is there.
repo="$tmp/repo"
git init -q -b main "$repo"
git -C "$repo" -c user.name=T -c user.email=t@example.com commit -q --allow-empty -m "first"
empty="$tmp/no-agents"
mkdir -p "$empty"
run "$cli" serve --port 0 --repo "$repo" --claude-dir "$empty" --codex-home "$empty" \
  >"$tmp/serve.out" 2>"$tmp/serve.err" &
pids+=($!)
for _ in $(seq 1 60); do
  grep -q "^Flightdeck: http" "$tmp/serve.out" 2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$tmp/serve.err" >&2; fail "the installed serve exited"; }
  sleep 1
done
link=$(sed -n 's/^Flightdeck: \(http[^ ]*\).*/\1/p' "$tmp/serve.out")
[ -n "$link" ] || { cat "$tmp/serve.err" >&2; fail "the installed serve printed no address"; }
url="${link%%login\?code=*}"
# Signed out, the API answers 401; the printed link signs in (a cookie) and lands on the UI.
status=$(curl -sS -o /dev/null -w '%{http_code}' "${url}api/repos")
[ "$status" = 401 ] || fail "the API answered $status to a request without a session"
curl -fsS -L -c "$tmp/cookies" -b "$tmp/cookies" "$link" | grep -q '<div id="root">' \
  || fail "the sign-in link $link did not lead to the packaged UI"
curl -fsS -b "$tmp/cookies" "${url}api/repos" | grep -q '"repo"' \
  || fail "the API at ${url}api/repos does not list the repo"
echo "serve from the package: $url serves the UI and the API with the repo"

# The desktop app starts and stays up (under Xvfb when there is no display).
set +e
if [ -n "${DISPLAY:-}" ]; then
  run env DISPLAY="$DISPLAY" FLIGHTDECK_DATABASE_URL="sqlite://$tmp/desktop.db" \
    timeout 8 "$desktop" 2>"$tmp/desktop.err"
else
  run env FLIGHTDECK_DATABASE_URL="sqlite://$tmp/desktop.db" \
    xvfb-run -a -s "-screen 0 1280x800x24" timeout 8 "$desktop" 2>"$tmp/desktop.err"
fi
code=$?
set -e
[ "$code" = 124 ] || { cat "$tmp/desktop.err" >&2; fail "the installed desktop app exited with $code within 8 s"; }
echo "desktop app from the package: ran for 8 s"
echo "package test passed"
