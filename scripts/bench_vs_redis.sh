#!/usr/bin/env bash
# Starts Luma (release build) and a real redis-server (appendonly yes, everysec) side by side on
# loopback and runs the same redis-benchmark load against each, printing Luma/Redis throughput
# ratios.
#
#   scripts/bench_vs_redis.sh                 # ping_inline,ping_mbulk, -n 200000 -c 50, -P 1 and 16
#   TESTS=set,get N=500000 scripts/bench_vs_redis.sh
#
# Environment: TESTS (redis-benchmark -t list), N (requests), C (clients), PIPELINES (depths),
# ROUNDS (runs per server, test and depth; the best is kept, the machine is noisy), EXTRA (more
# redis-benchmark flags, e.g. "-r 100000"), REDIS_ARGS (more redis-server flags), LUMA_ARGS
# (more luma flags, e.g. "--worker-threads 1").
set -euo pipefail
cd "$(dirname "$0")/.."

TESTS=${TESTS:-ping_inline,ping_mbulk}
N=${N:-200000}
C=${C:-50}
PIPELINES=${PIPELINES:-"1 16"}
ROUNDS=${ROUNDS:-3}
EXTRA=${EXTRA:-}
REDIS_ARGS=${REDIS_ARGS:-}
LUMA_ARGS=${LUMA_ARGS:-}

# shellcheck source=scripts/side_by_side.sh
source scripts/side_by_side.sh
start_side_by_side
echo "redis-benchmark -t $TESTS -n $N -c $C $EXTRA, best of $ROUNDS runs"

# Prints "test rps p50 p99" lines for one run (CSV output of redis-benchmark).
run() {
  # shellcheck disable=SC2086
  redis-benchmark -p "$1" -t "$3" -n "$N" -c "$C" -P "$2" $EXTRA --csv 2>/dev/null |
    tail -n +2 | tr -d '"' | awk -F, '{gsub(/ /, "_", $1); print $1, $2, $5, $7}'
}

# Best throughput per test over ROUNDS runs, the servers taking turns test by test so both see
# the same noise: this machine has slow and fast spells of tens of seconds (one run moves
# 20-30%), and turns a whole suite long put the two in different spells.
declare -A best
for pipeline in $PIPELINES; do
  for t in ${TESTS//,/ }; do
    for round in $(seq "$ROUNDS"); do
      for who in luma redis; do
        port=$luma_port; [[ $who == redis ]] && port=$redis_port
        while read -r test rps p50 p99; do
          key="$who|$pipeline|$test"
          prev=${best[$key]:-0 0 0}
          if awk -v a="$rps" -v b="${prev%% *}" 'BEGIN{exit !(a>b)}'; then
            best[$key]="$rps $p50 $p99"
          fi
        done < <(run "$port" "$pipeline" "$t")
      done
    done
  done
done

printf '\n%-14s %4s %12s %12s %7s %16s %16s\n' test P luma_rps redis_rps ratio "luma p50/p99ms" "redis p50/p99ms"
for pipeline in $PIPELINES; do
  for key in "${!best[@]}"; do
    IFS='|' read -r who p test <<<"$key"
    [[ $who == luma && $p == "$pipeline" ]] || continue
    read -r lr lp50 lp99 <<<"${best[$key]}"
    read -r rr rp50 rp99 <<<"${best[redis|$pipeline|$test]:-0 0 0}"
    ratio=$(awk -v a="$lr" -v b="$rr" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }')
    printf '%-14s %4s %12s %12s %7s %16s %16s\n' "$test" "$pipeline" "$lr" "$rr" "$ratio" \
      "$lp50/$lp99" "$rp50/$rp99"
  done
done | sort -k2,2n -k1,1
