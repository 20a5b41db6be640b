#!/usr/bin/env bash
# A mixed read/write load on Luma and a real redis-server side by side: SET and GET on the same
# keys at once (two redis-benchmark processes), printing each server's SET/s, GET/s and CPU
# time per request (utime + stime of the server process), and the Luma/Redis ratios.
#
#   scripts/bench_mixed.sh                  # 25 + 25 clients, -P 16, 500k requests each, 3 rounds
#   ROUNDS=5 PIPELINE=1 scripts/bench_mixed.sh
#
# Environment: N (requests per load), C (clients per load), PIPELINE, KEYS (-r), ROUNDS (each
# round reuses the keys of the one before: the first one loads them), LUMA_ARGS, REDIS_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-500000}
C=${C:-25}
PIPELINE=${PIPELINE:-16}
KEYS=${KEYS:-100000}
ROUNDS=${ROUNDS:-3}
LUMA_ARGS=${LUMA_ARGS:-}
REDIS_ARGS=${REDIS_ARGS:-}

# shellcheck source=scripts/side_by_side.sh
source scripts/side_by_side.sh
start_side_by_side
echo "SET and GET at once: $C + $C clients, -P $PIPELINE, -n $N each, -r $KEYS, $ROUNDS rounds"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rps() { tr '\r' '\n' <"$1" | grep -o '[0-9.]* requests per second' | cut -d' ' -f1; }
value=$(head -c 56 /dev/zero | tr '\0' x)
hz=$(getconf CLK_TCK)

# One round on one server: "set_rps get_rps cpu_us_per_request".
round() {
  local port=$1 pid=$2 before after
  before=$(cpu_ticks "$pid")
  redis-benchmark -p "$port" -n "$N" -c "$C" -r "$KEYS" -P "$PIPELINE" -q \
    SET 'key:__rand_int__' "$value" >"$work/set.out" 2>&1 &
  local set_job=$!
  redis-benchmark -p "$port" -n "$N" -c "$C" -r "$KEYS" -P "$PIPELINE" -q \
    GET 'key:__rand_int__' >"$work/get.out" 2>&1 &
  local get_job=$!
  wait "$set_job" "$get_job"
  after=$(cpu_ticks "$pid")
  echo "$(rps "$work/set.out") $(rps "$work/get.out")" \
    "$(awk -v t=$((after - before)) -v hz="$hz" -v n=$((2 * N)) 'BEGIN{printf "%.2f", t / hz * 1e6 / n}')"
}

printf '\n%5s %-6s %10s %10s %12s %9s\n' round server set/s get/s "cpu µs/req" rss_mb
for r in $(seq "$ROUNDS"); do
  read -r ls lg lc <<<"$(round "$luma_port" "$luma_pid")"
  read -r rs rg rc <<<"$(round "$redis_port" "$redis_pid")"
  lm=$(awk '/VmRSS/{printf "%.0f", $2 / 1024}' "/proc/$luma_pid/status")
  rm=$(awk '/VmRSS/{printf "%.0f", $2 / 1024}' "/proc/$redis_pid/status")
  printf '%5s %-6s %10s %10s %12s %9s\n' "$r" luma "$ls" "$lg" "$lc" "$lm"
  printf '%5s %-6s %10s %10s %12s %9s\n' "$r" redis "$rs" "$rg" "$rc" "$rm"
  printf '%5s %-6s %10s %10s %12s\n' "$r" ratio \
    "$(awk -v a="$ls" -v b="$rs" 'BEGIN{printf "%.2f", a/b}')" \
    "$(awk -v a="$lg" -v b="$rg" 'BEGIN{printf "%.2f", a/b}')" \
    "$(awk -v a="$lc" -v b="$rc" 'BEGIN{printf "%.2f", a/b}')"
done
