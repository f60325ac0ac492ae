//! The proving-key cache (SPEC §11.3). A cached key is used only while its verifying key is
//! the one derived afresh from this code and the SRS. Regression (review): a changed
//! circuit of the same shape must never keep serving an old key.

use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::statements::Subject;
use zkcredit_circuits::Fr;
use zkcredit_halo2::keys::write_pk;
use zkcredit_halo2::proof::keygen;
use zkcredit_halo2::srs;
use zkcredit_halo2::statements::FraudOnly;
use zkcredit_halo2::system::{layout, Halo2Prover, KeySource, Powers};

#[test]
fn a_cached_key_of_another_circuit_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let shape = EligibilityParams { slots: 2, depth: 2 };
    let (first, source) = Halo2Prover::load(shape, &Powers::InsecureDev, dir.path()).unwrap();
    let KeySource::Generated(path, _) = source else {
        panic!("a fresh cache generates the key")
    };
    let (_, source) = Halo2Prover::load(shape, &Powers::InsecureDev, dir.path()).unwrap();
    assert_eq!(source, KeySource::Cached(path.clone()));

    // Another circuit's keys at the same size and SRS, written where this circuit's are.
    let (k, _) = layout(&shape);
    let params = srs::load_cached(&dir.path().join(format!("dev-k{k}.ptau")), k, dir.path())
        .unwrap()
        .0;
    let tree = IndexedMerkleTree::from_rows(2, &[(Fr::from(9u64), [Fr::from(1u64); 3])]).unwrap();
    let key = Fr::from(5u64);
    let other = FraudOnly {
        depth: 2,
        root: tree.root(),
        subject: Subject {
            key,
            blinding: Fr::from(1u64),
        },
        witness: tree.witness(&key).unwrap().1,
    };
    write_pk(&path, &keygen(&params, 8, &other).unwrap()).unwrap();
    let (again, source) = Halo2Prover::load(shape, &Powers::InsecureDev, dir.path()).unwrap();
    assert!(matches!(source, KeySource::Generated(..)), "{source:?}");
    assert_eq!(again.vk.digest(), first.vk.digest());
}
