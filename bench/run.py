#!/usr/bin/env python3
"""Flightdeck benchmarks against their peers, in one run, printing figures and ratios.

  agent logs  `flightdeck ingest` + `report usage --by day --json` vs `ccusage daily --json
              --offline` (npm ccusage, its native binary) on the same generated Claude Code
              corpus: cold, and again on the unchanged corpus; peak memory at two corpus sizes.
  git         `flightdeck ingest --repo` (commits + diffstat) vs `git log --all --numstat` on a
              generated repository of 100k+ commits.
  live        a line appended to a log / a commit → the `changed` event on /api/events, p50/p99.
  rollup      the spend rollup over BENCH_RECORDS usage records (default 10 million) in SQLite:
              each report, budget status, concentration and the whole Spend view, against the
              same sums from the raw records; the incremental rebuild after one new session.
  dora        DORA and cycle time over BENCH_DORA_COMMITS commits (default 1 million) and
              BENCH_DORA_DEPLOYS deploys (default 100,000) in SQLite, for 90 days and two
              years, checked against a full sort of the raw rows; with BENCH_PG_URL (a
              PostgreSQL server URL whose user may create databases) in PostgreSQL too.
  decide      decision latency with 1,000 decisions queued for GitHub and GitHub unreachable
  team        10 instances ingesting at once into one PostgreSQL (each its own clones of the
              same 3 repos and its own agent logs) against one instance alone: wall time, no
              deadlock (every ingest exits 0), no duplicate (rows as one reader counts them);
              then the API's p50/p99 with 10 UIs open (an event stream each, views refetched).
  experiments BENCH_EXPERIMENT_ROWS per-unit rows (default 10 million) of a CSV to a full
              scorecard (`flightdeck experiment import --json`: read, store, judge) against
              pandas reading the same file and summing it per variation (the step before any
              Python stats engine, gbstats included, can run); seconds and peak memory.
  load        a team-scale store (50 repos, 2,000 open pull requests, 1M commits, 10M usage
              records, 100k deploys; BENCH_LOAD_SCALE=0.1 for a tenth) served by `flightdeck serve`:
              each view once (cold: computed from the store), then BENCH_LOAD_CLIENTS clients
              (default 50) fetching every view and chart as fast as answers come for
              BENCH_LOAD_SECONDS (default 60), each holding the event stream open
              (examples/load.rs): p50/p99/max per view, errors. Target: p99 under 100 ms.
  soak        BENCH_SOAK_SECONDS (default 3600) of serve on that store with live ingest (a commit
              every 10 s in a watched repo, an agent-log line every 2 s), a fake GitHub changing a
              pull request every 5 s (examples/soak_hub.rs), synced every 30 s, and 20 UIs polling
              every view (one request each per second) with the event stream open: the server's
              memory, open files and sockets sampled every 30 s; every stream's event ids checked
              for gaps; errors counted.
  relay       an event on one instance heard on another through PostgreSQL LISTEN/NOTIFY
              (connection refused, no DNS answer, a port that never answers): 200 approvals
              through the API's router and 20 `flightdeck approve` processes, p50/p99.

Run through scripts/bench.sh (builds the release binary and installs the peers).
Environment: BENCH_MB (corpus size, default 1024), BENCH_COMMITS (default 100000),
BENCH_LIVE_SAMPLES (default 200), BENCH_RECORDS (default 10000000), BENCH_DIR (scratch,
default a temp dir), BENCH_TEAM_COMMITS (per repo, default 3000), BENCH_TEAM_SESSIONS (per
instance, default 200), BENCH_EXPERIMENT_ROWS (default 10000000), BENCH_EXPERIMENTS (scorecards
served, default 500), BENCH_ONLY (a comma list of
sections: logs, git, live, rollup, dora, decide, relay, team, experiments, load, soak; default
all).
"""
import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FD = os.path.join(ROOT, "target/release/flightdeck")
GEN = os.path.join(ROOT, "target/release/examples/gen_claude_corpus")
ROLLUPS = os.path.join(ROOT, "target/release/examples/bench_rollups")
DORA = os.path.join(ROOT, "target/release/examples/bench_dora")
DECIDE = os.path.join(ROOT, "target/release/examples/bench_decide")
RELAY = os.path.join(ROOT, "target/release/examples/bench_relay")
GEN_ROWS = os.path.join(ROOT, "target/release/examples/gen_experiment_rows")
CCUSAGE = os.path.join(ROOT, "bench/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage")
GEN_TEAM = os.path.join(ROOT, "target/release/examples/gen_team_store")
LOAD = os.path.join(ROOT, "target/release/examples/load")
SOAK_HUB = os.path.join(ROOT, "target/release/examples/soak_hub")



def empty_dir(parent):
    """An empty folder standing for a log source that is not used: a named folder that is
    missing fails the ingest."""
    path = os.path.join(parent, "none")
    os.makedirs(path, exist_ok=True)
    return path

def timed(cmd, env=None, stdout=subprocess.DEVNULL):
    """Runs cmd under GNU time; returns (seconds, peak RSS MB, stdout bytes or None)."""
    with tempfile.NamedTemporaryFile("r") as t:
        out = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", t.name] + cmd,
                             env=env, stdout=stdout, stderr=subprocess.PIPE, check=False)
        if out.returncode != 0:
            sys.exit(f"error: {' '.join(cmd)} failed: {out.stderr.decode()[-2000:]}")
        secs, kb = t.read().split()
        return float(secs), int(kb) / 1024, out.stdout


def fd_env(scratch):
    env = dict(os.environ)
    env.update(HOME=os.path.join(scratch, "home"), XDG_DATA_HOME=os.path.join(scratch, "home/data"),
               XDG_CONFIG_HOME=os.path.join(scratch, "home/config"))
    for k in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "GEMINI_DATA_DIR", "FLIGHTDECK_DATABASE_URL"):
        env.pop(k, None)
    return env


def fd_ingest_and_report(scratch, corpus, db):
    env = fd_env(scratch)
    common = [FD, "--database-url", db]
    t1, m1, _ = timed(common + ["ingest", "--claude-dir", corpus, "--codex-home", empty_dir(scratch),
                                "--gemini-dir", empty_dir(scratch), "--generic-dir", empty_dir(scratch)], env)
    t2, m2, out = timed(common + ["report", "usage", "--by", "day", "--json"], env, stdout=subprocess.PIPE)
    return t1 + t2, max(m1, m2), json.loads(out)


def ccusage_daily(scratch, corpus):
    env = dict(os.environ, CLAUDE_CONFIG_DIR=corpus, HOME=os.path.join(scratch, "home"))
    t, m, out = timed([CCUSAGE, "daily", "--json", "--offline"], env, stdout=subprocess.PIPE)
    return t, m, json.loads(out)


def agent_logs(scratch, mb):
    corpus = os.path.join(scratch, f"corpus-{mb}")
    if not os.path.isdir(corpus):
        subprocess.run([GEN, corpus, str(mb)], check=True)
    db = os.path.join(scratch, f"fd-{mb}.db")
    for f in (db, db + "-wal", db + "-shm"):
        if os.path.exists(f):
            os.remove(f)
    cold, cold_mem, fd = fd_ingest_and_report(scratch, corpus, db)
    cc, cc_mem, ccj = ccusage_daily(scratch, corpus)
    warm, warm_mem, fd2 = fd_ingest_and_report(scratch, corpus, db)
    cc2, _, _ = ccusage_daily(scratch, corpus)
    t, c = fd["total"], ccj["totals"]
    same = (t["tokens"]["input"] == c["inputTokens"] and t["tokens"]["output"] == c["outputTokens"]
            and t["tokens"]["cache_write"] == c["cacheCreationTokens"]
            and t["tokens"]["cache_read"] == c["cacheReadTokens"]
            and abs(t["cost_usd"] - c["totalCost"]) < 1e-6 * max(1.0, c["totalCost"])
            and fd2["total"] == fd["total"])
    return dict(mb=mb, cold=cold, cold_mem=cold_mem, cc=cc, cc_mem=cc_mem, warm=warm, warm_mem=warm_mem,
                cc2=cc2, same=same, cost=t["cost_usd"])


def build_repo(path, commits):
    """A repository of `commits` commits (2-3 files changed each) via git fast-import."""
    if os.path.isdir(os.path.join(path, ".git")):
        return
    os.makedirs(path)
    subprocess.run(["git", "init", "-q", "-b", "main", path], check=True)
    p = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=path, stdin=subprocess.PIPE)
    w = p.stdin
    t0 = 1_600_000_000
    for i in range(1, commits + 1):
        msg = f"Change {i}\n" + ("\nCo-Authored-By: Claude <noreply@anthropic.com>\n" if i % 3 == 0 else "")
        w.write(f"commit refs/heads/main\nmark :{i}\nauthor Dev {i % 7} <dev{i % 7}@acme.dev> {t0 + i * 60} +0000\n"
                f"committer Dev {i % 7} <dev{i % 7}@acme.dev> {t0 + i * 60} +0000\ndata {len(msg)}\n{msg}".encode())
        if i > 1:
            w.write(f"from :{i - 1}\n".encode())
        for k in range(2 + i % 2):
            body = "".join(f"line {j} of file {(i + k) % 500} at {i}\n" for j in range(8)).encode()
            w.write(f"M 100644 inline src/f{(i + k) % 500}.txt\ndata {len(body)}\n".encode() + body)
        w.write(b"\n")
    w.close()
    if p.wait() != 0:
        sys.exit("error: git fast-import failed")
    subprocess.run(["git", "checkout", "-q", "main"], cwd=path, check=True)


def git_scan(scratch, commits):
    repo = os.path.join(scratch, f"repo-{commits}")
    build_repo(repo, commits)
    db = os.path.join(scratch, f"git-{commits}.db")
    for f in (db, db + "-wal", db + "-shm"):
        if os.path.exists(f):
            os.remove(f)
    none = empty_dir(scratch)
    fd, fd_mem, _ = timed([FD, "--database-url", db, "ingest", "--repo", repo, "--claude-dir", none,
                           "--codex-home", none, "--gemini-dir", none, "--generic-dir", none], fd_env(scratch))
    log = ["git", "-C", repo, "log", "--all", "--numstat", "--format=%H %an %ae %at %ct %s"]
    gl, gl_mem, _ = timed(log)
    # Same numbers, not only the same speed: files, lines added and removed over all commits.
    # (No renames in the generated history, so numstat's rename detection changes nothing.)
    want = [0, 0, 0]
    for line in subprocess.run(log, check=True, stdout=subprocess.PIPE, text=True).stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():
            want = [want[0] + 1, want[1] + int(parts[0]), want[2] + int(parts[1])]
    with sqlite3.connect(db) as con:
        got = list(con.execute("SELECT SUM(files_changed), SUM(insertions), SUM(deletions) FROM commits").fetchone())
    return dict(commits=commits, fd=fd, fd_mem=fd_mem, git=gl, git_mem=gl_mem, same=got == want, got=got, want=want)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def live(scratch, samples):
    logs = os.path.join(scratch, "live-claude")
    proj = os.path.join(logs, "projects", "-w")
    os.makedirs(proj, exist_ok=True)
    repo = os.path.join(scratch, "live-repo")
    if not os.path.isdir(repo):
        subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
        subprocess.run(["git", "-C", repo, "-c", "user.name=A", "-c", "user.email=a@x", "commit", "-q",
                        "--allow-empty", "-m", "init"], check=True)
    port = free_port()
    none = empty_dir(scratch)
    db = os.path.join(scratch, "live.db")
    server = subprocess.Popen([FD, "--database-url", db, "serve", "--port", str(port), "--rescan-secs", "3600",
                               "--repo", repo, "--claude-dir", logs, "--codex-home", none, "--gemini-dir", none,
                               "--generic-dir", none], env=fd_env(scratch),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/api/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/events")
        resp = conn.getresponse()
        events = []
        cond = threading.Condition()

        def reader():
            for raw in resp:
                if raw.startswith(b"data:"):
                    with cond:
                        events.append(time.monotonic())
                        cond.notify_all()
        threading.Thread(target=reader, daemon=True).start()
        time.sleep(0.5)

        def wait_event(n_before, t0):
            with cond:
                cond.wait_for(lambda: len(events) > n_before, timeout=5)
                return (events[n_before] - t0) * 1000 if len(events) > n_before else None

        log_lat, git_lat = [], []
        path = os.path.join(proj, "live.jsonl")
        for i in range(samples):
            line = json.dumps({"type": "assistant", "timestamp": "2026-11-25T10:00:00.000Z", "requestId": f"r{i}",
                               "message": {"id": f"m{i}", "model": "claude-sonnet-4-5", "role": "assistant",
                                           "content": [], "usage": {"input_tokens": 1, "output_tokens": 1}}})
            n = len(events)
            t0 = time.monotonic()
            with open(path, "a") as f:
                f.write(line + "\n")
            lat = wait_event(n, t0)
            if lat is not None:
                log_lat.append(lat)
            time.sleep(0.15)  # let the debounce window close before the next sample
        for i in range(max(20, samples // 10)):
            n = len(events)
            t0 = time.monotonic()
            subprocess.run(["git", "-C", repo, "-c", "user.name=A", "-c", "user.email=a@x", "commit", "-q",
                            "--allow-empty", "-m", f"c{i}"], check=True)
            lat = wait_event(n, t0)
            if lat is not None:
                git_lat.append(lat)
            time.sleep(0.15)
        return dict(log=log_lat, git=git_lat, samples=samples)
    finally:
        server.terminate()
        server.wait()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def main():
    only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
    sections = ["logs", "git", "live", "rollup", "dora", "decide", "relay", "team", "experiments", "load", "soak"]
    unknown = only - set(sections)
    if unknown:
        sys.exit(f"error: BENCH_ONLY: unknown section(s) {', '.join(sorted(unknown))} ({', '.join(sections)})")
    run = lambda section: not only or section in only
    needed = [("flightdeck", FD)] if any(run(s) for s in ("logs", "git", "live", "decide", "team", "experiments", "load", "soak")) else []
    needed += [("team store generator", GEN_TEAM), ("load generator", LOAD)] if run("load") or run("soak") else []
    needed += [("soak GitHub", SOAK_HUB)] if run("soak") else []
    needed += [("experiment row generator", GEN_ROWS)] if run("experiments") else []
    needed += [("corpus generator", GEN), ("ccusage", CCUSAGE)] if run("logs") else []
    needed += [("rollup bench", ROLLUPS)] if run("rollup") else []
    needed += [("dora bench", DORA)] if run("dora") else []
    needed += [("decision bench", DECIDE)] if run("decide") else []
    needed += [("relay bench", RELAY)] if run("relay") else []
    for tool, path in needed:
        if not os.path.exists(path):
            sys.exit(f"error: {tool} not found at {path}; run scripts/bench.sh")
    if run("logs"):
        # npm unpacks the optional native package without its exec bit; ccusage's launcher sets it.
        os.chmod(CCUSAGE, 0o755)
    mb = int(os.environ.get("BENCH_MB", "1024"))
    commits = int(os.environ.get("BENCH_COMMITS", "100000"))
    samples = int(os.environ.get("BENCH_LIVE_SAMPLES", "200"))
    scratch = os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="flightdeck-bench-")
    os.makedirs(empty_dir(scratch), exist_ok=True)
    print(f"scratch: {scratch}")

    if run("logs"):
        agent_log_section(scratch, mb)
    if run("git"):
        git_section(scratch, commits)
    if run("live"):
        live_section(scratch, samples)
    if run("rollup"):
        rollup_section(scratch, int(os.environ.get("BENCH_RECORDS", "10000000")))
    if run("dora"):
        dora_section(scratch, int(os.environ.get("BENCH_DORA_COMMITS", "1000000")),
                     int(os.environ.get("BENCH_DORA_DEPLOYS", "100000")))
    if run("decide"):
        print("\n== decisions with the forge down: recording a decision, 1,000 queued (target: p99 under 200 ms)")
        subprocess.run([DECIDE, FD], check=True)
    if run("relay"):
        relay_section()
    if run("team"):
        team_section(scratch, int(os.environ.get("BENCH_TEAM_COMMITS", "3000")),
                     int(os.environ.get("BENCH_TEAM_SESSIONS", "200")))
    if run("experiments"):
        experiments_section(scratch, int(os.environ.get("BENCH_EXPERIMENT_ROWS", "10000000")))
    if run("load") or run("soak"):
        db = team_store(scratch, float(os.environ.get("BENCH_LOAD_SCALE", "1")))
        if run("load"):
            load_section(scratch, db, int(os.environ.get("BENCH_LOAD_CLIENTS", "50")),
                         int(os.environ.get("BENCH_LOAD_SECONDS", "60")))
        if run("soak"):
            soak_section(scratch, db, int(os.environ.get("BENCH_SOAK_SECONDS", "3600")))
    if not os.environ.get("BENCH_DIR"):
        shutil.rmtree(scratch, ignore_errors=True)


PANDAS_PEER = """
import sys, pandas as pd
df = pd.read_csv(sys.argv[1], usecols=["variation", "converted", "revenue", "revenue_denominator", "load_ms", "load_ms_pre"])
for c in ["converted", "revenue", "revenue_denominator", "load_ms", "load_ms_pre"]:
    df[c + "_sq"] = df[c] * df[c]
df["rev_x_den"] = df["revenue"] * df["revenue_denominator"]
df["load_x_pre"] = df["load_ms"] * df["load_ms_pre"]
sums = df.groupby("variation").agg(["count", "sum"])
print(sums.to_json())
"""


def experiments_section(scratch, rows):
    print(f"\n== experiments: {rows:,} per-unit rows (CSV) to a full scorecard (target: under 3 s, under 200 MB)")
    path = os.path.join(scratch, "experiment-rows.csv")
    subprocess.run([GEN_ROWS, path, str(rows)], check=True)
    size_mb = os.path.getsize(path) / 1e6
    env = fd_env(scratch)
    db = os.path.join(scratch, "experiments.db")
    secs, mb, out = timed([FD, "--database-url", db, "experiment", "import", path, "--experiment", "bench",
                           "--guardrail", "load_ms", "--inverse", "load_ms", "--json"], env, stdout=subprocess.PIPE)
    card = json.loads(out)
    units = card["units"]
    lift = card["metrics"][0]["variations"][0]["lift"]["estimate"]
    try:
        import pandas  # noqa: F401
        psecs, pmb, _ = timed([sys.executable, "-c", PANDAS_PEER, path], stdout=subprocess.PIPE)
        peer = f"{psecs:>9.2f} {pmb:>9.0f}"
    except ImportError:
        peer = "  (pandas not installed)"
    print(f"{'file MB':>8} {'units':>11} {'fd s':>6} {'fd MB':>6} {'pandas s':>9} {'pandas MB':>9}  converted lift")
    print(f"{size_mb:>8.0f} {units:>11,.0f} {secs:>6.2f} {mb:>6.0f} {peer}  {lift:+.4f}")
    parquet_section(scratch, rows)
    warehouse_section(scratch, path, rows)
    os.remove(path)
    scorecard_api_section(scratch, int(os.environ.get("BENCH_EXPERIMENTS", "500")))


PANDAS_PARQUET_PEER = PANDAS_PEER.replace(
    'pd.read_csv(sys.argv[1], usecols=', 'pd.read_parquet(sys.argv[1], columns=')


def parquet_section(scratch, rows):
    """The same rows as Parquet (Snappy, row groups of a million rows)."""
    print(f"\n== experiments: {rows:,} per-unit rows (Parquet) to a full scorecard (target: under 3 s, under 200 MB)")
    path = os.path.join(scratch, "experiment-rows.parquet")
    subprocess.run([GEN_ROWS, path, str(rows)], check=True)
    size_mb = os.path.getsize(path) / 1e6
    env = fd_env(scratch)
    db = os.path.join(scratch, "experiments-parquet.db")
    secs, mb, out = timed([FD, "--database-url", db, "experiment", "import", path, "--experiment", "bench",
                           "--guardrail", "load_ms", "--inverse", "load_ms", "--json"], env, stdout=subprocess.PIPE)
    card = json.loads(out)
    lift = card["metrics"][0]["variations"][0]["lift"]["estimate"]
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
        psecs, pmb, _ = timed([sys.executable, "-c", PANDAS_PARQUET_PEER, path], stdout=subprocess.PIPE)
        peer = f"{psecs:>9.2f} {pmb:>9.0f}"
    except ImportError:
        peer = "  (pandas or pyarrow not installed)"
    print(f"{'file MB':>8} {'units':>11} {'fd s':>6} {'fd MB':>6} {'pandas s':>9} {'pandas MB':>9}  converted lift")
    print(f"{size_mb:>8.0f} {card['units']:>11,.0f} {secs:>6.2f} {mb:>6.0f} {peer}  {lift:+.4f}")
    os.remove(path)


WAREHOUSE_METRICS = [("converted", "converted", None, None), ("revenue", "revenue", "revenue_denominator", None),
                     ("load_ms", "load_ms", None, "load_ms_pre")]


def warehouse_section(scratch, csv_path, rows):
    """The same rows in a PostgreSQL table, imported through `experiment warehouse`: per-unit
    queries (every row streamed to flightdeck) and aggregate queries (PostgreSQL sums); beside
    it, psql running the aggregate queries alone (what the warehouse itself takes)."""
    admin = os.environ.get("FLIGHTDECK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    print(f"\n== experiments: {rows:,} per-unit rows from a PostgreSQL warehouse to a full scorecard (target: under 5 s)")
    try:
        url = pg_db(admin, "fd_bench_warehouse")
    except (subprocess.CalledProcessError, FileNotFoundError):
        print(f"  (PostgreSQL at {admin} not reachable: not measured)")
        return
    try:
        subprocess.run(["psql", url, "-q", "-c", "CREATE UNLOGGED TABLE units (unit_id text, variation text, "
                        "exposed_at bigint, converted int, revenue float8, revenue_denominator int, load_ms float8, "
                        "load_ms_pre float8)"], check=True, stdout=subprocess.DEVNULL)
        t = time.monotonic()
        subprocess.run(["psql", url, "-q", "-c", f"\\copy units FROM '{csv_path}' CSV HEADER"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["psql", url, "-q", "-c", "VACUUM ANALYZE units"], check=True, stdout=subprocess.DEVNULL)
        print(f"  (loaded into PostgreSQL in {time.monotonic() - t:.1f} s)")
        env = fd_env(scratch)
        env["FLIGHTDECK_WAREHOUSE_URL"] = url
        per_unit, aggregate = [], []
        for name, col, den, pre in WAREHOUSE_METRICS:
            extra = (f", {den} AS denominator" if den else "") + (f", {pre} AS pre" if pre else "")
            per_unit.append((name, f"SELECT variation, {col} AS value{extra} FROM units"))
            agg = f"count(*) AS n, sum({col}) AS sum, sum({col}::float8 * {col}) AS sum_squares"
            if den:
                agg += (f", sum({den}) AS denominator_sum, sum({den}::float8 * {den}) AS denominator_sum_squares, "
                        f"sum({col}::float8 * {den}) AS sum_products")
            if pre:
                agg += f", sum({pre}) AS pre_sum, sum({pre} * {pre}) AS pre_sum_squares, sum({col} * {pre}) AS pre_sum_products"
            aggregate.append((name, f"SELECT variation, {agg} FROM units GROUP BY variation"))
        print(f"  {'queries':<12} {'fd s':>6} {'fd MB':>6}   {'psql alone s':>12}  converted lift")
        for label, queries in (("per-unit", per_unit), ("aggregates", aggregate)):
            spec = os.path.join(scratch, f"warehouse-{label}.toml")
            with open(spec, "w") as f:
                f.write('experiment = "bench-warehouse"\nvariations = ["control", "treatment"]\n')
                for name, q in queries:
                    f.write(f'[[metrics]]\nname = "{name}"\nquery = "{q}"\n')
            db = os.path.join(scratch, f"warehouse-{label}.db")
            secs, mb, out = timed([FD, "--database-url", db, "experiment", "warehouse", spec, "--json"], env,
                                  stdout=subprocess.PIPE)
            lift = json.loads(out)["metrics"][0]["variations"][0]["lift"]["estimate"]
            alone = "-"
            if label == "aggregates":
                t = time.monotonic()
                for _, q in queries:
                    subprocess.run(["psql", url, "-At", "-c", q], check=True, stdout=subprocess.DEVNULL)
                alone = f"{time.monotonic() - t:.2f}"
            print(f"  {label:<12} {secs:>6.2f} {mb:>6.0f}   {alone:>12}  {lift:+.4f}")
    finally:
        pg_db(admin, "fd_bench_warehouse", drop_only=True)


def scorecard_api_section(scratch, n, requests=1000):
    """`n` experiments (3 metrics x 3 variations each, as aggregates), served: latency of one
    scorecard (`/api/experiments/ID`) and of the whole list (`/api/experiments`)."""
    import random
    print(f"\n== experiments: scorecard API over {n} experiments (target: p99 under 50 ms)")
    env = fd_env(scratch)
    db = os.path.join(scratch, "scorecards.db")
    rng = random.Random(16)
    for k in range(n):
        path = os.path.join(scratch, f"agg-{k}.csv")
        with open(path, "w") as f:
            f.write("variation,metric,n,sum,sum_squares\n")
            for v in ("control", "b", "c"):
                units = 5000 + rng.randrange(200)
                conv = int(units * (0.10 + rng.random() * 0.02))
                f.write(f"{v},signed_up,{units},{conv},{conv}\n")
                mean = 40 + rng.random()
                f.write(f"{v},minutes,{units},{units * mean:.3f},{(units - 1) * 400 + units * mean * mean:.3f}\n")
                f.write(f"{v},errors,{units},{units * 0.02:.3f},{units * 0.05:.3f}\n")
        subprocess.run([FD, "--database-url", db, "experiment", "import", path, "--experiment", f"exp-{k}",
                        "--guardrail", "errors", "--inverse", "errors"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        os.remove(path)
    token = "bench-token-0123456789abcdef"
    server = subprocess.Popen([FD, "--database-url", db, "serve", "--port", "0", "--token", token,
                               "--claude-dir", empty_dir(scratch), "--codex-home", empty_dir(scratch)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        for line in server.stdout:
            if "/login?code=" in line and "http://127.0.0.1:" in line:
                port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
                break
        if port is None:
            print("  (serve did not start)")
            return
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        auth = {"Authorization": f"Bearer {token}"}
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def timed_get(path):
            t = time.monotonic()
            c.request("GET", path, headers=auth)
            r = c.getresponse()
            body = r.read()
            if r.status != 200:
                sys.exit(f"error: {path} answered {r.status}: {body[:200]!r}")
            return (time.monotonic() - t) * 1000

        one = [timed_get(f"/api/experiments/exp-{rng.randrange(n)}") for _ in range(requests)]
        every = [timed_get("/api/experiments") for _ in range(30)]
        print(f"  one scorecard ({requests} requests): p50 {pct(one, 50):.1f} ms, p99 {pct(one, 99):.1f} ms")
        print(f"  all {n} scorecards (30 requests): p50 {pct(every, 50):.1f} ms, p99 {pct(every, 99):.1f} ms")
    finally:
        server.terminate()
        server.wait()


def agent_log_section(scratch, mb):
    print("\n== agent logs: flightdeck ingest + report usage --by day --json vs ccusage daily --json --offline")
    print(f"{'corpus':>8} {'fd cold s':>10} {'ccusage s':>10} {'cold ratio':>11} {'fd warm s':>10} "
          f"{'ccusage s':>10} {'warm speedup':>13} {'fd MB':>7} {'ccusage MB':>11} {'same totals':>12}")
    for size in sorted({max(64, mb // 4), mb}):
        r = agent_logs(scratch, size)
        print(f"{str(size) + ' MB':>8} {r['cold']:>10.2f} {r['cc']:>10.2f} {r['cold'] / r['cc']:>10.2f}x "
              f"{r['warm']:>10.2f} {r['cc2']:>10.2f} {r['cc2'] / max(r['warm'], 0.01):>12.1f}x "
              f"{r['cold_mem']:>7.0f} {r['cc_mem']:>11.0f} {str(r['same']):>12}")
        if not r["same"]:
            print("  warning: totals differ from ccusage's")


def git_section(scratch, commits):
    print(f"\n== git: flightdeck ingest --repo vs git log --all --numstat ({commits} commits)")
    g = git_scan(scratch, commits)
    print(f"flightdeck {g['fd']:.2f} s ({g['fd_mem']:.0f} MB)   git log {g['git']:.2f} s ({g['git_mem']:.0f} MB)   "
          f"ratio {g['fd'] / g['git']:.2f}x   same totals {g['same']}")
    if not g["same"]:
        print(f"  warning: flightdeck files/+/- {g['got']} vs git {g['want']}")


def live_section(scratch, samples):
    print(f"\n== live: change on disk -> event on /api/events")
    l = live(scratch, samples)
    for name, xs in (("log append", l["log"]), ("git commit", l["git"])):
        print(f"{name:>11}: n={len(xs)} p50 {pct(xs, 50):.0f} ms  p99 {pct(xs, 99):.0f} ms  max {max(xs or [0]):.0f} ms")


def rollup_section(scratch, records):
    print(f"\n== spend rollup: {records} usage records in SQLite (target: each rollup under 100 ms)")
    db = os.path.join(scratch, "rollup.db")
    subprocess.run([ROLLUPS, f"sqlite://{db}", str(records)], check=True)


def dora_section(scratch, commits, deploys):
    print(f"\n== DORA and cycle time: {commits} commits, {deploys} deploys in SQLite (target: under 200 ms)")
    db = os.path.join(scratch, "dora.db")
    subprocess.run([DORA, f"sqlite://{db}?mode=rwc", str(commits), str(deploys)], check=True)
    admin = os.environ.get("BENCH_PG_URL")
    if not admin:
        print("(PostgreSQL not measured: set BENCH_PG_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres)")
        return
    print(f"\n== DORA and cycle time: the same in PostgreSQL (target: under 200 ms)")
    name = "flightdeck_bench_dora"
    for sql in [f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"]:
        subprocess.run(["psql", admin, "-q", "-c", sql], check=True)
    base = admin.rsplit("/", 1)[0]
    try:
        subprocess.run([DORA, f"{base}/{name}", str(commits), str(deploys)], check=True)
    finally:
        subprocess.run(["psql", admin, "-q", "-c", f"DROP DATABASE IF EXISTS {name}"], check=True)


def relay_section():
    admin = os.environ.get("BENCH_PG_URL")
    print("\n== live across instances: an event on one instance heard on another through PostgreSQL (target: p99 under 1 s)")
    if not admin:
        print("(not measured: set BENCH_PG_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres)")
        return
    name = "flightdeck_bench_relay"
    for sql in [f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"]:
        subprocess.run(["psql", admin, "-q", "-c", sql], check=True)
    base = admin.rsplit("/", 1)[0]
    try:
        subprocess.run([RELAY, f"{base}/{name}", os.environ.get("BENCH_RELAY_EVENTS", "500")], check=True)
    finally:
        subprocess.run(["psql", admin, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=True)


TEAM_REPOS = ["api", "web", "billing"]
TEAM_INSTANCES = 10


def pg_db(admin, name, drop_only=False):
    sqls = [f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"] + ([] if drop_only else [f"CREATE DATABASE {name}"])
    for sql in sqls:
        subprocess.run(["psql", admin, "-q", "-c", sql], check=True, stdout=subprocess.DEVNULL)
    return admin.rsplit("/", 1)[0] + "/" + name


def pg_count(url, sql):
    out = subprocess.run(["psql", url, "-At", "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def team_workspace(scratch, commits, sessions):
    """3 origins of `commits` commits each (git fast-import), and per instance its clones of
    them (one agent branch in each) and `sessions` Claude sessions spread over its clones."""
    root = os.path.join(scratch, "team")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    for name in TEAM_REPOS:
        origin = os.path.join(root, "origin", name + ".git")
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", origin], check=True)
        lines = []
        for i in range(commits):
            msg = f"{name} change {i}"
            blob = f"line {i}\n"
            lines.append(f"commit refs/heads/main\nmark :{i + 1}\ncommitter Dev <dev@acme.dev> {1700000000 + i * 600} +0000\n"
                         f"data {len(msg)}\n{msg}\n" + (f"from :{i}\n" if i else "")
                         + f"M 100644 inline f{i % 50}.txt\ndata {len(blob)}\n{blob}\n")
        subprocess.run(["git", "-C", origin, "fast-import", "--quiet"], input="".join(lines).encode(), check=True)
    homes = []
    for m in range(TEAM_INSTANCES):
        home = os.path.join(root, f"laptop-{m}")
        logs = os.path.join(home, "claude", "projects", "p")
        os.makedirs(logs)
        clones = []
        for name in TEAM_REPOS:
            path = os.path.join(home, "src", name)
            subprocess.run(["git", "clone", "-q", os.path.join(root, "origin", name + ".git"), path], check=True)
            subprocess.run(["git", "-C", path, "remote", "set-url", "origin", f"https://git.acme.test/acme/{name}.git"], check=True)
            g = ["git", "-C", path, "-c", "user.name=Claude", "-c", "user.email=noreply@anthropic.com"]
            subprocess.run(g + ["checkout", "-q", "-b", f"claude/task-{m}-{name}"], check=True)
            subprocess.run(g + ["commit", "-q", "--allow-empty", "-m", f"agent work {m}"], check=True)
            subprocess.run(g + ["checkout", "-q", "main"], check=True)
            clones.append(os.path.realpath(path))
        for k in range(sessions):
            cwd = clones[k % len(clones)]
            sid = f"s{m}-{k}"
            with open(os.path.join(logs, sid + ".jsonl"), "w") as f:
                for i in range(5):
                    f.write(json.dumps({
                        "type": "assistant", "sessionId": sid, "cwd": cwd,
                        "gitBranch": f"claude/task-{m}-{TEAM_REPOS[k % 3]}",
                        "timestamp": f"2026-11-{1 + k % 28:02d}T10:{i:02d}:00.000Z", "requestId": f"r{sid}-{i}",
                        "message": {"id": f"m{sid}-{i}", "model": "claude-sonnet-4-5", "role": "assistant",
                                    "content": [{"type": "text", "text": "ok"}],
                                    "usage": {"input_tokens": 1000, "output_tokens": 200 * (i + 1),
                                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}) + "\n")
        homes.append((home, clones))
    return homes


def team_ingest_cmd(url, home, clones, machine):
    env = fd_env(home)
    env["FLIGHTDECK_MACHINE"] = machine
    cmd = [FD, "--database-url", url, "ingest", "--claude-dir", os.path.join(home, "claude"),
           "--codex-home", empty_dir(home), "--gemini-dir", empty_dir(home),
           "--generic-dir", empty_dir(home)]
    for c in clones:
        cmd += ["--repo", c]
    return cmd, env


def team_section(scratch, commits, sessions):
    admin = os.environ.get("BENCH_PG_URL")
    print(f"\n== a team on one PostgreSQL: {TEAM_INSTANCES} instances ingesting at once "
          f"(3 repos of {commits} commits cloned by each, {sessions} sessions each) vs one instance")
    if not admin:
        print("(not measured: set BENCH_PG_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres)")
        return
    homes = team_workspace(scratch, commits, sessions)
    # One instance alone, its own share.
    solo = pg_db(admin, "flightdeck_bench_solo")
    cmd, env = team_ingest_cmd(solo, homes[0][0], homes[0][1], "solo")
    t_solo, m_solo, _ = timed(cmd, env)
    pg_db(admin, "flightdeck_bench_solo", drop_only=True)
    # Ten at once on one database (created and migrated by the first to open it: all ten race).
    shared = pg_db(admin, "flightdeck_bench_team")
    t0 = time.monotonic()
    procs = []
    for m, (home, clones) in enumerate(homes):
        cmd, env = team_ingest_cmd(shared, home, clones, f"laptop-{m}")
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    failed = []
    for m, p in enumerate(procs):
        try:
            _, err = p.communicate(timeout=900)
        except subprocess.TimeoutExpired:
            p.kill()
            failed.append(f"laptop-{m}: no exit in 900 s (deadlock?)")
            continue
        if p.returncode != 0:
            failed.append(f"laptop-{m}: exit {p.returncode}: {err.decode()[-300:]}")
    t_team = time.monotonic() - t0
    got = {k: int(pg_count(shared, f"SELECT COUNT(*) FROM {k}")) for k in ("repos", "commits", "change_requests", "agent_runs")}
    want = {"repos": 3, "commits": 3 * commits + 3 * TEAM_INSTANCES, "change_requests": 3 * TEAM_INSTANCES,
            "agent_runs": TEAM_INSTANCES * sessions}
    print(f"{'':>24} {'wall s':>8} {'peak MB':>8}")
    print(f"{'one instance, alone':>24} {t_solo:>8.2f} {m_solo:>8.0f}")
    print(f"{f'{TEAM_INSTANCES} at once':>24} {t_team:>8.2f} {'':>8}   ({t_team / t_solo:.1f}x one alone; "
          f"{TEAM_INSTANCES * t_solo / t_team:.1f}x the work per second)")
    print(f"  every ingest exited 0: {not failed}" + ("".join(f"\n    {f}" for f in failed)))
    print(f"  rows {got}, expected {want}: {'no duplicate' if got == want else 'MISMATCH'}")
    team_api_section(shared, homes[0][0])
    pg_db(admin, "flightdeck_bench_team", drop_only=True)


def team_api_section(url, home, uis=TEAM_INSTANCES, rounds=30):
    """One serve on the team's database; `uis` clients each hold the event stream open and
    fetch what the UI fetches on a view change, `rounds` times: latency per request."""
    env = fd_env(home)
    env["FLIGHTDECK_MACHINE"] = "bench-serve"
    token = "bench-token-0123456789abcdef"
    server = subprocess.Popen([FD, "--database-url", url, "serve", "--port", "0", "--token", token,
                               "--claude-dir", empty_dir(home), "--codex-home", empty_dir(home)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        for line in server.stdout:
            if "/login?code=" in line and "http://127.0.0.1:" in line:
                port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
                break
        if port is None:
            print("  (serve did not start)")
            return
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        auth = {"Authorization": f"Bearer {token}"}
        streams = []
        for _ in range(uis):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/api/events", headers=auth)
            streams.append(c)
        paths = ["/api/inbox", "/api/changes", "/api/agents", "/api/repos", "/api/work", "/api/spend", "/api/velocity"]
        lat = []
        lock = threading.Lock()

        def ui():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for _ in range(rounds):
                for p in paths:
                    t = time.monotonic()
                    c.request("GET", p, headers=auth)
                    r = c.getresponse()
                    r.read()
                    with lock:
                        lat.append((time.monotonic() - t) * 1000)
        threads = [threading.Thread(target=ui) for _ in range(uis)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"  API with {uis} UIs open (event stream each; {len(paths)} views x {rounds} rounds each): "
              f"{len(lat)} requests, p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms")
        for c in streams:
            c.close()
    finally:
        server.terminate()
        server.wait()



def start_serve(args, env):
    """`flightdeck serve` on a port of its choosing: (process, base URL) once it listens."""
    server = subprocess.Popen([FD] + args + ["--port", "0"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    for line in server.stdout:
        if "/login?code=" in line and "http://127.0.0.1:" in line:
            port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
            break
    else:
        sys.exit(f"error: serve did not start: {server.stderr.read()[-2000:]}")
    # Keep both pipes drained so a chatty server never blocks on a full pipe.
    for pipe in (server.stdout, server.stderr):
        threading.Thread(target=lambda p=pipe: [None for _ in p], daemon=True).start()
    return server, f"http://127.0.0.1:{port}"


def team_store(scratch, scale):
    """The team-scale SQLite store (kept in BENCH_DIR between runs: it takes minutes to make)."""
    n = lambda full: str(max(1, int(full * scale)))
    db = os.path.join(scratch, f"team-{scale:g}.db")
    print(f"\n== a team-scale store (x{scale:g}): 50 repos, {n(2000)} open pull requests, {n(1_000_000)} commits, "
          f"{n(10_000_000)} usage records, {n(100_000)} deploys")
    t = time.monotonic()
    subprocess.run([GEN_TEAM, f"sqlite://{db}?mode=rwc", n(1_000_000), n(10_000_000), n(100_000), n(2000)],
                   check=True)
    print(f"  ready in {time.monotonic() - t:.0f} s ({os.path.getsize(db) / 2**30:.1f} GiB)")
    return db


def run_load(url, token, clients, seconds, streams, pause_ms=0):
    out = subprocess.run([LOAD, url, token, str(clients), str(seconds), str(streams), str(pause_ms)],
                         stdout=subprocess.PIPE, check=True, text=True)
    return json.loads(out.stdout)


def load_section(scratch, db, clients, seconds):
    print(f"\n== load: {clients} clients on the team-scale store, every view and chart for {seconds} s, "
          f"an event stream each (target: p99 under 100 ms per view, no error)")
    token = "bench-token-0123456789abcdef"
    none = empty_dir(scratch)
    server, url = start_serve(["--database-url", db, "serve", "--token", token, "--claude-dir", none,
                               "--codex-home", none, "--gemini-dir", none, "--generic-dir", none],
                              fd_env(scratch))
    try:
        # Every view once first, as a UI opening them: the cold times, and the cache filled.
        cold = run_load(url, token, 1, 0, 0)
        r = run_load(url, token, clients, seconds, clients)
    finally:
        server.terminate()
        server.wait()
    print(f"{'view':<42} {'cold ms':>8} {'requests':>8} {'errors':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    worst = 0.0
    for view, v in sorted(r["views"].items(), key=lambda kv: -kv[1]["p99_ms"]):
        worst = max(worst, v["p99_ms"])
        flag = "  over 100 ms" if v["p99_ms"] > 100 else ""
        first = cold["views"].get(view, {}).get("max_ms", float("nan"))
        print(f"{view:<42} {first:>8.1f} {v['requests']:>8} {v['errors']:>6} {v['p50_ms']:>8.1f} {v['p99_ms']:>8.1f} "
              f"{v['max_ms']:>8.1f}{flag}")
        if v["first_error"]:
            print(f"    first error: {v['first_error']}")
    errors = sum(v["errors"] for v in r["views"].values())
    print(f"{'all':<42} {'':>8} {r['all']['requests']:>8} {errors:>6} {r['all']['p50_ms']:>8.1f} {r['all']['p99_ms']:>8.1f}")
    broken = [h for h in r["streams"] if h["error"]]
    print(f"  worst view p99 {worst:.1f} ms; {r['all']['requests'] / seconds:.0f} requests/s; "
          f"{len(r['streams'])} event streams open, {len(broken)} broken"
          + (f" (first: {broken[0]['error']})" if broken else ""))


def proc_sample(pid):
    """(RSS MB, open files, sockets) of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
    fds = sockets = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        fds += 1
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return rss, fds, sockets


def soak_section(scratch, db, seconds):
    print(f"\n== soak: {seconds} s of serve on the team-scale store with live ingest, a changing GitHub and "
          f"20 UIs polling with event streams (target: memory flat, no file or socket growth, no event lost)")
    soak = os.path.join(scratch, "soak")
    shutil.rmtree(soak, ignore_errors=True)
    os.makedirs(soak)
    # The team store itself (copying gigabytes buys nothing): the soak adds a repo, a session
    # and pull requests to it, as a day of a team would.
    work = db
    token, gh_token = "bench-token-0123456789abcdef", "ghp_soak_0123456789"
    hub = subprocess.Popen([SOAK_HUB, "acme/live", gh_token, "5"], stdout=subprocess.PIPE, text=True)
    hub_url = hub.stdout.readline().strip()
    threading.Thread(target=lambda: [None for _ in hub.stdout], daemon=True).start()
    repo = os.path.join(soak, "live")
    git = lambda *a: subprocess.run(["git", "-C", repo, "-c", "user.name=Dev", "-c", "user.email=dev@acme.dev"]
                                    + list(a), check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
    git("commit", "-q", "--allow-empty", "-m", "init")
    git("remote", "add", "origin", hub_url + "/acme/live.git")
    logs = os.path.join(soak, "claude")
    proj = os.path.join(logs, "projects", "-soak-live")
    os.makedirs(proj)
    none = empty_dir(soak)
    env = fd_env(soak)
    env.update(FLIGHTDECK_GITHUB_API=hub_url, GH_TOKEN=gh_token)
    server, url = start_serve(["--database-url", work, "serve", "--token", token, "--rescan-secs", "30",
                               "--repo", repo, "--claude-dir", logs, "--codex-home", none, "--gemini-dir", none,
                               "--generic-dir", none], env)
    samples, stop = [], threading.Event()
    counts = {"commits": 0, "lines": 0}

    def writer():
        i = 0
        while not stop.wait(2):
            i += 1
            line = json.dumps({"type": "assistant", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                               "requestId": f"soak-r{i}", "sessionId": "soak", "cwd": repo,
                               "message": {"id": f"soak-m{i}", "model": "claude-sonnet-4-5", "role": "assistant",
                                           "content": [], "usage": {"input_tokens": 100, "output_tokens": 20}}})
            with open(os.path.join(proj, "soak.jsonl"), "a") as f:
                f.write(line + "\n")
            counts["lines"] += 1
            if i % 5 == 0:
                git("commit", "-q", "--allow-empty", "-m", f"soak {i}")
                counts["commits"] += 1

    def sampler():
        t0 = time.monotonic()
        while True:
            try:
                samples.append((time.monotonic() - t0,) + proc_sample(server.pid))
            except (OSError, StopIteration):
                return
            if stop.wait(30):
                return

    threads = [threading.Thread(target=writer, daemon=True), threading.Thread(target=sampler, daemon=True)]
    for t in threads:
        t.start()
    try:
        r = run_load(url, token, 20, seconds, 20, pause_ms=1000)
    finally:
        stop.set()
        for t in threads:
            t.join()
        alive = server.poll() is None
        server.terminate()
        server.wait()
        hub.terminate()
        hub.wait()
    errors = sum(v["errors"] for v in r["views"].values())
    first = next((v["first_error"] for v in r["views"].values() if v["first_error"]), None)
    print(f"  {r['all']['requests']} requests, {errors} errors" + (f" (first: {first})" if first else "")
          + f", p50 {r['all']['p50_ms']:.1f} ms, p99 {r['all']['p99_ms']:.1f} ms; serve alive at the end: {alive}")
    print(f"  written meanwhile: {counts['commits']} commits, {counts['lines']} agent-log lines")
    print(f"  {'minute':>7} {'RSS MB':>8} {'files':>6} {'sockets':>8}")
    for t, rss, fds, socks in samples[:: max(1, len(samples) // 12)] + samples[-1:]:
        print(f"  {t / 60:>7.1f} {rss:>8.1f} {fds:>6} {socks:>8}")
    if samples:
        # After the first tenth (caches filling), against the last tenth.
        k = max(1, len(samples) // 10)
        early, late = samples[k:2 * k] or samples[:1], samples[-k:]
        avg = lambda xs, i: sum(x[i] for x in xs) / len(xs)
        print(f"  RSS {avg(early, 1):.1f} MB early, {avg(late, 1):.1f} MB late (max {max(x[1] for x in samples):.1f}); "
              f"files {avg(early, 2):.0f} → {avg(late, 2):.0f}; sockets {avg(early, 3):.0f} → {avg(late, 3):.0f}")
    streams = r["streams"]
    lasts = {h["last_id"] for h in streams}
    print(f"  event streams: {len(streams)}, events heard {min(h['events'] for h in streams)}–"
          f"{max(h['events'] for h in streams)}, gaps {sum(h['gaps'] for h in streams)}, "
          f"resyncs {sum(h['resyncs'] for h in streams)}, broken {sum(1 for h in streams if h['error'])}, "
          f"last ids {sorted(lasts)}")


if __name__ == "__main__":
    main()
