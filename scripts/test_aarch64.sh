#!/usr/bin/env bash
# Tests the AArch64 (NEON) distance kernels against their scalar twins on an x86-64 machine:
# cross-compiles tests/cross/kernels.rs (the kernels and their tests, nothing else) and runs it
# under qemu-user. Installs the cross linker, qemu-user and the Rust target when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_cmd=""
[[ $(id -u) == 0 ]] || sudo_cmd="sudo"
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
  echo "== installing qemu-user and the AArch64 cross linker"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq qemu-user \
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null
fi
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  echo "== adding the aarch64-unknown-linux-gnu Rust target"
  rustup target add aarch64-unknown-linux-gnu
fi
mkdir -p target/cross
rustc --edition 2021 --test -O --target aarch64-unknown-linux-gnu \
  -C linker=aarch64-linux-gnu-gcc -o target/cross/kernels-aarch64 tests/cross/kernels.rs
qemu-aarch64 -L /usr/aarch64-linux-gnu target/cross/kernels-aarch64
