//! Soundness of the cross-lender new-loan limit in the statement (spec §6.10), in the style
//! of `eligibility_soundness.rs`: the native twin and the circuit agree on every case and
//! name the same failing [`Rule`]. A borrower has exactly `max_new_loans` tags per epoch:
//! an index at or beyond the limit, a tag of another index, epoch, secret or of no limit at
//! all, each fails `Rule::Origination`; the limit is part of the policy hash.

mod soundness;

use soundness::*;
use zkcredit_circuits::tags::EPOCH_SECONDS;

fn limited(k: u64) -> Policy {
    Policy {
        max_new_loans: k,
        ..example_policy()
    }
}

fn witness_at(world: &World, b: &Borrower, policy: Policy, now: u64, j: u64) -> EligibilityWitness {
    let mut w = world
        .witness(b, policy, now, Fr::from(77u64), Fr::from(4242u64))
        .unwrap();
    w.origination_index = j;
    w
}

#[test]
fn each_index_below_the_limit_gives_its_own_tag_and_no_limit_gives_zero() {
    let (world, b) = setup(61);
    let k = 3;
    let mut tags = Vec::new();
    for j in 0..k {
        let w = witness_at(&world, &b, limited(k), NOW, j);
        assert!(satisfied(&w), "index {j} of {k}");
        let pi = w.public_inputs();
        assert_eq!(
            pi.origination_tag,
            origination_tag(&b.holder_secret, epoch_of(NOW), j)
        );
        assert_ne!(pi.origination_tag, Fr::from(0u64));
        assert_ne!(pi.origination_tag, pi.nullifier);
        tags.push(pi.origination_tag);
    }
    tags.sort_unstable();
    tags.dedup();
    assert_eq!(
        tags.len(),
        k as usize,
        "one person, k distinct tags per epoch"
    );
    // Without a limit the tag is 0, whatever the index.
    for j in [0, 5, u64::MAX] {
        let w = witness_at(&world, &b, example_policy(), NOW, j);
        assert!(satisfied(&w));
        assert_eq!(w.public_inputs().origination_tag, Fr::from(0u64));
    }
    // The largest limit admits the largest index below it (64-bit range, no wrap).
    let w = witness_at(&world, &b, limited(u64::MAX), NOW, u64::MAX - 1);
    assert!(satisfied(&w));
}

#[test]
fn an_index_at_or_beyond_the_limit_fails() {
    let (world, b) = setup(62);
    for (k, j) in [(1, 1), (2, 2), (2, 7), (1, u64::MAX), (u64::MAX, u64::MAX)] {
        let w = witness_at(&world, &b, limited(k), NOW, j);
        assert_fails_in(&w, Rule::Origination, "is not below max_new_loans");
    }
}

#[test]
fn a_tag_of_another_index_epoch_secret_or_limit_fails() {
    let (world, b) = setup(63);
    let w = witness_at(&world, &b, limited(2), NOW, 0);
    let honest = w.public_inputs();
    let e = epoch_of(NOW);
    let other_secret = Fr::from(123_456_789u64);
    for (what, tag) in [
        // The index the borrower already used elsewhere … or one beyond the limit.
        ("index 1", origination_tag(&b.holder_secret, e, 1)),
        ("index 2", origination_tag(&b.holder_secret, e, 2)),
        // A tag of the next or previous epoch (a fresh one at the epoch boundary).
        ("next epoch", origination_tag(&b.holder_secret, e + 1, 0)),
        (
            "previous epoch",
            origination_tag(&b.holder_secret, e - 1, 0),
        ),
        // Someone else's tag, and no tag at all under a limit.
        ("other secret", origination_tag(&other_secret, e, 0)),
        ("zero", Fr::from(0u64)),
        ("the nullifier", honest.nullifier),
    ] {
        let public = PublicInputs {
            origination_tag: tag,
            ..honest
        };
        assert_ne!(tag, honest.origination_tag, "{what}");
        assert!(!satisfied_with(&w, public), "{what}");
        assert_fails_in_with(&w, public, Rule::Origination, "is not the borrower's tag");
    }
    // Without a limit only 0 is accepted: a tag never appears for a lender that did not ask.
    let w = witness_at(&world, &b, example_policy(), NOW, 0);
    let public = PublicInputs {
        origination_tag: origination_tag(&b.holder_secret, e, 0),
        ..w.public_inputs()
    };
    assert_fails_in_with(&w, public, Rule::Origination, "is not the borrower's tag");
}

#[test]
fn the_epoch_is_floor_of_now_over_the_alliance_epoch_length() {
    let (world, b) = setup(64);
    // The last second of an epoch and the first of the next: different tags, each only
    // with its own epoch. Both instants are inside the world's freshness window.
    let boundary = (NOW / EPOCH_SECONDS + 1) * EPOCH_SECONDS;
    let mut world = world;
    world.publish(boundary - 60).unwrap();
    let policy = Policy {
        max_root_age: 3_600,
        ..limited(1)
    };
    let last = witness_at(&world, &b, policy, boundary - 1, 0);
    let first = witness_at(&world, &b, policy, boundary, 0);
    assert!(satisfied(&last) && satisfied(&first));
    let (tl, tf) = (
        last.public_inputs().origination_tag,
        first.public_inputs().origination_tag,
    );
    assert_eq!(epoch_of(boundary - 1) + 1, epoch_of(boundary));
    assert_ne!(tl, tf, "a new epoch renews the tags");
    // At the last second of an epoch the next epoch's tag is refused, and vice versa.
    let public = PublicInputs {
        origination_tag: tf,
        ..last.public_inputs()
    };
    assert_fails_in_with(
        &last,
        public,
        Rule::Origination,
        "is not the borrower's tag",
    );
    let public = PublicInputs {
        origination_tag: tl,
        ..first.public_inputs()
    };
    assert_fails_in_with(
        &first,
        public,
        Rule::Origination,
        "is not the borrower's tag",
    );
}

#[test]
fn the_limit_is_bound_by_the_policy_hash() {
    let (world, b) = setup(65);
    // A proof under k = 5 does not pass for a lender whose policy says k = 1.
    let w = witness_at(&world, &b, limited(5), NOW, 3);
    assert_ne!(limited(5).hash(), limited(1).hash());
    assert_ne!(limited(0).hash(), limited(1).hash());
    let public = PublicInputs {
        policy_hash: limited(1).hash(),
        ..w.public_inputs()
    };
    assert_fails_in_with(&w, public, Rule::PolicyHash, "policy_hash is not H(policy)");
    // Absent in JSON means no limit, and a policy without one keeps its JSON form.
    let json = serde_json::to_string(&example_policy()).unwrap();
    assert!(!json.contains("max_new_loans"), "{json}");
    let back: Policy = serde_json::from_str(&serde_json::to_string(&limited(2)).unwrap()).unwrap();
    assert_eq!(back, limited(2));
}
