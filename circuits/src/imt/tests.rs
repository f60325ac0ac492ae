//! Indexed Merkle tree: property tests over random operation sequences, and the lookup
//! gadget driven against its native twin.

use super::constraints::{lookup, LookupWitnessVar};
use super::*;
use ark_r1cs_std::{alloc::AllocVar, fields::fp::FpVar, prelude::Boolean, GR1CSVar};
use ark_relations::gr1cs::ConstraintSystem;
use proptest::prelude::*;
use std::collections::BTreeMap as Model;

const D: usize = 10;

fn k(x: u64) -> Fr {
    Fr::from(x)
}

fn vals(x: u64) -> [Fr; 3] {
    [Fr::from(x), Fr::from(x * 3 + 1), Fr::from(x % 7)]
}

/// Runs the lookup gadget on (root, x, witness) and returns (satisfied, present, values).
fn gadget(root: Fr, x: Fr, w: &LookupWitness, depth: usize) -> (bool, bool, [Fr; 3]) {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let root_v = FpVar::new_input(cs.clone(), || Ok(root)).unwrap();
    let x_v = FpVar::new_witness(cs.clone(), || Ok(x)).unwrap();
    let wv = LookupWitnessVar::alloc(cs.clone(), Some(w), depth).unwrap();
    let r = lookup(&Boolean::TRUE, &root_v, &x_v, &wv).unwrap();
    let vals = [
        r.values[0].value().unwrap(),
        r.values[1].value().unwrap(),
        r.values[2].value().unwrap(),
    ];
    (cs.is_satisfied().unwrap(), r.present.value().unwrap(), vals)
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u64, u64),
    Update(u64, u64),
    Delete(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u64..64, 0u64..1000).prop_map(|(a, b)| Op::Insert(a, b)),
        (1u64..64, 0u64..1000).prop_map(|(a, b)| Op::Update(a, b)),
        (1u64..64).prop_map(Op::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// A store that persists only the touched leaves after each operation and restores the
    /// tree with `from_leaves` gets the same root and the same witnesses (spec §4.4).
    #[test]
    fn persisted_touched_leaves_restore_the_same_tree(ops in proptest::collection::vec(op(), 1..40)) {
        let mut t = IndexedMerkleTree::new(D).unwrap();
        let mut store: std::collections::BTreeMap<u64, Leaf> = Default::default();
        for o in &ops {
            let _ = match *o {
                Op::Insert(a, b) => t.insert(k(a), vals(b)),
                Op::Update(a, b) => t.update(k(a), vals(b)),
                Op::Delete(a) => t.delete(&k(a)),
            };
            for i in t.take_touched() {
                match t.leaf(i) {
                    Some(l) => { store.insert(i, l); }
                    None => { store.remove(&i); }
                }
            }
        }
        let mut r = IndexedMerkleTree::from_leaves(D, store.clone()).unwrap();
        prop_assert_eq!(r.root(), t.root());
        for key in t.keys().copied().collect::<Vec<_>>() {
            prop_assert_eq!(r.witness(&key).unwrap(), t.witness(&key).unwrap());
        }
        // Both continue identically: same free-slot choice on the next insert.
        let fresh = k(u64::MAX / 3);
        let salt = Fr::from(5u64);
        prop_assert_eq!(
            t.upsert_salted(fresh, vals(9), salt).is_ok(),
            r.upsert_salted(fresh, vals(9), salt).is_ok()
        );
        prop_assert_eq!(r.root(), t.root());
        // A corrupted table is refused, never silently accepted.
        if let Some((&i, l)) = store.iter().nth(1) {
            let mut bad = store.clone();
            bad.insert(i, Leaf { next_key: l.next_key + Fr::from(1u64), ..*l });
            prop_assert!(IndexedMerkleTree::from_leaves(D, bad).is_err());
        }
    }

    /// After any sequence of operations: the root equals a from-scratch rebuild, every
    /// present key proves membership with its record, every absent key proves
    /// non-membership, and native and gadget agree.
    #[test]
    fn random_operation_sequences(ops in proptest::collection::vec(op(), 1..40)) {
        let mut t = IndexedMerkleTree::new(D).unwrap();
        let mut model: Model<u64, u64> = Model::new();
        for o in &ops {
            match *o {
                Op::Insert(a, b) => {
                    let r = t.insert(k(a), vals(b));
                    prop_assert_eq!(r.is_ok(), !model.contains_key(&a));
                    model.entry(a).or_insert(b);
                }
                Op::Update(a, b) => {
                    let r = t.update(k(a), vals(b));
                    prop_assert_eq!(r.is_ok(), model.contains_key(&a));
                    if let Some(v) = model.get_mut(&a) { *v = b; }
                }
                Op::Delete(a) => {
                    let r = t.delete(&k(a));
                    prop_assert_eq!(r.is_ok(), model.remove(&a).is_some());
                }
            }
        }
        // Incremental O(depth) updates agree with a from-scratch rebuild of the same leaves.
        prop_assert_eq!(t.root(), t.recompute_root());
        // The parallel bulk build equals inserting the same rows one by one in key order.
        let rows: Vec<SaltedRow> =
            model.iter().map(|(a, b)| (k(*a), vals(*b), Fr::from(a * 7 + b))).collect();
        let rebuilt = IndexedMerkleTree::from_salted_rows(D, &rows).unwrap();
        let mut fresh = IndexedMerkleTree::new(D).unwrap();
        for (a, b, s) in &rows { fresh.insert_salted(*a, *b, *s).unwrap(); }
        prop_assert_eq!(rebuilt.root(), fresh.root());
        prop_assert_eq!(t.len(), model.len());
        let root = t.root();
        for x in 1u64..66 {
            let (present, w) = t.witness(&k(x)).unwrap();
            prop_assert_eq!(present, model.contains_key(&x));
            let native = w.verify(&root, &k(x));
            let expected = model.get(&x).map(|b| vals(*b)).unwrap_or([Fr::zero(); 3]);
            prop_assert_eq!(native, Some((present, expected)));
        }
        // The gadget on a few keys (synthesis is the slow part).
        for x in [1u64, 17, 33, 65] {
            let (present, w) = t.witness(&k(x)).unwrap();
            let (ok, p, v) = gadget(root, k(x), &w, D);
            prop_assert!(ok);
            prop_assert_eq!(p, present);
            prop_assert_eq!(v, model.get(&x).map(|b| vals(*b)).unwrap_or([Fr::zero(); 3]));
        }
    }

    /// A witness for one key used for another key never proves anything false about it:
    /// when the gadget accepts, what it outputs (present or absent, and the record) is the
    /// truth about that key. It accepts exactly when the native check does, and always when
    /// the two keys share their witness (same low leaf, both absent). Accepting is right
    /// too when `a`'s own leaf is `b`'s low leaf (`a < b < a.next`): it then proves `b`
    /// absent, which it is (regression `a_members_leaf_proves_the_next_keys_absence`).
    #[test]
    fn witness_for_wrong_key_never_satisfies(
        keys in proptest::collection::btree_set(1u64..200, 1..12),
        a in 1u64..200, b in 1u64..200,
    ) {
        prop_assume!(a != b);
        let rows: Vec<(Fr, [Fr; 3])> = keys.iter().map(|x| (k(*x), vals(*x))).collect();
        let t = IndexedMerkleTree::from_rows(D, &rows).unwrap();
        let (_, wa) = t.witness(&k(a)).unwrap();
        let (_, wb) = t.witness(&k(b)).unwrap();
        let (ok, present, v) = gadget(t.root(), k(b), &wa, D);
        let native = wa.verify(&t.root(), &k(b));
        prop_assert_eq!(ok, native.is_some());
        if wa == wb {
            prop_assert!(ok);
        }
        if ok {
            prop_assert_eq!(present, keys.contains(&b));
            prop_assert!(!present, "a witness for {} cannot open {}", a, b);
            prop_assert_eq!(v, [Fr::zero(); 3]);
            prop_assert_eq!(native, Some((false, [Fr::zero(); 3])));
        }
    }
}

/// Found by the property above (keys {53}, a = 53, b = 54): the member's open leaf is also
/// the low leaf of the next key, so it proves that key's absence — truly. The test's oracle
/// had called that a wrong-key acceptance; the gadget was right.
#[test]
fn a_members_leaf_proves_the_next_keys_absence() {
    let t = IndexedMerkleTree::from_rows(D, &[(k(53), vals(53))]).unwrap();
    let (_, w53) = t.witness(&k(53)).unwrap();
    let (ok, present, v) = gadget(t.root(), k(54), &w53, D);
    assert!(ok && !present, "54 is absent and 53's leaf shows it");
    assert_eq!(v, [Fr::zero(); 3]);
    assert_eq!(
        w53.verify(&t.root(), &k(54)),
        Some((false, [Fr::zero(); 3]))
    );
    // It opens nothing for 53's record under another key, nor for a key beyond 53's range.
    let (ok, _, _) = gadget(t.root(), k(52), &w53, D);
    assert!(!ok, "52 < 53: not in the low leaf's range");
}

fn populated() -> IndexedMerkleTree {
    let rows: Vec<(Fr, [Fr; 3])> = [10u64, 20, 30, 40]
        .iter()
        .map(|x| (k(*x), vals(*x)))
        .collect();
    IndexedMerkleTree::from_rows(D, &rows).unwrap()
}

#[test]
fn wrong_sibling_fails() {
    let t = populated();
    let (_, mut w) = t.witness(&k(25)).unwrap();
    assert!(gadget(t.root(), k(25), &w, D).0);
    w.siblings[3] += Fr::from(1u64);
    assert!(!gadget(t.root(), k(25), &w, D).0);
    assert_eq!(w.verify(&t.root(), &k(25)), None);
}

#[test]
fn flipped_path_bit_fails() {
    let t = populated();
    let (_, mut w) = t.witness(&k(30)).unwrap();
    w.index ^= 1 << 2;
    assert!(!gadget(t.root(), k(30), &w, D).0);
    assert_eq!(w.verify(&t.root(), &k(30)), None);
}

#[test]
fn key_equal_to_low_leaf_key_or_next_key_is_present_not_absent() {
    let t = populated();
    // 20's non-membership witness would be the leaf of 10 (low) whose next is 20: rejected.
    let (_, w10) = t.witness(&k(10)).unwrap();
    assert_eq!(w10.leaf.next_key, k(20));
    assert!(
        !gadget(t.root(), k(20), &w10, D).0,
        "x == next_key must fail"
    );
    // Claiming 10 absent using the leaf whose key is 10 returns present = true instead.
    let (ok, present, _) = gadget(t.root(), k(10), &w10, D);
    assert!(ok && present);
}

#[test]
fn first_and_last_keys_are_found() {
    let t = populated();
    for x in [10u64, 40] {
        let (present, w) = t.witness(&k(x)).unwrap();
        assert!(present);
        let (ok, p, v) = gadget(t.root(), k(x), &w, D);
        assert!(ok && p);
        assert_eq!(v, vals(x));
    }
    // Below the first key and above the last key: absent, via sentinel / last leaf.
    for x in [1u64, 41] {
        let (present, w) = t.witness(&k(x)).unwrap();
        assert!(!present);
        let (ok, p, _) = gadget(t.root(), k(x), &w, D);
        assert!(ok && !p);
    }
}

#[test]
fn absent_claim_with_a_far_low_leaf_fails() {
    let t = populated();
    // 35 lies between 30 and 40; the leaf of 10 is a real leaf but not its low leaf.
    let (_, w10) = t.witness(&k(10)).unwrap();
    assert!(!gadget(t.root(), k(35), &w10, D).0);
    // The last leaf (40, next 0) cannot prove absence of 35 either (40 > 35).
    let (_, w40) = t.witness(&k(40)).unwrap();
    assert!(!gadget(t.root(), k(35), &w40, D).0);
}

#[test]
fn disabled_lookup_enforces_nothing_and_returns_zero() {
    let cs = ConstraintSystem::<Fr>::new_ref();
    let root_v = FpVar::new_input(cs.clone(), || Ok(Fr::from(12345u64))).unwrap();
    let x_v = FpVar::new_witness(cs.clone(), || Ok(k(7))).unwrap();
    let mut w = LookupWitness::empty(D);
    w.leaf.key = k(7);
    w.leaf.record = LeafRecord::Open {
        values: vals(9),
        salt: Fr::from(3u64),
    };
    let wv = LookupWitnessVar::alloc(cs.clone(), Some(&w), D).unwrap();
    let r = lookup(&Boolean::FALSE, &root_v, &x_v, &wv).unwrap();
    assert!(cs.is_satisfied().unwrap());
    assert!(!r.present.value().unwrap());
    assert_eq!(r.values[0].value().unwrap(), Fr::zero());
}

#[test]
fn key_range_and_errors() {
    let mut t = IndexedMerkleTree::new(D).unwrap();
    assert_eq!(
        t.insert(Fr::zero(), vals(1)),
        Err(CircuitError::KeyOutOfRange)
    );
    let too_big = Fr::from(2u64).pow_u64(248);
    assert_eq!(t.insert(too_big, vals(1)), Err(CircuitError::KeyOutOfRange));
    t.insert(too_big - Fr::from(1u64), vals(1)).unwrap();
    assert_eq!(
        t.insert(too_big - Fr::from(1u64), vals(1)),
        Err(CircuitError::DuplicateKey)
    );
    assert_eq!(t.delete(&k(5)), Err(CircuitError::KeyNotFound));
    assert_eq!(t.update(k(5), vals(1)), Err(CircuitError::KeyNotFound));
    let mut small = IndexedMerkleTree::new(2).unwrap();
    for x in 1..=3 {
        small.insert(k(x), vals(x)).unwrap();
    }
    assert_eq!(
        small.insert(k(9), vals(9)),
        Err(CircuitError::TreeFull { depth: 2 })
    );
    assert!(IndexedMerkleTree::new(0).is_err());
    assert!(IndexedMerkleTree::new(66).is_err());
}

trait PowU64 {
    fn pow_u64(&self, e: u64) -> Self;
}
impl PowU64 for Fr {
    fn pow_u64(&self, e: u64) -> Self {
        ark_ff::Field::pow(self, [e])
    }
}

#[test]
fn empty_tree_root_is_sentinel_path() {
    let t = IndexedMerkleTree::new(4).unwrap();
    let z = zero_hashes(4);
    let mut cur = Leaf::default().hash();
    for zl in z.iter().take(2) {
        cur = node_hash([cur, *zl, *zl, *zl]);
    }
    assert_eq!(t.root(), cur);
}

#[test]
fn placement_gadget_equals_native_for_every_position() {
    use super::constraints::place_var;
    let sibs = [Fr::from(11u64), Fr::from(22u64), Fr::from(33u64)];
    for pos in 0..4usize {
        let cs = ConstraintSystem::<Fr>::new_ref();
        let cur = FpVar::new_witness(cs.clone(), || Ok(Fr::from(99u64))).unwrap();
        let b0 = Boolean::new_witness(cs.clone(), || Ok(pos & 1 == 1)).unwrap();
        let b1 = Boolean::new_witness(cs.clone(), || Ok(pos & 2 == 2)).unwrap();
        let s: Vec<FpVar<Fr>> = sibs
            .iter()
            .map(|x| FpVar::new_witness(cs.clone(), || Ok(*x)).unwrap())
            .collect();
        let before = cs.num_constraints();
        let c = place_var(&cur, &b0, &b1, &s).unwrap();
        assert_eq!(cs.num_constraints() - before, 9);
        let got: Vec<Fr> = c.iter().map(|v| v.value().unwrap()).collect();
        assert_eq!(
            got,
            place(Fr::from(99u64), pos, &sibs).to_vec(),
            "pos {pos}"
        );
        assert!(cs.is_satisfied().unwrap());
    }
}

#[test]
fn odd_depth_is_rejected() {
    assert!(IndexedMerkleTree::new(31).is_err());
    assert!(IndexedMerkleTree::new(1).is_err());
}

/// Regression (found by `services/tests/fuzz.rs`): a hostile provider's witness with more
/// than 32 levels made `computed_root` shift a u64 index by ≥ 64 bits, a panic with
/// overflow checks on. It now treats missing index digits as 0.
#[test]
fn regression_witness_with_more_levels_than_index_digits_does_not_panic() {
    let w = LookupWitness {
        index: u64::MAX,
        leaf: WitnessLeaf::default(),
        siblings: vec![Fr::from(1u64); 3 * 40],
    };
    let root = w.computed_root();
    assert_ne!(root, Fr::from(0u64));
}

// ---- Salted leaves (spec §4.1, §4.3 (1b); issue 10 finding 5) ----

/// A non-membership witness carries the low leaf sealed: its key, next key and the opaque
/// commitment, never the neighbour's values or salt; the membership witness opens the
/// subject's own record. Native twin and gadget agree on both.
#[test]
fn finding_05_non_membership_witness_seals_the_neighbour_record() {
    // Records that share no number with any key or index.
    let secret = |x: u64| [x * 1_000_003 + 7, x * 1_000_033 + 1, x * 999_983 + 3].map(Fr::from);
    let rows: Vec<(Fr, [Fr; 3])> = [10u64, 20, 30, 40]
        .iter()
        .map(|x| (k(*x), secret(*x)))
        .collect();
    let t = IndexedMerkleTree::from_rows(D, &rows).unwrap();
    let root = t.root();
    // 25 is absent: the low leaf is 20's, sealed.
    let (present, w) = t.witness(&k(25)).unwrap();
    assert!(!present);
    assert_eq!(w.leaf.key, k(20));
    assert_eq!(w.leaf.values(), None);
    let neighbour = t.leaf_of(&k(20)).unwrap();
    assert_eq!(
        w.leaf.record,
        LeafRecord::Sealed {
            commitment: neighbour.commitment()
        }
    );
    let json = serde_json::to_string(&w).unwrap();
    for v in secret(20).iter().chain([&neighbour.salt]) {
        let dec = crate::field::fr_to_dec(v);
        assert!(
            !json.contains(&format!("\"{dec}\"")),
            "value {dec} leaked: {json}"
        );
    }
    assert_eq!(w.verify(&root, &k(25)), Some((false, [Fr::zero(); 3])));
    assert_eq!(gadget(root, k(25), &w, D), (true, false, [Fr::zero(); 3]));
    // 20 is present: its own record, open.
    let (present, w) = t.witness(&k(20)).unwrap();
    assert!(present);
    assert_eq!(
        w.leaf.record,
        LeafRecord::Open {
            values: secret(20),
            salt: neighbour.salt
        }
    );
    assert_eq!(w.verify(&root, &k(20)), Some((true, secret(20))));
    assert_eq!(gadget(root, k(20), &w, D), (true, true, secret(20)));
}

/// Membership with a forged opening (other values, other salt) or with the record sealed
/// is refused by both twins; so is a non-membership witness whose sealed commitment was
/// altered (the leaf no longer hashes into the root).
#[test]
fn forged_salt_values_or_commitment_are_rejected_by_both_twins() {
    let t = populated();
    let root = t.root();
    let (_, member) = t.witness(&k(30)).unwrap();
    let LeafRecord::Open { values, salt } = member.leaf.record else {
        panic!("membership witness must be open");
    };
    let forged = |record: LeafRecord| {
        let mut w = member.clone();
        w.leaf.record = record;
        w
    };
    let cases = [
        (
            "forged salt",
            forged(LeafRecord::Open {
                values,
                salt: salt + Fr::from(1u64),
            }),
        ),
        (
            "forged values",
            forged(LeafRecord::Open {
                values: vals(31),
                salt,
            }),
        ),
        (
            // The commitment is right (the leaf hashes into the root) but not opened:
            // values would be unbound, so membership needs the opening.
            "sealed own leaf",
            forged(LeafRecord::Sealed {
                commitment: value_commitment(&values, &salt),
            }),
        ),
    ];
    for (what, w) in cases {
        assert_eq!(w.verify(&root, &k(30)), None, "{what}");
        assert!(!gadget(root, k(30), &w, D).0, "{what}");
    }
    // A sealed low leaf with another commitment does not open the root.
    let (_, mut low) = t.witness(&k(35)).unwrap();
    low.leaf.record = LeafRecord::Sealed {
        commitment: Fr::from(777u64),
    };
    assert_eq!(low.verify(&root, &k(35)), None);
    assert!(!gadget(root, k(35), &low, D).0);
}

/// Salts come from a per-thread buffer of OS randomness: they stay distinct across refills
/// of the buffer and between threads.
#[test]
fn salts_are_distinct_across_refills_and_threads() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1_000 {
        assert!(seen.insert(crate::imt::leaf::fresh_salt()));
    }
    let other: Vec<Fr> =
        std::thread::spawn(|| (0..200).map(|_| crate::imt::leaf::fresh_salt()).collect())
            .join()
            .unwrap();
    for s in other {
        assert!(seen.insert(s));
    }
    // Uniform below r (≈ 2^253.6): bit 253 is set in 1 − 2^253/r ≈ 33.9 % of salts; a mask
    // one bit too narrow would give 0 %, and 254 bits reduced mod r instead of rejected
    // ≈ 25.6 %.
    let top = (0..4_000)
        .filter(|_| {
            use ark_ff::{BigInteger, PrimeField};
            crate::imt::leaf::fresh_salt().into_bigint().get_bit(253)
        })
        .count();
    assert!(
        (1_120..=1_560).contains(&top),
        "bit 253 set in {top} of 4,000 salts"
    );
}

/// Every value change takes a fresh salt: equal values give an unrelated commitment, so a
/// watcher of sealed commitments cannot tell an update that restored old values.
#[test]
fn updates_take_a_fresh_salt() {
    let mut t = populated();
    let before = t.leaf_of(&k(20)).unwrap();
    t.update(k(20), vals(20)).unwrap();
    let after = t.leaf_of(&k(20)).unwrap();
    assert_eq!(before.values, after.values);
    assert_ne!(before.salt, after.salt);
    assert_ne!(before.commitment(), after.commitment());
    // A rebuild from leaves keeps the salts (and so the root).
    let r = IndexedMerkleTree::from_leaves(D, t.occupied_leaves()).unwrap();
    assert_eq!(r.root(), t.root());
    assert_eq!(r.leaf_of(&k(20)), Some(after));
}

/// The batch hashes (eight lanes where available) equal the one-by-one ones: leaves with and
/// without empty slots between them, the sentinel, and groups.
#[test]
fn leaf_and_node_hashes_in_batches_equal_one_by_one() {
    use ark_ff::UniformRand;
    let mut rng = ark_std::test_rng();
    let leaves: Vec<Option<Leaf>> = (0..77)
        .map(|i| {
            (i % 5 != 3).then(|| Leaf {
                key: Fr::rand(&mut rng),
                next_key: Fr::rand(&mut rng),
                values: [Fr::rand(&mut rng), Fr::from(i as u64), Fr::zero()],
                salt: fresh_salt(),
            })
        })
        .chain([Some(Leaf::default())])
        .collect();
    let want: Vec<Fr> = leaves
        .iter()
        .map(|l| l.map(|l| l.hash()).unwrap_or_else(Fr::zero))
        .collect();
    assert_eq!(leaf_hashes(leaves.iter().map(Option::as_ref)), want);
    let groups: Vec<[Fr; ARITY]> = want
        .chunks(ARITY)
        .map(|c| std::array::from_fn(|k| c.get(k).copied().unwrap_or_else(Fr::zero)))
        .collect();
    let nodes: Vec<Fr> = groups.iter().map(|g| node_hash(*g)).collect();
    assert_eq!(node_hashes(&groups), nodes);
}
