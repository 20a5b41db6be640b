#!/usr/bin/env bash
# Runs every Luma test on a fresh machine: installs redis-tools, redis-server and redis-py when
# missing, checks formatting and lints, runs the Rust unit and integration tests, then the client
# script tests (redis-py, redis-cli, redis-benchmark, and a differential run of the same commands
# against a real redis-server, and the @upstash/redis npm client over the HTTP API) against the
# built binary. The AArch64 distance kernels are cross-compiled and tested under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null \
  || ! command -v redis-server >/dev/null; then
  echo "== installing redis-tools and redis-server (the reference for the differential test)"
  sudo_cmd=""
  [[ $(id -u) == 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-tools redis-server \
    >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "== installing node and npm (the @upstash/redis client test)"
  sudo_cmd=""
  [[ $(id -u) == 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nodejs npm >/dev/null
fi
if [[ ! -d tests/scripts/upstash/node_modules/@upstash/redis ]]; then
  echo "== installing @upstash/redis"
  (cd tests/scripts/upstash && npm ci --no-audit --no-fund --silent)
fi
if ! python3 -c 'import redis' 2>/dev/null; then
  echo "== installing redis-py"
  python3 -m pip install --quiet --disable-pip-version-check 'redis==8.1.0'
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
if cargo clippy --version >/dev/null 2>&1; then
  echo "== cargo clippy"
  cargo clippy --all-targets --quiet -- -D warnings
fi

echo "== cargo test"
cargo test

echo "== AArch64 (NEON) distance kernels, cross-compiled and run under qemu-user"
scripts/test_aarch64.sh

echo "== client script tests"
cargo build --quiet
status=0
python3 tests/scripts/redis_py_basics.py target/debug/luma || status=1
python3 tests/scripts/differential.py target/debug/luma || status=1
python3 tests/scripts/redis_py_pubsub.py target/debug/luma || status=1
python3 tests/scripts/redis_py_vectors.py target/debug/luma || status=1
python3 tests/scripts/redis_py_sql.py target/debug/luma || status=1
node tests/scripts/upstash/check.mjs target/debug/luma || status=1
bash tests/scripts/redis_cli.sh target/debug/luma || status=1
bash tests/scripts/protected_mode.sh target/debug/luma || status=1
exit $status
