#!/usr/bin/env bash
# A stand-in for a coding agent started non-interactively (as `claude -p PROMPT` would be):
# it edits a file in its working directory, commits on the checked-out branch and writes its
# session log in Claude Code's format, so dispatch tests exercise real processes, worktrees and
# the real agent source.
#
#   fake-agent.sh MODE CLAUDE_DIR TRACE [--] PROMPT
#
# MODE: ok | slow (ok after 2 s) | fail (prints, exits 3) | hang (starts a child that sleeps,
# waits for it forever; its pid goes to TRACE as `child PID`). TRACE gets `start`/`end` lines
# with times, for concurrency checks.
set -euo pipefail
mode=$1 claude_dir=$2 trace=$3
shift 3
# `--` before the prompt, as the documented agent commands put it.
[ "${1-}" = -- ] && shift
prompt=${1-}
branch=$(git rev-parse --abbrev-ref HEAD)
echo "start ${FLIGHTDECK_DISPATCH:-?} $(date +%s.%N)" >> "$trace"
echo "fake agent: working on $branch in $PWD"
echo "fake agent: prompt starts: $(printf '%s' "$prompt" | head -1)"
case "$mode" in
  hang)
    sleep 300 &
    echo "child $!" >> "$trace"
    echo "fake agent: waiting for the model…"
    wait
    ;;
  fail)
    echo "fake agent: reading the repo"
    echo "error: the model refused the request (overloaded)" >&2
    echo "end ${FLIGHTDECK_DISPATCH:-?} $(date +%s.%N)" >> "$trace"
    exit 3
    ;;
  slow) sleep 2 ;;
esac

# The edit and the commit, on the dispatch's branch.
shopt -s nullglob
done_before=(fake-change-*.txt)
n=${#done_before[@]}
printf '%s\n' "$prompt" > "fake-change-$n.txt"
git add "fake-change-$n.txt"
git -c user.name="Claude" -c user.email="noreply@anthropic.com" commit -q \
  -m "Fake agent change $n" -m "Co-Authored-By: Claude <noreply@anthropic.com>"
echo "fake agent: committed $(git rev-parse --short HEAD)"

# The session log, where Claude Code keeps it: projects/<cwd with non-alphanumerics as ->/.
session=$(cat /proc/sys/kernel/random/uuid)
dir="$claude_dir/projects/$(pwd | sed 's#[^a-zA-Z0-9]#-#g')"
mkdir -p "$dir"
ts() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
title=$(printf '%s' "$prompt" | head -1 | tr -cd '[:alnum:] .,:-')
common="\"isSidechain\":false,\"userType\":\"external\",\"cwd\":\"$PWD\",\"sessionId\":\"$session\",\"version\":\"2.1.14\",\"gitBranch\":\"$branch\""
{
  echo "{\"parentUuid\":null,$common,\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"$title\"},\"uuid\":\"$session-1\",\"timestamp\":\"$(ts)\"}"
  echo "{\"parentUuid\":\"$session-1\",$common,\"message\":{\"id\":\"msg_fake_$session\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[{\"type\":\"text\",\"text\":\"Done.\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":1200,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":340,\"service_tier\":\"standard\"}},\"requestId\":\"req_fake_$session\",\"type\":\"assistant\",\"uuid\":\"$session-2\",\"timestamp\":\"$(ts)\"}"
} > "$dir/$session.jsonl"
echo "end ${FLIGHTDECK_DISPATCH:-?} $(date +%s.%N)" >> "$trace"
echo "fake agent: done"
