#!/usr/bin/env bash
# redis-cli and redis-benchmark against a real Luma process. Usage: redis_cli.sh path/to/luma
set -uo pipefail
binary=${1:?usage: redis_cli.sh path/to/luma}
work=$(mktemp -d)
port=$((30000 + RANDOM % 20000))
NO_COLOR=1 "$binary" --port "$port" --dir "$work/data" >"$work/luma.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

passed=0
failed=0
check() { # name, command...; the command's exit status decides
  local name=$1
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    echo "$out" | head -20 | sed 's/^/     /'
  fi
}
cli() { redis-cli -p "$port" "$@"; }

check "ping" bash -c "[[ \$(redis-cli -p $port ping) == PONG ]]"
check "resp3 hello" bash -c "redis-cli -p $port -3 hello 3 | grep -qx 'proto 3'"
check "echo binary-safe" bash -c "[[ \$(redis-cli -p $port echo 'a b\"c') == 'a b\"c' ]]"
check "unknown command error" bash -c \
  "redis-cli -p $port foo bar | grep -qx \"ERR unknown command 'foo', with args beginning with: 'bar' \""
check "config get" bash -c "redis-cli -p $port config get port | tail -1 | grep -qx $port"
check "info server" bash -c "redis-cli -p $port info server | grep -q '^redis_version:8.2.0'"
check "repeat -r" bash -c "[[ \$(redis-cli -p $port -r 3 ping | wc -l) == 3 ]]"
check "--pipe" bash -c "printf 'PING\r\nECHO hi\r\n*1\r\n\$4\r\nPING\r\n' |
  redis-cli -p $port --pipe | grep -q 'errors: 0, replies: 3'"
# --stat polls INFO every second; stdbuf keeps its lines when timeout stops it.
check "--stat" bash -c "timeout 3 stdbuf -oL redis-cli -p $port --stat -i 1 |
  grep -Eq '^0 +[0-9.]+[KMG] +1 +0 +[0-9]+ \\(\\+[0-9]+\\) +[0-9]+'"
check "--latency samples" bash -c "timeout 3 redis-cli -p $port --latency --raw -i 1 | head -1 | grep -Eq '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+'"
check "set/get/ttl" bash -c "redis-cli -p $port set greeting hello EX 100 >/dev/null &&
  [[ \$(redis-cli -p $port get greeting) == hello ]] && [[ \$(redis-cli -p $port ttl greeting) -gt 90 ]]"
check "--scan" bash -c "redis-cli -p $port mset scan:a 1 scan:b 2 other 3 >/dev/null &&
  [[ \$(redis-cli -p $port --scan --pattern 'scan:*' | sort | tr '\n' ' ') == 'scan:a scan:b ' ]]"
check "--bigkeys" bash -c "redis-cli -p $port --bigkeys | grep -q 'Biggest string found'"
check "--memkeys" bash -c "redis-cli -p $port --memkeys | grep -q 'Biggest string found'"
check "client list" bash -c "redis-cli -p $port client list | grep -q 'cmd=client|list'"
check "benchmark ping" bash -c "redis-benchmark -p $port -t ping -n 20000 -c 20 -q | grep -q 'PING_MBULK: [0-9]'"
check "benchmark pipelined" bash -c "redis-benchmark -p $port -t ping -n 20000 -P 16 -q | grep -q 'PING_INLINE: [0-9]'"
check "benchmark resp3" bash -c "redis-benchmark -3 -p $port -t ping -n 5000 -q | grep -q 'PING_MBULK: [0-9]'"
check "shutdown" bash -c "redis-cli -p $port shutdown; sleep 0.5; ! kill -0 $pid 2>/dev/null"

echo "redis-cli: $passed passed, $failed failed"
[[ $failed == 0 ]]
