//! The vector distance kernels alone, as a crate of their own: `scripts/test_aarch64.sh`
//! cross-compiles their tests for AArch64 in seconds and runs them under qemu-user, so the
//! NEON kernels are tested on every run (cross-building the whole crate takes minutes).
#![allow(dead_code)]

#[path = "../../src/vector/distance/mod.rs"]
pub mod distance;
#[path = "../../src/vector/testutil.rs"]
pub mod testutil;

/// The paths the kernels' tests use (`crate::vector::…`).
pub mod vector {
    pub use crate::testutil;
}
