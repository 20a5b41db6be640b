#!/usr/bin/env bash
# SQL engine load (issue 8): starts a release Luma on a free port in a temp dir and runs the load
# tool (benches/sql_load.rs): point selects via SQL.QUERY from 50 clients against the rusqlite
# in-process ceiling, SQL.EXEC inserts under appendfsync everysec/always, readers with writers.
# Usage: scripts/bench_sql.sh [sql_load options: --clients N --rows N --seconds S --writers 1,4]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo bench --bench sql_load --no-run --quiet 2>/dev/null
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
target/release/luma --port "$port" --http-port=-1 --dir "$work/luma" >"$work/luma.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
cargo bench --bench sql_load --quiet -- --port "$port" "$@"
