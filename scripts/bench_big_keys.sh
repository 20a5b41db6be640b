#!/usr/bin/env bash
# Member operations on a key already holding 1,000,000 members vs on an empty key, for HSET,
# ZADD and LPUSH, and the RSS of a 1,000,000-field hash: Luma (release build) and a real
# redis-server side by side.
#
#   scripts/bench_big_keys.sh          # MEMBERS=1000000 N=200000 P=16
set -euo pipefail
cd "$(dirname "$0")/.."

MEMBERS=${MEMBERS:-1000000}
N=${N:-200000}
P=${P:-16}
cargo build --release --quiet

work=$(mktemp -d)
stop_servers() {
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  [[ -n "${luma_pid:-}" ]] && kill "$luma_pid" 2>/dev/null && wait "$luma_pid" 2>/dev/null
  rm -rf "${work:?}"/*
}
trap 'stop_servers; rm -rf "$work"' EXIT

# Fresh servers on new ports, empty data folders.
start_servers() {
  luma_port=$((20000 + RANDOM % 10000))
  redis_port=$((luma_port + 1))
  ./target/release/luma --port "$luma_port" --dir "$work/luma" --loglevel warning &
  luma_pid=$!
  redis-server --port "$redis_port" --dir "$work" --save "" --appendonly yes \
    --appendfsync everysec --daemonize yes --logfile "$work/redis.log"
  for port in "$luma_port" "$redis_port"; do
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  redis_pid=$(redis-cli -p "$redis_port" info server | tr -d '\r' | awk -F: '/^process_id/{print $2}')
}
start_servers

rss_mib() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status"; }

# Fills `key` with MEMBERS members through redis-cli --pipe (RESP commands of 1000 members).
fill() {
  local port=$1 cmd=$2 key=$3
  python3 - "$cmd" "$key" "$MEMBERS" <<'PY' | redis-cli -p "$port" --pipe >/dev/null
import sys
cmd, key, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = sys.stdout.buffer
def enc(args):
    b = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        b += b"$%d\r\n%s\r\n" % (len(a), a)
    return b
for start in range(0, n, 1000):
    args = [cmd, key]
    for i in range(start, min(n, start + 1000)):
        if cmd == "HSET":
            args += ["field:%d" % i, "value:%d" % i]
        elif cmd == "ZADD":
            args += [str(i), "member:%d" % i]
        else:
            args.append("element:%d" % i)
    out.write(enc(args))
PY
}

rps() {
  local port=$1; shift
  redis-benchmark -p "$port" -n "$N" -c 50 -P "$P" -r 100000000 --csv "$@" 2>/dev/null |
    tail -1 | tr -d '"' | cut -d, -f2
}

echo "member ops on an empty key vs one holding $MEMBERS members (-n $N -c 50 -P $P)"
printf "%-6s %-6s %12s %12s %8s\n" cmd server empty_rps big_rps big/empty
for spec in "HSET:h:field:__rand_int__ v" "ZADD:z:__rand_int__ member:__rand_int__" \
  "LPUSH:l:element:__rand_int__"; do
  cmd=${spec%%:*}; rest=${spec#*:}; key=${rest%%:*}; args=${rest#*:}
  for server in luma redis; do
    port=$luma_port; [[ $server == redis ]] && port=$redis_port
    # shellcheck disable=SC2086
    empty=$(rps "$port" "$cmd" "empty:$key" $args)
    fill "$port" "$cmd" "big:$key"
    # shellcheck disable=SC2086
    big=$(rps "$port" "$cmd" "big:$key" $args)
    printf "%-6s %-6s %12s %12s %8.2f\n" "$cmd" "$server" "$empty" "$big" \
      "$(echo "$big / $empty" | bc -l)"
  done
done

stop_servers
start_servers
for server in luma redis; do
  port=$luma_port; pid=$luma_pid
  [[ $server == redis ]] && port=$redis_port && pid=$redis_pid
  before=$(rss_mib "$pid")
  fill "$port" HSET onemillion
  sleep 2
  echo "$server: RSS $before MiB empty -> $(rss_mib "$pid") MiB with a $MEMBERS-field hash" \
    "(HLEN $(redis-cli -p "$port" hlen onemillion))"
done
