//! The cross-lender new-loan limit on chain (spec §6.10), in a real EVM (revm) with real
//! proofs: pools of different lenders share one `OriginationRegistry`; with
//! `max_new_loans = k` a borrower takes k loans at k pools in one epoch, the (k+1)-th is
//! refused at every pool, a replayed tag is refused, and the next epoch allows again.

mod common;
use common::*;
use zkcredit_circuits::eligibility::{epoch_of, next_epoch_start, origination_tag, Policy};

const K: u64 = 2;

fn limited() -> Policy {
    Policy {
        max_new_loans: K,
        ..example_policy()
    }
}

fn cfg(scope: u64, limits: bool) -> PoolConfig {
    PoolConfig {
        scope: Fr::from(scope),
        limits_new_loans: limits,
        ..pool_config(limited().hash())
    }
}

/// A proof by the world's applicant for `pool` (scope `scope`) at `now` with index `j`.
fn prove(
    world: &World,
    b: &Borrower,
    pool: Address,
    scope: u64,
    now: u64,
    j: u64,
) -> (Proof, PublicInputs) {
    let ctx = onchain_context(CHAIN_ID, pool, borrower(), U256::from(AMOUNT));
    let mut w: EligibilityWitness = world
        .witness(b, limited(), now, Fr::from(scope), ctx)
        .unwrap();
    w.origination_index = j;
    zkcredit_prover::prove_eligibility(pk(), EligibilityParams::default(), w).unwrap()
}

fn borrow_at(d: &mut Deployment, pool: Address, p: &(Proof, PublicInputs)) -> Outcome {
    d.borrow_at(pool, borrower(), U256::from(AMOUNT), &p.0, &p.1)
        .unwrap()
}

/// `borrow` at the first pool with `p`'s proof and the given (tampered) input words.
fn borrow_with_input(
    d: &mut Deployment,
    p: &(Proof, PublicInputs),
    input: [U256; NUM_PUBLIC_INPUTS],
) -> Outcome {
    let data = LendingPool::borrowCall {
        amount: U256::from(AMOUNT),
        proof: proof_words(&p.0),
        input,
    }
    .abi_encode();
    d.chain.call(borrower(), d.pool, data, U256::ZERO).unwrap()
}

fn tag_used_error(o: &Outcome) -> U256 {
    assert!(!o.success, "expected a revert");
    match OriginationRegistry::OriginationRegistryErrors::abi_decode(&o.output) {
        Ok(OriginationRegistry::OriginationRegistryErrors::TagUsed(e)) => e.tag,
        other => panic!(
            "expected TagUsed, got {other:?} (0x{})",
            hex::encode(&o.output)
        ),
    }
}

#[test]
fn k_loans_at_k_pools_then_refused_everywhere_until_the_next_epoch() {
    let (world, b) = world();
    let mut world = world.clone();
    let mut d = Deployment::new(T0, &world.registry, cfg(SCOPE, true)).unwrap();
    println!("GAS deploy OriginationRegistry: {}", d.gas.originations);
    let scopes = [SCOPE, SCOPE + 1, SCOPE + 2, SCOPE + 3];
    let pools = [
        d.pool,
        d.add_pool(&cfg(scopes[1], true)).unwrap(),
        d.add_pool(&cfg(scopes[2], true)).unwrap(),
        d.add_pool(&cfg(scopes[3], true)).unwrap(),
    ];
    let e = epoch_of(T0);
    // Loan j at pool j, for j < K: each records the borrower's j-th tag of the epoch.
    for j in 0..K as usize {
        let tag = origination_tag(&b.holder_secret, e, j as u64);
        assert!(!d.origination_tag_used(&tag).unwrap());
        let p = prove(&world, b, pools[j], scopes[j], T0, j as u64);
        assert_eq!(p.1.origination_tag, tag);
        // The first loan's proof verification, on a copy of the chain: the tag is a fifth
        // variable input, so 5 ecMul + ecAdd and the pairing of 4 pairs.
        let span = (j == 0).then(|| {
            let data = LendingPool::borrowCall {
                amount: U256::from(AMOUNT),
                proof: proof_words(&p.0),
                input: input_words(&p.1),
            }
            .abi_encode();
            let (copy, span) = d
                .chain
                .verification_gas(borrower(), pools[j], data, U256::ZERO)
                .unwrap();
            assert!(copy.success, "0x{}", hex::encode(&copy.output));
            let span = span.expect("borrow calls the pairing");
            let floor = groth16_precompile_gas(5);
            assert!((floor..floor + INPUT_GAS).contains(&span), "{span}");
            span
        });
        let o = borrow_at(&mut d, pools[j], &p);
        assert!(o.success, "loan {j}: 0x{}", hex::encode(&o.output));
        assert!(d.origination_tag_used(&tag).unwrap());
        if j == 0 {
            let data = LendingPool::borrowCall {
                amount: U256::from(AMOUNT),
                proof: proof_words(&p.0),
                input: input_words(&p.1),
            }
            .abi_encode();
            println!(
                "GAS borrow with an origination tag (1 ETH payout): tx {} execution {}; its proof verification (first ecMul to the pairing's return) {}",
                o.gas_used,
                o.execution_gas(&data),
                span.unwrap_or_default()
            );
        }
    }
    // The (K+1)-th loan of the epoch: every index below K is used, so every other lender's
    // pool refuses it (the registry's TagUsed), and an index at K cannot be proved at all.
    // (The pools that lent refuse this person's nullifier of their scope in any case.)
    for j in 0..K {
        for i in 0..K as usize {
            let p = prove(&world, b, pools[i], scopes[i], T0, j);
            assert!(matches!(
                pool_error(&borrow_at(&mut d, pools[i], &p)),
                LendingPool::LendingPoolErrors::NullifierAlreadyUsed(_)
            ));
        }
        for i in K as usize..pools.len() {
            let p = prove(&world, b, pools[i], scopes[i], T0, j);
            let o = borrow_at(&mut d, pools[i], &p);
            assert_eq!(
                tag_used_error(&o),
                fr_word(&p.1.origination_tag),
                "pool {i}, index {j}"
            );
        }
    }
    let ctx = onchain_context(CHAIN_ID, pools[2], borrower(), U256::from(AMOUNT));
    let mut w = world
        .witness(b, limited(), T0, Fr::from(scopes[2]), ctx)
        .unwrap();
    w.origination_index = K;
    assert!(zkcredit_prover::prove_eligibility(pk(), EligibilityParams::default(), w).is_err());

    // The next epoch renews the tags: the roots are republished (fresh), and pool 2 lends.
    let t1 = next_epoch_start(e) + 120;
    d.chain.set_timestamp(t1);
    world.publish(t1 - 60).unwrap();
    for (slot, s) in world.registry.slots().iter().enumerate() {
        if s.role != Role::Empty {
            expect_ok(
                publish(
                    &mut d.chain,
                    d.registry,
                    slot,
                    &s.provider_root,
                    s.published_at,
                ),
                "publish",
            );
        }
    }
    // A proof dated in the last second of the old epoch, within the skew of the new block
    // time: its tag is of the old epoch, and the pool refuses it before anything else.
    let p = prove(&world, b, pools[3], scopes[3], next_epoch_start(e) - 1, 0);
    match pool_error(&borrow_at(&mut d, pools[3], &p)) {
        LendingPool::LendingPoolErrors::EpochMismatch(m) => {
            assert_eq!(
                (m.proofEpoch, m.currentEpoch),
                (U256::from(e), U256::from(e + 1))
            )
        }
        other => panic!("expected EpochMismatch, got {other:?}"),
    }
    let p = prove(&world, b, pools[2], scopes[2], t1, 0);
    assert_eq!(
        p.1.origination_tag,
        origination_tag(&b.holder_secret, e + 1, 0)
    );
    let o = borrow_at(&mut d, pools[2], &p);
    assert!(o.success, "next epoch: 0x{}", hex::encode(&o.output));
}

#[test]
fn a_pool_and_a_proof_must_agree_on_the_limit_and_only_pools_record() {
    let (world, b) = world();
    let mut d = Deployment::new(T0, &world.registry, cfg(SCOPE, true)).unwrap();
    // A pool without the registry refuses a proof with a tag (its policy says k > 0 but it
    // cannot record) …
    let unlimited = d.add_pool(&cfg(SCOPE + 1, false)).unwrap();
    let p = prove(world, b, unlimited, SCOPE + 1, T0, 0);
    let o = borrow_at(&mut d, unlimited, &p);
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::OriginationTagMismatch(_)
    ));
    // … and a limited pool refuses a proof without one (tag 0, a policy without a limit
    // has another hash anyway, so this is caught first by the input check).
    let p = prove(world, b, d.pool, SCOPE, T0, 0);
    let mut input = input_words(&p.1);
    input[zkcredit_circuits::eligibility::PI_ORIGINATION_TAG] = U256::ZERO;
    let o = borrow_with_input(&mut d, &p, input);
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::OriginationTagMismatch(_)
    ));
    // Nobody but a registered pool records a tag, and only the admin registers pools.
    for call in [
        OriginationRegistry::recordCall { tag: U256::from(5) }.abi_encode(),
        OriginationRegistry::addPoolCall { pool: borrower() }.abi_encode(),
    ] {
        let o = d
            .chain
            .call(borrower(), d.originations, call, U256::ZERO)
            .unwrap();
        assert!(!o.success);
        assert!(matches!(
            OriginationRegistry::OriginationRegistryErrors::abi_decode(&o.output).unwrap(),
            OriginationRegistry::OriginationRegistryErrors::NotPool(_)
                | OriginationRegistry::OriginationRegistryErrors::NotAdmin(_)
        ));
    }
    // A tampered tag makes the pairing fail.
    let mut input = input_words(&p.1);
    input[zkcredit_circuits::eligibility::PI_ORIGINATION_TAG] += U256::from(1);
    let o = borrow_with_input(&mut d, &p, input);
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::InvalidProof(_)
    ));
}
