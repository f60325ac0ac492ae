//! On chain, in a real EVM (revm): the generated verifier, the registry with on-chain
//! Poseidon, and the lending pool, exercised with real proofs of the default circuit.

use alloy_primitives::{Address, U256};
use alloy_sol_types::{SolCall, SolConstructor, SolError, SolInterface, SolValue};
use ark_ff::{One, PrimeField, UniformRand};
use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};
use std::sync::OnceLock;
use zkcredit_circuits::eligibility::{
    EligibilityParams, EligibilityWitness, PublicInputs, NUM_PUBLIC_INPUTS, PI_NULLIFIER,
    PI_REGISTRY_ROOT,
};
use zkcredit_circuits::registry::{Role, DEFAULT_SLOTS};
use zkcredit_circuits::scenario::{eligible_applicant, example_policy, Borrower, Layout, World};
use zkcredit_circuits::{poseidon, Fr};
use zkcredit_evm::abi::*;
use zkcredit_evm::vm::{Chain, Outcome, CHAIN_ID};
use zkcredit_prover::circuits::CircuitId;

type Proof = ark_groth16::Proof<ark_bn254::Bn254>;

const T0: u64 = 1_790_000_000;
const WINDOW: u64 = 3_600;
const SKEW: u64 = 300;
const AMOUNT: u64 = 1_000_000_000_000_000_000; // 1 ETH
const SCOPE: u64 = 0x5c09e;

use zkcredit_evm::pool::{account as addr, admin, provider_account, Deployment, PoolConfig};

fn borrower() -> Address {
    addr(0xb0)
}

fn pk() -> &'static zkcredit_prover::fast::Prover {
    static PK: OnceLock<zkcredit_prover::fast::Prover> = OnceLock::new();
    PK.get_or_init(|| {
        CircuitId::default_eligibility()
            .insecure_dev_prover()
            .unwrap()
    })
}

fn expect_ok(o: Outcome, what: &str) -> Outcome {
    assert!(o.success, "{what} reverted: 0x{}", hex::encode(&o.output));
    o
}

fn publish(chain: &mut Chain, registry: Address, slot: usize, root: &Fr, at: u64) -> Outcome {
    zkcredit_evm::pool::publish_root(chain, registry, slot, root, at).unwrap()
}

fn current_root(chain: &mut Chain, registry: Address) -> U256 {
    let o = chain
        .view(
            admin(),
            registry,
            ProviderRegistry::currentRootCall {}.abi_encode(),
        )
        .unwrap();
    U256::abi_decode(&o.output).unwrap()
}

/// The fixed world of these tests (deterministic) and its applicant.
fn world() -> &'static (World, Borrower) {
    static W: OnceLock<(World, Borrower)> = OnceLock::new();
    W.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(7);
        let (world, b, _) = eligible_applicant(
            EligibilityParams::default(),
            Layout::default(),
            &mut rng,
            50,
            T0,
        )
        .unwrap();
        (world, b)
    })
}

type Deployed = Deployment;

fn deploy_with_policy(policy_hash: Fr) -> Deployed {
    let cfg = PoolConfig {
        policy_hash,
        scope: Fr::from(SCOPE),
        max_skew: SKEW,
        history_window: WINDOW,
        liquidity: U256::from(10u64) * U256::from(AMOUNT),
    };
    Deployment::new(T0, &world().0.registry, cfg).unwrap()
}

fn deploy() -> Deployed {
    deploy_with_policy(example_policy().hash())
}

/// A proof for `sender` borrowing `amount` from the (deterministic) pool address.
fn proof_for(pool: Address, sender: Address, amount: u64) -> (Proof, PublicInputs) {
    let (world, b) = world();
    let ctx = onchain_context(CHAIN_ID, pool, sender, U256::from(amount));
    let w: EligibilityWitness = world
        .witness(b, example_policy(), T0, Fr::from(SCOPE), ctx)
        .unwrap();
    zkcredit_prover::prove_eligibility(pk(), EligibilityParams::default(), w).unwrap()
}

/// The honest proof for AMOUNT (shared: every deployment lands at the same addresses).
fn honest() -> &'static (Proof, PublicInputs) {
    static P: OnceLock<(Proof, PublicInputs)> = OnceLock::new();
    P.get_or_init(|| {
        let d = deploy();
        proof_for(d.pool, borrower(), AMOUNT)
    })
}

fn borrow(
    d: &mut Deployed,
    from: Address,
    proof: [U256; 8],
    input: [U256; NUM_PUBLIC_INPUTS],
) -> (Outcome, usize) {
    borrow_amount(d, from, AMOUNT, proof, input)
}

fn borrow_amount(
    d: &mut Deployed,
    from: Address,
    amount: u64,
    proof: [U256; 8],
    input: [U256; NUM_PUBLIC_INPUTS],
) -> (Outcome, usize) {
    let data = LendingPool::borrowCall {
        amount: U256::from(amount),
        proof,
        input,
    }
    .abi_encode();
    let len = data.len();
    (d.chain.call(from, d.pool, data, U256::ZERO).unwrap(), len)
}

fn pool_error(o: &Outcome) -> LendingPool::LendingPoolErrors {
    assert!(!o.success, "expected a revert");
    LendingPool::LendingPoolErrors::abi_decode(&o.output)
        .unwrap_or_else(|e| panic!("undecodable revert 0x{}: {e}", hex::encode(&o.output)))
}

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
    let o = expect_ok(
        d.chain
            .call(borrower(), d.pool, data.clone(), U256::ZERO)
            .unwrap(),
        "zero borrow",
    );
    println!(
        "GAS borrow (no payout): tx {} execution {}",
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
    println!(
        "GAS verifyProof: tx {} execution {}",
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

#[test]
fn onchain_poseidon_equals_rust_on_random_inputs() {
    let mut chain = Chain::new(T0);
    let (hasher, _) = chain
        .deploy(
            "PoseidonHasher",
            admin(),
            &PoseidonHasher::BYTECODE,
            &[],
            U256::ZERO,
        )
        .unwrap();
    let mut rng = StdRng::seed_from_u64(8);
    for i in 0..25 {
        let xs: Vec<Fr> = (0..4)
            .map(|_| {
                if i == 0 {
                    Fr::from(0u64)
                } else {
                    Fr::rand(&mut rng)
                }
            })
            .collect();
        let data = PoseidonHasher::hash2Call {
            a: fr_word(&xs[0]),
            b: fr_word(&xs[1]),
        }
        .abi_encode();
        let o = expect_ok(chain.view(admin(), hasher, data.clone()).unwrap(), "hash2");
        assert_eq!(
            U256::abi_decode(&o.output).unwrap(),
            fr_word(&poseidon::hash2(xs[0], xs[1]))
        );
        if i == 1 {
            println!("GAS poseidon hash2: execution {}", o.execution_gas(&data));
        }
        let data = PoseidonHasher::hash4Call {
            a: fr_word(&xs[0]),
            b: fr_word(&xs[1]),
            c: fr_word(&xs[2]),
            d: fr_word(&xs[3]),
        }
        .abi_encode();
        let o = expect_ok(chain.view(admin(), hasher, data.clone()).unwrap(), "hash4");
        assert_eq!(
            U256::abi_decode(&o.output).unwrap(),
            fr_word(&poseidon::hash_n([xs[0], xs[1], xs[2], xs[3]]))
        );
        if i == 1 {
            println!("GAS poseidon hash4: execution {}", o.execution_gas(&data));
        }
    }
    let o = chain
        .view(
            admin(),
            hasher,
            PoseidonHasher::hash2Call {
                a: U256::from(1),
                b: U256::from(2),
            }
            .abi_encode(),
        )
        .unwrap();
    assert_eq!(
        U256::abi_decode(&o.output).unwrap().to_string(),
        "7853200120776062878684798364095072458815029376092732009249414926327459813530"
    );
}

#[test]
fn onchain_registry_follows_random_updates_like_the_rust_registry() {
    use zkcredit_circuits::registry::{Registry, Slot};
    let mut chain = Chain::new(T0);
    let (registry, gas) = chain
        .deploy(
            "ProviderRegistry",
            admin(),
            &ProviderRegistry::BYTECODE,
            &ProviderRegistry::constructorCall { window: WINDOW }.abi_encode(),
            U256::ZERO,
        )
        .unwrap();
    println!("GAS deploy ProviderRegistry: {gas}");
    let mut native = Registry::new(DEFAULT_SLOTS).unwrap();
    assert_eq!(current_root(&mut chain, registry), fr_word(&native.root()));
    let mut rng = StdRng::seed_from_u64(9);
    let mut t = T0;
    let mut publish_gas = Vec::new();
    for _ in 0..40 {
        t += rng.gen_range(1..100);
        chain.set_timestamp(t);
        let slot = rng.gen_range(0..DEFAULT_SLOTS);
        let current = native.slots()[slot];
        if current.role == Role::Empty || rng.gen_bool(0.2) {
            let role = if slot == 0 {
                Role::Kyc
            } else {
                Role::from_u8(rng.gen_range(0..=4u8).max(2)).unwrap()
            };
            let id = Fr::rand(&mut rng);
            let call = ProviderRegistry::setProviderCall {
                slot: U256::from(slot),
                role: role as u8,
                providerId: fr_word(&id),
                account: provider_account(slot),
            };
            expect_ok(
                chain
                    .call(admin(), registry, call.abi_encode(), U256::ZERO)
                    .unwrap(),
                "setProvider",
            );
            native
                .set(
                    slot,
                    Slot {
                        role,
                        provider_id: id,
                        provider_root: Fr::from(0u64),
                        published_at: 0,
                    },
                )
                .unwrap();
        } else {
            let root = Fr::rand(&mut rng);
            let o = publish(&mut chain, registry, slot, &root, t);
            publish_gas.push(o.gas_used);
            native
                .set(
                    slot,
                    Slot {
                        provider_root: root,
                        published_at: t,
                        ..current
                    },
                )
                .unwrap();
        }
        assert_eq!(current_root(&mut chain, registry), fr_word(&native.root()));
    }
    publish_gas.sort();
    println!(
        "GAS publishRoot (registry update): median {}",
        publish_gas[publish_gas.len() / 2]
    );
}

/// Sends `data` to the registry from `from` and decodes the custom error it reverts with.
fn registry_revert(
    d: &mut Deployed,
    from: Address,
    data: Vec<u8>,
) -> ProviderRegistry::ProviderRegistryErrors {
    let o = d.chain.call(from, d.registry, data, U256::ZERO).unwrap();
    assert!(!o.success, "expected a revert");
    ProviderRegistry::ProviderRegistryErrors::abi_decode(&o.output).unwrap()
}

#[test]
fn registry_access_control() {
    use ProviderRegistry::ProviderRegistryErrors as E;
    let mut d = deploy();
    let set = |slot: u64| {
        ProviderRegistry::setProviderCall {
            slot: U256::from(slot),
            role: 3,
            providerId: U256::from(1),
            account: borrower(),
        }
        .abi_encode()
    };
    let publish_at = |at: u64| {
        ProviderRegistry::publishRootCall {
            slot: U256::from(1),
            providerRoot: U256::from(5),
            publishedAt: at,
        }
        .abi_encode()
    };
    assert!(matches!(
        registry_revert(&mut d, borrower(), set(9)),
        E::NotAdmin(_)
    ));
    assert!(matches!(
        registry_revert(&mut d, admin(), set(0)),
        E::BadRole(_)
    ));
    // Another provider cannot publish into slot 1.
    assert!(matches!(
        registry_revert(&mut d, provider_account(2), publish_at(T0)),
        E::NotSlotAccount(_)
    ));
    // Not in the future, not backwards.
    assert!(matches!(
        registry_revert(&mut d, provider_account(1), publish_at(T0 + 10)),
        E::PublishedInFuture(_)
    ));
    assert!(matches!(
        registry_revert(&mut d, provider_account(1), publish_at(T0 - 1000)),
        E::PublishedBeforePrevious(_)
    ));
}
