#!/usr/bin/env bash
# kill -9 under a pipelined write load, restart, check every acknowledged write: RUNS rounds for
# each of appendfsync always and everysec (default 20). Usage: scripts/kill9_loop.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
LUMA_KILL9_RUNS=${1:-20} cargo test --release --test it durability::kill9 -- --test-threads 1
