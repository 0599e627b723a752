#!/usr/bin/env bash
# The layering rule, enforced:
# 1. each workspace crate depends only on crates of a lower layer
#      core (and the fakehub test server) <- app <- server <- cli, desktop
#    so the domain never learns of HTTP or Tauri and front ends stay wiring. Reads `cargo
#    metadata` (normal, build and dev dependencies alike); names every edge that points up.
# 2. inside crates/core, the top-level modules import each other without a cycle (a cycle is a
#    lower layer importing a higher one); names the modules of each cycle and one path round it.
# 3. SQL lives in the store: outside crates/core/src/store/ no source file names sqlx (error.rs
#    wraps its errors); a metric or feature asks the store for rows. Tests may use the pool.
# `--self-test` checks the checker on made-up graphs and trees: good ones pass, bad ones fail.
# `--order` also prints core's modules from the bottom up (what imports nothing of ours first).
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
        # A crate testing itself with more features (the core tests load the demo workspace).
        if dep == name:
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

# Core's modules: which top-level modules each one names (`crate::m`, `use crate::{m, …}`),
# comments and test modules left out; any cycle fails.
modules() {
  python3 - "$1" <<'PY'
import collections, glob, os, re, sys
src_dir = sys.argv[1]
edges = collections.defaultdict(set)
for f in glob.glob(os.path.join(src_dir, "**", "*.rs"), recursive=True):
    rel = os.path.relpath(f, src_dir)[:-3].split(os.sep)
    mod = rel[0]
    if mod in ("lib", "main"):
        continue
    text = open(f, encoding="utf-8").read()
    text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
    text = "\n".join(l for l in text.split("\n") if not l.lstrip().startswith("//"))
    names = set(re.findall(r"crate::(\w+)", text))
    for group in re.findall(r"use crate::\{([^}]*)\}", text):
        names |= set(re.findall(r"(?:^|,)\s*(\w+)", group))
    edges[mod] |= names - {mod}
# Only modules count (not items the crate root re-exports, like `crate::Error`).
real = {os.path.relpath(f, src_dir)[:-3].split(os.sep)[0]
        for f in glob.glob(os.path.join(src_dir, "**", "*.rs"), recursive=True)} - {"lib", "main"}
edges = {m: {t for t in v if t in real} for m, v in edges.items() if m in real}
nodes = sorted(real)
# Tarjan's strongly connected components, iteratively.
index, low, on, stack, comps, n = {}, {}, set(), [], [], 0
for root in nodes:
    if root in index:
        continue
    work = [(root, iter(sorted(edges.get(root, ()))))]
    index[root] = low[root] = n; n += 1; stack.append(root); on.add(root)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is not None:
            if w not in index:
                index[w] = low[w] = n; n += 1; stack.append(w); on.add(w)
                work.append((w, iter(sorted(edges.get(w, ())))))
            elif w in on:
                low[v] = min(low[v], index[w])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))
for comp in comps:
    inside = set(comp)
    # One path round the cycle, for the reader to break.
    path, seen = [comp[0]], {comp[0]}
    while True:
        nxt = sorted(m for m in edges[path[-1]] if m in inside)
        step = next((m for m in nxt if m not in seen), nxt[0])
        path.append(step)
        if step in seen:
            break
        seen.add(step)
    print(f"error: {src_dir}: modules {', '.join(comp)} import each other in a cycle: "
          f"{' -> '.join(path)}; move what the lower one needs below it", file=sys.stderr)
if comps:
    sys.exit(1)
print(f"modules ok: {len(nodes)} modules of {src_dir}, no import cycle")
if os.environ.get("LAYERS_ORDER"):
    # Each module's height: 0 imports no other module, n imports one of height n-1.
    height = {}
    def h(v):
        if v not in height:
            height[v] = 1 + max((h(w) for w in edges.get(v, ())), default=-1)
        return height[v]
    for v in nodes:
        h(v)
    for level in sorted(set(height.values())):
        print(f"  {level:2}  {' '.join(sorted(v for v in nodes if height[v] == level))}")
PY
}

# Files under the given source dirs that name sqlx outside a store/ folder (comments aside).
sql_outside_store() {
  python3 - "$@" <<'PY'
import glob, os, re, sys
bad = []
for src in sys.argv[1:]:
    for f in sorted(glob.glob(os.path.join(src, "**", "*.rs"), recursive=True)):
        rel = os.path.relpath(f, src).split(os.sep)
        if rel[0] == "store" or rel == ["error.rs"]:
            continue
        for n, line in enumerate(open(f, encoding="utf-8"), 1):
            code = line.split("//")[0]
            if re.search(r"\bsqlx\b", code):
                bad.append(f"{f}:{n}: SQL outside the store ({line.strip()}); add a Store method in crates/core/src/store/")
for b in bad:
    print(f"error: {b}", file=sys.stderr)
if bad:
    sys.exit(1)
print(f"sql ok: no sqlx outside crates/core/src/store/ in {', '.join(sys.argv[1:])}")
PY
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
  t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
  mkdir -p "$t/good/store" "$t/bad"
  printf 'use crate::model::Repo;\n' > "$t/good/store/mod.rs"
  printf '//! Not crate::store, a comment.\npub struct Repo;\n' > "$t/good/model.rs"
  printf 'use crate::{model, store};\n' > "$t/good/views.rs"
  modules "$t/good" >/dev/null || { echo "self-test: an acyclic tree was refused" >&2; exit 1; }
  printf 'use crate::b::X;\n' > "$t/bad/a.rs"
  printf 'pub fn f() { crate::c::g() }\n' > "$t/bad/b.rs"
  printf 'use crate::{a, model};\n' > "$t/bad/c.rs"
  if modules "$t/bad" 2>/dev/null; then echo "self-test: a cycle a -> b -> c -> a passed" >&2; exit 1; fi
  printf 'pub async fn f(p: &sqlx::AnyPool) {}\n' > "$t/good/store/mod.rs"
  printf '// sqlx in a comment is fine\npub fn g() {}\n' > "$t/good/views.rs"
  sql_outside_store "$t/good" >/dev/null || { echo "self-test: SQL in store/ was refused" >&2; exit 1; }
  printf 'use sqlx::Row;\n' > "$t/bad/a.rs"
  if sql_outside_store "$t/bad" 2>/dev/null; then echo "self-test: sqlx outside store/ passed" >&2; exit 1; fi
  echo "self-test ok: the good graph passes, 4 bad ones are caught; a module cycle is caught; SQL outside the store is caught"
  exit 0
fi

cargo metadata --format-version 1 --no-deps --offline | check
if [ "${1:-}" = "--order" ]; then export LAYERS_ORDER=1; fi
modules crates/core/src
sql_outside_store crates/core/src crates/app/src crates/server/src crates/cli/src src-tauri/src
