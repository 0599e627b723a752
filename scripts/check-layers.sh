#!/usr/bin/env bash
# The layering rule, enforced:
# 1. each workspace crate depends only on crates of a lower layer
#      core (and the fakehub test server) <- app <- server <- cli, desktop
#    so the domain never learns of HTTP or Tauri and front ends stay wiring. Reads `cargo
#    metadata` (normal, build and dev dependencies alike); names every edge that points up.
# 2. inside crates/core, the top-level modules import each other without a cycle (a cycle is a
#    lower layer importing a higher one); names the modules of each cycle and one path round it.
# 3. SQL lives in the store: outside crates/core/src/store/ no source file names sqlx (core's
#    error.rs wraps its errors); a metric or feature asks the store for rows. Tests, examples and
#    benches (not scanned) may use the pool.
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

def code_only(text):
    """The text with comments and string and char literals blanked (so `crate::x` in a doc
    line or a message is no import) and every `#[cfg(test)]` item cut out by brace matching
    (code after a test module still counts)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif re.match(r'r#*"', text[i:i + 8]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            i = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            i = text.index("'", i + 1 + (text[i + 1] == "\\")) + 1
        else:
            out.append(c)
            i += 1
    code = "".join(out)
    while True:
        m = re.search(r"#\[cfg\(test\)\]", code)
        if not m:
            return code
        # The item it guards: up to its `;` or through its braces.
        j = m.end()
        while j < len(code) and code[j] not in "{;":
            j += 1
        if j < len(code) and code[j] == "{":
            depth = 0
            for k in range(j, len(code)):
                depth += {"{": 1, "}": -1}.get(code[k], 0)
                if depth == 0:
                    j = k
                    break
        code = code[:m.start()] + code[j + 1:]

def group_heads(group):
    """The first path segment of each item of a `use crate::{...}` group, nested braces and all."""
    heads, depth, start = [], 0, 0
    for k, ch in enumerate(group + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            m = re.match(r"\s*(\w+)", group[start:k])
            if m:
                heads.append(m.group(1))
            start = k + 1
    return heads

def use_groups(code):
    for m in re.finditer(r"use\s+crate::\{", code):
        depth, k = 1, m.end()
        while k < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[k], 0)
            k += 1
        yield code[m.end():k - 1]

files = glob.glob(os.path.join(src_dir, "**", "*.rs"), recursive=True)
real = {os.path.relpath(f, src_dir)[:-3].split(os.sep)[0] for f in files} - {"lib", "main"}
# What the crate root re-exports (`pub use error::{Error, Result};`) is its module's:
# `crate::Result` is an import of `error`.
alias = {}
root = os.path.join(src_dir, "lib.rs")
if os.path.exists(root):
    for m in re.finditer(r"pub\s+use\s+(\w+)::(\{[^}]*\}|\w+)\s*;", code_only(open(root, encoding="utf-8").read())):
        for name in re.findall(r"\w+", m.group(2)):
            alias[name] = m.group(1)
edges = collections.defaultdict(set)
for f in files:
    mod = os.path.relpath(f, src_dir)[:-3].split(os.sep)[0]
    if mod not in real:
        continue
    code = code_only(open(f, encoding="utf-8").read())
    names = set(re.findall(r"crate::(\w+)", code))
    for group in use_groups(code):
        names |= set(group_heads(group))
    targets = {alias.get(x, x) for x in names}
    edges[mod] |= {t for t in targets if t in real} - {mod}
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

# Files under the given source dirs that name sqlx outside the store (comments aside). The first
# argument is the store's crate: its store/ folder and error.rs (which wraps sqlx's errors) may.
sql_outside_store() {
  python3 - "$@" <<'PY'
import glob, os, re, sys
bad = []
home = os.path.normpath(sys.argv[1])
for src in sys.argv[2:]:
    for f in sorted(glob.glob(os.path.join(src, "**", "*.rs"), recursive=True)):
        rel = os.path.relpath(f, src).split(os.sep)
        if os.path.normpath(src) == home and (rel[0] == "store" or rel == ["error.rs"]):
            continue
        for n, line in enumerate(open(f, encoding="utf-8"), 1):
            code = line.split("//")[0]
            if re.search(r"\bsqlx\b", code):
                bad.append(f"{f}:{n}: SQL outside the store ({line.strip()}); add a Store method in crates/core/src/store/")
for b in bad:
    print(f"error: {b}", file=sys.stderr)
if bad:
    sys.exit(1)
print(f"sql ok: no sqlx outside {home}/store/ in {', '.join(sys.argv[2:])}")
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
  # Cycles the reading must not miss: through the root's re-exports (`crate::Result` is
  # error's), after a test module, and through a nested use group.
  mkdir -p "$t/reexport" "$t/aftertest" "$t/nested" "$t/quoted"
  printf 'pub mod audit;\npub mod error;\npub use error::{Error, Result};\n' > "$t/reexport/lib.rs"
  printf 'use crate::audit::AuditError;\n' > "$t/reexport/error.rs"
  printf 'pub fn f() -> crate::Result<()> { Ok(()) }\n' > "$t/reexport/audit.rs"
  printf '#[cfg(test)]\nmod tests {\n    fn t() {}\n}\nuse crate::b::X;\n' > "$t/aftertest/a.rs"
  printf 'use crate::a::Y;\n' > "$t/aftertest/b.rs"
  printf 'use crate::{c::{X, Y}, b};\n' > "$t/nested/a.rs"
  printf 'use crate::a::Z;\n' > "$t/nested/b.rs"
  printf 'pub struct X;\npub struct Y;\n' > "$t/nested/c.rs"
  for tree in reexport aftertest nested; do
    if modules "$t/$tree" 2>/dev/null; then echo "self-test: the $tree cycle passed" >&2; exit 1; fi
  done
  # Not imports: a path in a string, a trailing comment, a block comment, a test module.
  printf 'const S: &str = "crate::b::X"; // crate::b\n/* crate::b */\n#[cfg(test)]\nmod tests {\n    use crate::b::X;\n}\n' > "$t/quoted/a.rs"
  printf 'use crate::a::S;\n' > "$t/quoted/b.rs"
  modules "$t/quoted" >/dev/null || { echo "self-test: a path in a string or comment counted as an import" >&2; exit 1; }
  printf 'pub async fn f(p: &sqlx::AnyPool) {}\n' > "$t/good/store/mod.rs"
  printf '// sqlx in a comment is fine\npub fn g() {}\n' > "$t/good/views.rs"
  sql_outside_store "$t/good" "$t/good" >/dev/null || { echo "self-test: SQL in store/ was refused" >&2; exit 1; }
  printf 'use sqlx::Row;\n' > "$t/bad/a.rs"
  if sql_outside_store "$t/good" "$t/bad" 2>/dev/null; then echo "self-test: sqlx outside store/ passed" >&2; exit 1; fi
  mkdir -p "$t/other/store"; printf 'use sqlx::Row;\n' > "$t/other/store/mod.rs"
  if sql_outside_store "$t/good" "$t/other" 2>/dev/null; then echo "self-test: another crate's store/ was let off" >&2; exit 1; fi
  echo "self-test ok: the good graph passes, 4 bad ones are caught; module cycles are caught (direct, through re-exports, after a test module, in nested groups), strings and comments are not imports; SQL outside the store is caught"
  exit 0
fi

cargo metadata --format-version 1 --no-deps --offline | check
if [ "${1:-}" = "--order" ]; then export LAYERS_ORDER=1; fi
modules crates/core/src
sql_outside_store crates/core/src crates/core/src crates/app/src crates/server/src crates/cli/src src-tauri/src
