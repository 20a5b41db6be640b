# shellcheck shell=bash
# Sourced by the side-by-side benchmarks (bench_vs_redis.sh, bench_mixed.sh): builds Luma, starts
# it and a real redis-server on free loopback ports, and stops both on exit. redis-server runs
# with `appendonly yes`, `appendfsync everysec`: the durability the issues compare Luma with.
# Reads LUMA_ARGS and REDIS_ARGS (more flags for each); sets work, luma_port, redis_port,
# luma_pid and redis_pid.

start_side_by_side() {
  local tool port
  for tool in redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install redis-server)" >&2; exit 1; }
  done
  cargo build --release --quiet
  work=$(mktemp -d)
  luma_port=$((20000 + RANDOM % 10000))
  redis_port=$((luma_port + 1))
  trap stop_side_by_side EXIT
  # shellcheck disable=SC2086
  ./target/release/luma --port "$luma_port" --http-port -1 --dir "$work/luma" \
    --loglevel warning ${LUMA_ARGS:-} &
  luma_pid=$!
  # shellcheck disable=SC2086
  redis-server --port "$redis_port" --dir "$work" --save "" --appendonly yes \
    --appendfsync everysec --daemonize yes --logfile "$work/redis.log" ${REDIS_ARGS:-}
  for port in "$luma_port" "$redis_port"; do
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  redis_pid=$(redis-cli -p "$redis_port" info server | tr -d '\r' | awk -F: '/^process_id/{print $2}')
  echo "redis-server $(redis-server --version | cut -d' ' -f3) (appendonly everysec)" \
    "· $(./target/release/luma --version)"
}

stop_side_by_side() {
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  [[ -n "${luma_pid:-}" ]] && kill "$luma_pid" 2>/dev/null && wait "$luma_pid" 2>/dev/null
  rm -rf "$work"
}
