//! Key generation and key files: the development setup is deterministic per circuit, OS
//! randomness is not, proving-key files are verified on load.

use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::files::{pk_path, read_pk, write_pk, VkFiles};
use zkcredit_prover::ProverError;

#[test]
fn development_setup_is_deterministic_and_per_circuit() {
    let a = CircuitId::FraudOnly { depth: 4 }
        .insecure_dev_setup()
        .unwrap();
    let b = CircuitId::FraudOnly { depth: 4 }
        .insecure_dev_setup()
        .unwrap();
    assert_eq!(a.vk, b.vk);
    let c = CircuitId::FraudOnly { depth: 5 }
        .insecure_dev_setup()
        .unwrap();
    assert_ne!(
        a.vk.alpha_g1, c.vk.alpha_g1,
        "each circuit gets its own seed"
    );
    let os = CircuitId::FraudOnly { depth: 4 }.setup_os_rng().unwrap();
    assert_ne!(os.vk, a.vk);
}

#[test]
fn key_files_roundtrip_and_corruption_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let id = CircuitId::FraudOnly { depth: 4 };
    let pk = id.insecure_dev_setup().unwrap();
    let files = VkFiles::new(dir.path(), &id.name());
    files.write(&pk.vk).unwrap();
    assert_eq!(files.read().unwrap(), pk.vk);
    let path = pk_path(dir.path(), &id.name());
    write_pk(&path, &pk).unwrap();
    assert_eq!(read_pk(&path, &pk.vk).unwrap().vk, pk.vk);

    // A proving key for another verifying key is refused.
    let other = CircuitId::FraudOnly { depth: 4 }.setup_os_rng().unwrap();
    assert!(matches!(
        read_pk(&path, &other.vk),
        Err(ProverError::KeyMismatch { .. })
    ));

    // A flipped byte in the proving key is detected by its digest.
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        read_pk(&path, &pk.vk),
        Err(ProverError::KeyMismatch { .. })
    ));

    // A tampered pinned digest is detected.
    std::fs::write(&files.digest, "00\n").unwrap();
    assert!(files.read().is_err());
    // A missing file is an Io error naming the path.
    match VkFiles::new(dir.path(), "nope").read() {
        Err(e) => assert!(e.to_string().contains("nope.vk.bin"), "{e}"),
        Ok(_) => panic!("missing file read"),
    }
}
