#!/usr/bin/env bash
# Protected mode with a real non-loopback client: inside a private network namespace (made here,
# seen by nothing else) 192.0.2.1 (TEST-NET-1) is put on the namespace's own lo, Luma binds
# 0.0.0.0, and redis-cli connects to 192.0.2.1, so Luma sees a non-loopback peer.
# Usage: protected_mode.sh path/to/luma
set -uo pipefail
binary=$(realpath "${1:?usage: protected_mode.sh path/to/luma}")
if ! unshare -n true 2>/dev/null; then
  echo "protected-mode: 0 passed, 0 failed, 1 skipped (no permission for a network namespace)"
  exit 0
fi
exec unshare -n bash -s "$binary" <<'INNER'
set -uo pipefail
binary=$1
ip link set lo up
ip addr add 192.0.2.1/32 dev lo
work=$(mktemp -d)
NO_COLOR=1 "$binary" --bind 0.0.0.0 --port 6390 --dir "$work/data" >"$work/luma.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 200); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.05; done
passed=0; failed=0
expect() { # name, expected substring, command...
  local name=$1 want=$2; shift 2
  local out; out=$("$@" 2>&1)
  if [[ $out == *"$want"* ]]; then passed=$((passed + 1)); echo "ok   $name"
  else failed=$((failed + 1)); echo "FAIL $name: got '$out'"; fi
}
expect "remote refused without password" "DENIED Redis is running in protected mode" \
  redis-cli -h 192.0.2.1 -p 6390 ping
expect "loopback still served" "PONG" redis-cli -h 127.0.0.1 -p 6390 ping
expect "password lifts protection" "OK" redis-cli -h 127.0.0.1 -p 6390 config set requirepass pw
expect "remote with password" "PONG" redis-cli --no-auth-warning -a pw -h 192.0.2.1 -p 6390 ping
expect "password removed" "OK" redis-cli --no-auth-warning -a pw -p 6390 config set requirepass ""
expect "still protected after password removed" "DENIED" redis-cli -h 192.0.2.1 -p 6390 ping
expect "disable protected mode" "OK" redis-cli -p 6390 config set protected-mode no
expect "remote allowed when disabled" "PONG" redis-cli -h 192.0.2.1 -p 6390 ping
echo "protected-mode: $passed passed, $failed failed"
[[ $failed == 0 ]]
INNER
