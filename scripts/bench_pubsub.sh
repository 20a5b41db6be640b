#!/usr/bin/env bash
# Pub/sub side by side: starts a release Luma and a redis-server on free ports and runs the
# load tool (benches/pubsub_load.rs) against both; ratios are Luma / Redis.
# Usage: scripts/bench_pubsub.sh [pubsub_load options: --subscribers N --messages N --size B --rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo bench --bench pubsub_load --no-run --quiet 2>/dev/null
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
luma_port=$(free_port)
redis_port=$(free_port)
target/release/luma --port "$luma_port" --dir "$work/luma" >"$work/luma.log" 2>&1 &
luma_pid=$!
redis-server --port "$redis_port" --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $luma_pid $redis_pid 2>/dev/null; rm -rf "$work"' EXIT
for port in "$luma_port" "$redis_port"; do
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
echo "redis-server $(redis-server --version | grep -o 'v=[0-9.]*')"
cargo bench --bench pubsub_load --quiet -- "luma=$luma_port" "redis=$redis_port" "$@"
