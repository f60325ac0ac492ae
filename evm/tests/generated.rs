//! Generated code is generated: the committed Solidity equals the generator's output for
//! the committed verifying key, and the committed artifacts equal a fresh solc-js build.

use std::path::PathBuf;
use std::process::Command;
use zkcredit_evm::codegen;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn committed_solidity_equals_the_generator_output() {
    let bin = std::fs::read(root().join("params/eligibility_s16_d32.vk.bin")).unwrap();
    let vk = zkcredit_verifier::keys::vk_from_bytes(&bin).unwrap();
    let digest = zkcredit_verifier::keys::vk_digest(&vk);
    for (rel, text) in codegen::all(&vk, "eligibility_s16_d32", &digest) {
        let committed = std::fs::read_to_string(root().join(&rel)).unwrap_or_default();
        assert!(committed == text, "{rel} differs from the generator: run `zkcredit gen-contracts` (never edit it by hand)");
    }
}

#[test]
fn committed_artifacts_equal_a_fresh_solc_build() {
    let solc = root().join("js/node_modules/solc");
    assert!(
        solc.exists(),
        "solc-js is not installed: run `bash scripts/install-js.sh`"
    );
    let out = Command::new("node")
        .arg(root().join("contracts/compile.js"))
        .arg("--check")
        .output()
        .expect("node on PATH");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("fresh"), "{text}");
}
