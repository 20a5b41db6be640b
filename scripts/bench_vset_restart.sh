#!/usr/bin/env bash
# Start-up time with a large vector set: loads N vectors through VADD (benches/vset_load.rs),
# checkpoints (SAVE), adds 1% more so the restart has some catching up to do, kills the server
# with -9 and times the restart until it answers, then checks VCARD.
# Usage: scripts/bench_vset_restart.sh [--n N] [--dim D] (vset_load options)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo bench --bench vset_load --no-run --quiet 2>/dev/null
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start() { target/release/luma --port "$port" --dir "$work/luma" >>"$work/luma.log" 2>&1 & pid=$!; }
start
trap 'kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
cargo bench --bench vset_load --quiet -- --port "$port" --pid "$pid" --queries 100 --clients 2 "$@"
redis-cli -p "$port" SAVE >/dev/null
n=$(redis-cli -p "$port" VCARD bench:vset)
extra=$(( n / 100 ))
dim=$(redis-cli -p "$port" VDIM bench:vset)
python3 - "$port" "$extra" "$dim" <<'PY'
import socket, struct, sys, random
port, extra, dim = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port))
out = bytearray()
for i in range(extra):
    blob = struct.pack(f"<{dim}f", *[random.gauss(0, 1) for _ in range(dim)])
    name = f"late{i}".encode()
    parts = [b"VADD", b"bench:vset", b"FP32", blob, name]
    out += b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
s.sendall(out)
f = s.makefile("rb")
for _ in range(extra):
    assert f.readline().startswith(b":1")
PY
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
t0=$(date +%s.%N)
start
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.02; done
t1=$(date +%s.%N)
echo "restart after kill -9 with $n + $extra elements: $(python3 -c "print(f'{$t1-$t0:.2f}')") s to answer PING; VCARD $(redis-cli -p "$port" VCARD bench:vset)"
grep "vector sets:" "$work/luma.log" | tail -1
