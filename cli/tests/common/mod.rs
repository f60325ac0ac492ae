//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `zkcredit <args>` in `cwd`.
pub fn zk(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkcredit"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// stdout + stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Development keys of the small test circuit (4 slots × depth 8) in `<cwd>/keys`.
pub fn setup_small(cwd: &Path) {
    let o = zk(
        &[
            "setup",
            "--circuit",
            "eligibility_s4_d8",
            "--params",
            "keys",
            "--cache",
            "keys/cache",
        ],
        cwd,
    );
    assert!(o.status.success(), "{}", text(&o));
}
