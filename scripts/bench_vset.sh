#!/usr/bin/env bash
# Vector sets over RESP: starts a release Luma on a free port with a fresh data folder and runs
# the load tool (benches/vset_load.rs): VADD insert rate, VSIM QPS and latency with 1 and 16
# clients, recall@10 against exact ground truth, server RSS.
# Usage: [LUMA_ARGS="--server flags"] scripts/bench_vset.sh [vset_load options: --n N --dim D
#   --centres C --queries Q --clients K]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo bench --bench vset_load --no-run --quiet 2>/dev/null
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/luma --port "$port" --http-port -1 --dir "$work/luma" ${LUMA_ARGS:-} >"$work/luma.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
cargo bench --bench vset_load --quiet -- --port "$port" --pid "$pid" "$@"
