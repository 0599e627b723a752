#!/usr/bin/env bash
# Benchmarks against their peers (see bench/run.py): agent-log ingest vs ccusage, git scan vs
# `git log --numstat`, live event latency, the spend rollup at 10M records, DORA at 1M commits,
# decision latency with the forge down, events across instances, a team-scale store under 50
# clients and an hour's soak. Prints figures and
# ratios; not part of CI.
# Usage: scripts/bench.sh   (BENCH_MB=1024 BENCH_COMMITS=100000 BENCH_LIVE_SAMPLES=200
#                            BENCH_RECORDS=10000000 BENCH_DORA_COMMITS=1000000
#                            BENCH_DORA_DEPLOYS=100000 BENCH_EXPERIMENT_ROWS=10000000
#                            BENCH_EXPERIMENTS=500 BENCH_LOAD_CLIENTS=50 BENCH_LOAD_SECONDS=60
#                            BENCH_LOAD_SCALE=1 BENCH_SOAK_SECONDS=3600
#                            BENCH_ONLY=logs,git,live,rollup,dora,decide,relay,team,experiments,load,soak)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
command -v /usr/bin/time >/dev/null || { sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"; $sudo_cmd apt-get install -y -qq time; }
# `npm ci` refuses this lock (it lists only the linux-x64 build of ccusage's optional native
# packages); the versions are pinned exactly, so install gives the same tree.
npm --prefix bench install --no-audit --no-fund
# The experiments section's peer: pandas reading the same CSV and Parquet (pinned as measured).
case ",${BENCH_ONLY:-experiments}," in
  *,experiments,*) python3 -m pip install --quiet pandas==3.1.1 pyarrow==26.0.1 ;;
esac
cargo build --locked --release -p flightdeck-cli
cargo build --locked --release -p flightdeck-core --example gen_claude_corpus --example bench_rollups --example bench_dora --example bench_relay --example gen_experiment_rows --example gen_team_store
cargo build --locked --release -p flightdeck-server --example bench_decide --example load --example soak_hub
exec python3 bench/run.py
