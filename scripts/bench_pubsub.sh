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
# With 2+ cores the servers share core 0 and the load tool (100 subscriber threads) gets the
# rest, so neither server is starved by the clients' threads and both get the same CPU.
server_cpus=0
client_cpus=1-$(( $(nproc) - 1 ))
[[ $(nproc) -ge 2 ]] || client_cpus=0
taskset -c "$server_cpus" target/release/luma --port "$luma_port" --dir "$work/luma" >"$work/luma.log" 2>&1 &
luma_pid=$!
taskset -c "$server_cpus" redis-server --port "$redis_port" --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $luma_pid $redis_pid 2>/dev/null; rm -rf "$work"' EXIT
for port in "$luma_port" "$redis_port"; do
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
echo "redis-server $(redis-server --version | grep -o 'v=[0-9.]*')"
echo "servers on cpu $server_cpus, load tool on cpu $client_cpus"
taskset -c "$client_cpus" cargo bench --bench pubsub_load --quiet -- \
  "luma=$luma_port:$luma_pid" "redis=$redis_port:$redis_pid" "$@"
