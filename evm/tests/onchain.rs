//! On chain, in a real EVM (revm): the generated verifier, the registry with on-chain
//! Poseidon, and the lending pool, exercised with real proofs of the default circuit.

mod common;
use common::*;

#[test]
fn onchain_registry_root_equals_rust_registry_root() {
    let mut d = deploy();
    assert_eq!(
        current_root(&mut d.chain, d.registry),
        fr_word(&world().0.registry.root())
    );
}

#[test]
fn valid_proof_borrows_and_gas_is_reported() {
    let mut d = deploy();
    let (proof, public) = honest();
    let before = d.chain.balance(borrower());
    let (o, len) = borrow(&mut d, borrower(), proof_words(proof), input_words(public));
    expect_ok(o.clone(), "borrow");
    assert_eq!(d.chain.balance(borrower()) - before, U256::from(AMOUNT));
    let used = d
        .chain
        .view(
            admin(),
            d.pool,
            LendingPool::nullifierUsedCall {
                nullifier: fr_word(&public.nullifier),
            }
            .abi_encode(),
        )
        .unwrap();
    assert!(bool::abi_decode(&used.output).unwrap());
    println!(
        "GAS borrow (1 ETH payout): tx {} (calldata {len} bytes)",
        o.gas_used
    );
    // The same checks without a value transfer: a zero-amount loan against its own proof.
    let mut d = deploy();
    let (p0, pub0) = proof_for(d.pool, borrower(), 0);
    let data = LendingPool::borrowCall {
        amount: U256::ZERO,
        proof: proof_words(&p0),
        input: input_words(&pub0),
    }
    .abi_encode();
    // The proof's verification inside it, on a copy of the chain: 4 variable inputs (policy
    // hash and scope are folded into the base point; the zero tag is skipped), so 4 ecMul +
    // ecAdd and a pairing of 4 pairs — the precompiles alone are 205,600 gas.
    let (copy, span) = d
        .chain
        .verification_gas(borrower(), d.pool, data.clone(), U256::ZERO)
        .unwrap();
    let span = span.expect("borrow calls the pairing");
    let o = expect_ok(
        d.chain
            .call(borrower(), d.pool, data.clone(), U256::ZERO)
            .unwrap(),
        "zero borrow",
    );
    assert_eq!(
        copy.gas_used, o.gas_used,
        "the copy ran the same transaction"
    );
    // The code between the calls costs less than one more input would.
    assert!(
        (groth16_precompile_gas(4)..groth16_precompile_gas(4) + INPUT_GAS).contains(&span),
        "{span}"
    );
    println!(
        "GAS borrow (no payout): tx {} execution {}; its proof verification (first ecMul to the pairing's return) {span}",
        o.gas_used,
        o.execution_gas(&data)
    );
}

#[test]
fn verifier_alone_accepts_and_rejects() {
    let mut d = deploy();
    let (proof, public) = honest();
    let call = Groth16Verifier::verifyProofCall {
        proof: proof_words(proof),
        input: input_words(public),
    };
    let data = call.abi_encode();
    let o = expect_ok(
        d.chain.view(admin(), d.verifier, data.clone()).unwrap(),
        "verifyProof",
    );
    assert!(bool::abi_decode(&o.output).unwrap());
    let (copy, span) = d
        .chain
        .verification_gas(admin(), d.verifier, data.clone(), U256::ZERO)
        .unwrap();
    assert_eq!(copy.gas_used, o.gas_used, "the copy ran the same call");
    assert!(bool::abi_decode(&copy.output).unwrap());
    let span = span.expect("verifyProof calls the pairing");
    // 7 inputs: 3 more ecMul + ecAdd than the pool's check; its input checks (< r) and the
    // choice of each input's point run between the calls.
    let floor = groth16_precompile_gas(7);
    assert!((floor..floor + INPUT_GAS).contains(&span), "{span}");
    println!(
        "GAS verifyProof: tx {} execution {}; first ecMul to the pairing's return {span}",
        o.gas_used,
        o.execution_gas(&data)
    );
    for i in 0..NUM_PUBLIC_INPUTS {
        let mut input = input_words(public);
        input[i] += U256::from(1);
        let o = expect_ok(
            d.chain
                .view(
                    admin(),
                    d.verifier,
                    Groth16Verifier::verifyProofCall {
                        proof: proof_words(proof),
                        input,
                    }
                    .abi_encode(),
                )
                .unwrap(),
            "verifyProof",
        );
        assert!(
            !bool::abi_decode(&o.output).unwrap(),
            "input {i} tampered must not verify"
        );
    }
}

#[test]
fn invalid_proof_is_rejected() {
    let mut d = deploy();
    let (proof, public) = honest();
    let mut bad = proof.clone();
    bad.c = (bad.c + bad.a).into();
    let (o, _) = borrow(&mut d, borrower(), proof_words(&bad), input_words(public));
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::InvalidProof(_)
    ));
}

#[test]
fn tampered_public_input_is_rejected() {
    let mut d = deploy();
    let (proof, public) = honest();
    let mut p = *public;
    p.now += Fr::one(); // still inside the skew window: only the proof check can catch it
    let (o, _) = borrow(&mut d, borrower(), proof_words(proof), input_words(&p));
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::InvalidProof(_)
    ));
    let mut p = *public;
    p.nullifier += Fr::one();
    let (o, _) = borrow(&mut d, borrower(), proof_words(proof), input_words(&p));
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::InvalidProof(_)
    ));
}

#[test]
fn root_not_in_history_is_rejected() {
    let mut d = deploy();
    let (proof, public) = honest();
    let mut p = *public;
    p.registry_root += Fr::one();
    let (o, _) = borrow(&mut d, borrower(), proof_words(proof), input_words(&p));
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::UnknownRegistryRoot(_)
    ));
}

#[test]
fn replaced_root_is_accepted_within_the_window_and_expires_after() {
    let (proof, public) = honest();
    // An unrelated provider publishes a new root: the proof in flight stays valid.
    let mut d = deploy();
    d.chain.set_timestamp(T0 + 100);
    publish(&mut d.chain, d.registry, 1, &Fr::from(12345u64), T0 + 100);
    assert_ne!(
        current_root(&mut d.chain, d.registry),
        fr_word(&public.registry_root)
    );
    d.chain.set_timestamp(T0 + 200);
    let (o, _) = borrow(&mut d, borrower(), proof_words(proof), input_words(public));
    expect_ok(o, "borrow with a recent root");

    let mut d = deploy();
    d.chain.set_timestamp(T0 + 100);
    publish(&mut d.chain, d.registry, 1, &Fr::from(12345u64), T0 + 100);
    d.chain.set_timestamp(T0 + 100 + WINDOW + 1);
    let (o, _) = borrow(&mut d, borrower(), proof_words(proof), input_words(public));
    // The proof's `now` is also out of skew by then; the root check comes first.
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::UnknownRegistryRoot(_)
    ));
}

#[test]
fn wrong_policy_hash_is_rejected() {
    let mut other = example_policy();
    other.min_score = 600;
    let mut d = deploy_with_policy(other.hash());
    let (proof, public) = honest();
    let (o, _) = borrow(&mut d, borrower(), proof_words(proof), input_words(public));
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::PolicyMismatch(_)
    ));
}

#[test]
fn now_outside_skew_is_rejected() {
    let (proof, public) = honest();
    for t in [T0 + SKEW + 1, T0 - SKEW - 1] {
        let mut d = deploy();
        d.chain.set_timestamp(t);
        let (o, _) = borrow(&mut d, borrower(), proof_words(proof), input_words(public));
        assert!(
            matches!(
                pool_error(&o),
                LendingPool::LendingPoolErrors::NowOutOfSkew(_)
            ),
            "t = {t}"
        );
    }
    let mut d = deploy();
    d.chain.set_timestamp(T0 + SKEW);
    expect_ok(
        borrow(&mut d, borrower(), proof_words(proof), input_words(public)).0,
        "at the skew limit",
    );
}

#[test]
fn front_running_by_another_sender_is_rejected() {
    let mut d = deploy();
    let (proof, public) = honest();
    let thief = addr(0x7717);
    let (o, _) = borrow(&mut d, thief, proof_words(proof), input_words(public));
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::ContextMismatch(_)
    ));
    // The rightful borrower is unaffected.
    expect_ok(
        borrow(&mut d, borrower(), proof_words(proof), input_words(public)).0,
        "borrow after a front-run attempt",
    );
}

#[test]
fn reused_nullifier_is_rejected() {
    let mut d = deploy();
    let (proof, public) = honest();
    expect_ok(
        borrow(&mut d, borrower(), proof_words(proof), input_words(public)).0,
        "first borrow",
    );
    // The same proof again.
    let (o, _) = borrow(&mut d, borrower(), proof_words(proof), input_words(public));
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::NullifierAlreadyUsed(_)
    ));
    // A fresh valid proof for another amount carries the same nullifier (same person, same scope).
    let (proof2, public2) = proof_for(d.pool, borrower(), AMOUNT / 2);
    assert_eq!(public2.nullifier, public.nullifier);
    let (o, _) = borrow_amount(
        &mut d,
        borrower(),
        AMOUNT / 2,
        proof_words(&proof2),
        input_words(&public2),
    );
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::NullifierAlreadyUsed(_)
    ));
}

#[test]
fn public_input_at_or_above_r_is_rejected() {
    let mut d = deploy();
    let (proof, public) = honest();
    let r = U256::from_limbs(Fr::MODULUS.0);
    let mut input = input_words(public);
    input[PI_NULLIFIER] += r; // the same residue: must be refused, not reduced
    let (o, _) = borrow(&mut d, borrower(), proof_words(proof), input);
    assert!(
        matches!(pool_error(&o), LendingPool::LendingPoolErrors::PublicInputNotInField(e) if e.index == U256::from(PI_NULLIFIER))
    );
    let mut input = input_words(public);
    input[PI_REGISTRY_ROOT] = r;
    let o = d
        .chain
        .view(
            admin(),
            d.verifier,
            Groth16Verifier::verifyProofCall {
                proof: proof_words(proof),
                input,
            }
            .abi_encode(),
        )
        .unwrap();
    assert_eq!(
        &o.output[..4],
        Groth16Verifier::PublicInputNotInField::SELECTOR.as_slice()
    );
}

#[test]
fn off_curve_point_and_coordinate_above_q_are_rejected() {
    let mut d = deploy();
    let (proof, public) = honest();
    let mut words = proof_words(proof);
    words[1] += U256::from(1); // A no longer on the curve
    let o = d
        .chain
        .view(
            admin(),
            d.verifier,
            Groth16Verifier::verifyProofCall {
                proof: words,
                input: input_words(public),
            }
            .abi_encode(),
        )
        .unwrap();
    assert!(!o.success);
    assert_eq!(
        &o.output[..4],
        Groth16Verifier::ProofPointInvalid::SELECTOR.as_slice()
    );
    let (o, _) = borrow(&mut d, borrower(), words, input_words(public));
    assert!(matches!(
        pool_error(&o),
        LendingPool::LendingPoolErrors::ProofPointInvalid(_)
    ));

    let q = U256::from_limbs(ark_bn254::Fq::MODULUS.0);
    let mut words = proof_words(proof);
    words[6] += q;
    let o = d
        .chain
        .view(
            admin(),
            d.verifier,
            Groth16Verifier::verifyProofCall {
                proof: words,
                input: input_words(public),
            }
            .abi_encode(),
        )
        .unwrap();
    assert_eq!(
        &o.output[..4],
        Groth16Verifier::ProofCoordinateNotInField::SELECTOR.as_slice()
    );
    // Truncated calldata is refused (the ABI decoder reverts) and never accepted.
    let mut data = Groth16Verifier::verifyProofCall {
        proof: proof_words(proof),
        input: input_words(public),
    }
    .abi_encode();
    data.truncate(100);
    assert!(!d.chain.view(admin(), d.verifier, data).unwrap().success);
}
