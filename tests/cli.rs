//! End-to-end tests of the `runner` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn binary_starts() {
    let out = Command::new(env!("CARGO_BIN_EXE_runner")).arg("--version").output().unwrap();
    assert!(out.status.success());
}
