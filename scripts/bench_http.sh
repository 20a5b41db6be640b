#!/usr/bin/env bash
# HTTP API against RESP: starts a release Luma on free ports and runs the load tool
# (benches/http_load.rs): GET/SET through POST / and over RESP from 50 keep-alive clients, as
# a ratio, and the publish-to-receive latency of 1,000 SSE subscribers.
# Usage: scripts/bench_http.sh [http_load options: --clients N --requests N --subscribers N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo bench --bench http_load --no-run --quiet 2>/dev/null
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
resp=$(free_port)
http=$(free_port)
ulimit -n 65536 2>/dev/null || true
target/release/luma --port "$resp" --http-port "$http" --dir "$work/luma" --maxclients 5000 >"$work/luma.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do redis-cli -p "$resp" ping >/dev/null 2>&1 && break; sleep 0.1; done
cargo bench --bench http_load --quiet -- --resp "$resp" --http "$http" "$@"
