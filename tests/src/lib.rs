//! Shared fixtures of the end-to-end tests: the workspace paths, the default circuit's
//! development prover (derived once per test binary), and the peer toolchain location.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::PathBuf;
use std::sync::OnceLock;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::Prover;

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The committed params directory.
pub fn params_dir() -> PathBuf {
    workspace().join("params")
}

/// Development prover of the default eligibility circuit (16 slots × depth 32), derived
/// once per test process from the published insecure seed.
pub fn default_prover() -> &'static Prover {
    static P: OnceLock<Prover> = OnceLock::new();
    P.get_or_init(|| {
        CircuitId::default_eligibility()
            .insecure_dev_prover()
            .expect("dev setup")
    })
}

/// The snarkjs CLI installed by `scripts/install-js.sh`. Panics with instructions if it is
/// missing: the interop test must not silently pass without its peer.
pub fn snarkjs() -> PathBuf {
    let p = workspace().join("js/node_modules/snarkjs/build/cli.cjs");
    assert!(
        p.exists(),
        "snarkjs is not installed: run `bash scripts/install-js.sh` (CI does this in .ci/run)"
    );
    p
}
