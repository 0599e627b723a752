#!/usr/bin/env bash
# The layering rule, enforced:
# 1. each workspace crate depends only on crates of a lower layer
#      core (and the fakehub test server) <- app <- server <- cli, desktop
#    so the domain never learns of HTTP or Tauri and front ends stay wiring. Reads `cargo
#    metadata` (normal, build and dev dependencies alike); names every edge that points up.
# 2. inside crates/core, each folder is a layer (LAYER below):
#      model <- store <- sources, forge <- domain <- metrics, views <- the root's files
#    a module imports only from its own layer and lower ones (names each import that points up),
#    and modules never import each other in a cycle (names its modules and one path round it).
# 3. SQL lives in the store: outside crates/core/src/store/ no source file names sqlx (core's
#    model/error.rs wraps its errors); a metric or feature asks the store for rows. Tests, examples and
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

# Core's layers, bottom up: a folder's modules import only from its own layer and those below.
# The crate root's files (config, watch, demo) are the top: they assemble the features.
LAYER = {"model": 0, "stats": 0, "store": 1, "sources": 2, "forge": 2, "domain": 3, "metrics": 4, "views": 4, "notify": 5}
TOP = max(LAYER.values()) + 1
files = glob.glob(os.path.join(src_dir, "**", "*.rs"), recursive=True)
rels = [os.path.relpath(f, src_dir)[:-3].split(os.sep) for f in files]
bad = []
for rel in rels:
    if len(rel) > 1 and rel[0] not in LAYER:
        bad.append(f"{src_dir}/{rel[0]}/: a folder without a layer; give it one in LAYER of scripts/check-layers.sh")
bad = sorted(set(bad))

def unit_of_file(rel):
    """The module a file belongs to for the cycle check: a layer folder's child (`domain::work`,
    its subfolder included), the folder's own mod.rs (`model`), or a root file (`config`)."""
    if len(rel) == 1 or rel[1] == "mod":
        return rel[0]
    return f"{rel[0]}::{rel[1]}"

children = collections.defaultdict(set)
for rel in rels:
    if len(rel) > 1 and rel[1] != "mod":
        children[rel[0]].add(rel[1])
tops = {rel[0] for rel in rels} - {"lib", "main"}

def unit_of_path(segs):
    """The module a `crate::a::b::…` path names, or None when it is not one of ours."""
    if not segs or segs[0] not in tops:
        return None
    if len(segs) > 1 and segs[1] in children.get(segs[0], ()):
        return f"{segs[0]}::{segs[1]}"
    return segs[0]

def layer(unit):
    return LAYER.get(unit.split("::")[0], TOP)

def group_paths(prefix, group):
    """Every path a `use crate::{…}` group names, nested groups expanded."""
    out, depth, start = [], 0, 0
    for k, ch in enumerate(group + ","):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            item = group[start:k].strip()
            start = k + 1
            m = re.match(r"([\w:]*?)(?:::)?\{(.*)\}$", item, re.S)
            if m:
                out += group_paths(prefix + [s for s in m.group(1).split("::") if s], m.group(2))
            elif item:
                out.append(prefix + [s for s in item.split(" as ")[0].split("::") if s])
    return out

def use_groups(code):
    for m in re.finditer(r"crate::((?:\w+::)*)\{", code):
        depth, k = 1, m.end()
        while k < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[k], 0)
            k += 1
        yield [s for s in m.group(1).split("::") if s], code[m.end():k - 1]

# What the crate root re-exports (`pub use model::error::{Error, Result};`) is its module's:
# `crate::Result` is an import of `model::error`.
alias = {}
root = os.path.join(src_dir, "lib.rs")
if os.path.exists(root):
    for m in re.finditer(r"pub\s+use\s+((?:\w+::)+)(\{[^}]*\}|\w+)\s*;", code_only(open(root, encoding="utf-8").read())):
        for name in re.findall(r"\w+", m.group(2)):
            alias[name] = [s for s in m.group(1).split("::") if s]
edges = collections.defaultdict(set)
for f, rel in zip(files, rels):
    if rel[0] in ("lib", "main"):
        continue
    me = unit_of_file(rel)
    code = code_only(open(f, encoding="utf-8").read())
    paths = [re.findall(r"\w+", p.group(1)) for p in re.finditer(r"crate((?:::\w+)+)", code)]
    for prefix, group in use_groups(code):
        paths += group_paths(prefix, group)
    for segs in paths:
        if segs and segs[0] in alias:
            segs = alias[segs[0]] + segs[1:]
        to = unit_of_path(segs)
        if to and to != me:
            edges[me].add(to)
nodes = sorted({unit_of_file(r) for r in rels if r[0] not in ("lib", "main")})
for v in nodes:
    for w in sorted(edges.get(v, ())):
        if layer(w) > layer(v):
            bad.append(f"{src_dir}: {v} (layer {layer(v)}) imports {w} (layer {layer(w)}): a layer "
                       "imports only from its own and lower ones; move what it needs down")
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
    bad.append(f"{src_dir}: modules {', '.join(comp)} import each other in a cycle: "
               f"{' -> '.join(path)}; move what the lower one needs below it")
for b in bad:
    print(f"error: {b}", file=sys.stderr)
if bad:
    sys.exit(1)
print(f"modules ok: {len(nodes)} modules of {src_dir} in {len(set(map(layer, nodes)))} layers, each importing only its own layer and lower ones, no import cycle")
if os.environ.get("LAYERS_ORDER"):
    for level in sorted(set(map(layer, nodes))):
        print(f"  {level}  {' '.join(v for v in nodes if layer(v) == level)}")
PY
}

# Files under the given source dirs that name sqlx outside the store (comments aside). The first
# argument is the store's crate: its store/ folder and model/error.rs (which wraps sqlx's errors) may.
sql_outside_store() {
  python3 - "$@" <<'PY'
import glob, os, re, sys
bad = []
home = os.path.normpath(sys.argv[1])
for src in sys.argv[2:]:
    for f in sorted(glob.glob(os.path.join(src, "**", "*.rs"), recursive=True)):
        rel = os.path.relpath(f, src).split(os.sep)
        if os.path.normpath(src) == home and (rel[0] == "store" or rel == ["model", "error.rs"]):
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
  mkdir -p "$t/good/store" "$t/good/model" "$t/good/domain" "$t/good/views" "$t/bad"
  printf 'pub mod days;\npub struct Repo;\n' > "$t/good/model/mod.rs"
  printf '//! Not crate::store, a comment.\npub fn of() {}\n' > "$t/good/model/days.rs"
  printf 'use crate::model::Repo;\n' > "$t/good/store/mod.rs"
  printf 'use crate::{model::days, store::Store};\n' > "$t/good/domain/work.rs"
  printf 'use crate::{domain::work, model, store};\n' > "$t/good/views/mod.rs"
  printf 'use crate::views;\n' > "$t/good/config.rs"
  modules "$t/good" >/dev/null || { echo "self-test: a layered acyclic tree was refused" >&2; exit 1; }
  # Imports that point up a layer: directly, in a group, through the root's re-export; a
  # folder without a layer; a cycle between two folders of one layer.
  up() { rm -rf "$t/up"; cp -r "$t/good" "$t/up"; }
  up; printf 'use crate::domain::work::X;\n' >> "$t/up/store/mod.rs"
  if modules "$t/up" 2>/dev/null; then echo "self-test: store importing domain passed" >&2; exit 1; fi
  up; printf 'use crate::{store::Store};\n' >> "$t/up/model/days.rs"
  if modules "$t/up" 2>/dev/null; then echo "self-test: model importing store in a group passed" >&2; exit 1; fi
  up; printf 'pub mod views;\npub use views::{Board};\n' > "$t/up/lib.rs"; printf 'fn f(_: crate::Board) {}\n' >> "$t/up/store/mod.rs"
  if modules "$t/up" 2>/dev/null; then echo "self-test: store importing views through a re-export passed" >&2; exit 1; fi
  up; mkdir -p "$t/up/misc"; printf 'pub fn f() {}\n' > "$t/up/misc/x.rs"
  if modules "$t/up" 2>/dev/null; then echo "self-test: a folder without a layer passed" >&2; exit 1; fi
  up; mkdir -p "$t/up/sources" "$t/up/forge"; printf 'use crate::forge::github::X;\n' > "$t/up/sources/git.rs"; printf 'use crate::sources::git::Y;\n' > "$t/up/forge/github.rs"
  if modules "$t/up" 2>/dev/null; then echo "self-test: a cycle between sources and forge passed" >&2; exit 1; fi
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
  printf 'pub enum E { Db(sqlx::Error) }\n' > "$t/good/model/error.rs"
  printf '// sqlx in a comment is fine\npub fn g() {}\n' > "$t/good/views/mod.rs"
  sql_outside_store "$t/good" "$t/good" >/dev/null || { echo "self-test: SQL in store/ was refused" >&2; exit 1; }
  printf 'use sqlx::Row;\n' > "$t/bad/a.rs"
  if sql_outside_store "$t/good" "$t/bad" 2>/dev/null; then echo "self-test: sqlx outside store/ passed" >&2; exit 1; fi
  mkdir -p "$t/other/store"; printf 'use sqlx::Row;\n' > "$t/other/store/mod.rs"
  if sql_outside_store "$t/good" "$t/other" 2>/dev/null; then echo "self-test: another crate's store/ was let off" >&2; exit 1; fi
  echo "self-test ok: the good graph passes, 4 bad ones are caught; imports up a layer are caught (direct, in a group, through a re-export), as are a folder without a layer and module cycles (direct, through re-exports, after a test module, in nested groups), strings and comments are not imports; SQL outside the store is caught"
  exit 0
fi

cargo metadata --format-version 1 --no-deps --offline | check
if [ "${1:-}" = "--order" ]; then export LAYERS_ORDER=1; fi
modules crates/core/src
sql_outside_store crates/core/src crates/core/src crates/app/src crates/server/src crates/cli/src src-tauri/src
