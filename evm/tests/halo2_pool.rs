//! halo2 on chain (SPEC §11.5), in a real EVM (revm, EIP-170 enforced): the verifier
//! generated from the halo2 verifying key of the default circuit (16 slots × depth 32,
//! development powers of tau) compiles with the pinned solc-js, deploys, accepts the
//! prover's proof and refuses a changed input or proof byte; a `Halo2LendingPool` lends
//! against it with the same rules as the Groth16 pool; gas is reported.

mod common;
use common::*;
use std::path::Path;
use zkcredit_evm::halo2_pool::{halo2_borrow_calldata, Halo2Pool};
use zkcredit_evm::solc::contracts_dir;
use zkcredit_halo2::evm::calldata;
use zkcredit_halo2::field::to_halo2;
use zkcredit_halo2::system::{Halo2Prover, Powers};

/// EIP-170: the largest deployed code.
const MAX_CODE: usize = 24_576;

fn prover() -> &'static Halo2Prover {
    static S: OnceLock<Halo2Prover> = OnceLock::new();
    S.get_or_init(|| {
        let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../params/cache/halo2");
        Halo2Prover::load(EligibilityParams::default(), &Powers::InsecureDev, &cache)
            .unwrap()
            .0
    })
}

fn deploy_halo2() -> (Deployed, Halo2Pool) {
    let mut d = deploy();
    let h = d
        .add_halo2_pool(
            &prover().vk,
            &contracts_dir(),
            &pool_config(example_policy().hash()),
        )
        .unwrap();
    (d, h)
}

/// The honest halo2 proof for `borrower()` borrowing AMOUNT from the (deterministic) halo2 pool.
fn honest() -> &'static (Vec<u8>, PublicInputs) {
    static P: OnceLock<(Vec<u8>, PublicInputs)> = OnceLock::new();
    P.get_or_init(|| {
        let (_, h) = deploy_halo2();
        let (world, b) = world();
        let ctx = onchain_context(CHAIN_ID, h.pool, borrower(), U256::from(AMOUNT));
        let w = world
            .witness(b, example_policy(), T0, Fr::from(SCOPE), ctx)
            .unwrap();
        let (proof, public) = prover().prove(w).unwrap();
        (proof.bytes().unwrap(), public)
    })
}

fn halo2_error(o: &Outcome) -> Halo2LendingPool::Halo2LendingPoolErrors {
    assert!(!o.success, "expected a revert");
    Halo2LendingPool::Halo2LendingPoolErrors::abi_decode(&o.output)
        .unwrap_or_else(|e| panic!("undecodable revert 0x{}: {e}", hex::encode(&o.output)))
}

#[test]
fn the_generated_verifier_fits_eip170_and_checks_proofs() {
    let (mut d, h) = deploy_halo2();
    println!(
        "halo2 verifier: {} bytes deployed (EIP-170: {MAX_CODE}), 2^{} rows × {} advice",
        h.verifier_bytes,
        prover().k(),
        prover().columns().0
    );
    assert!(h.verifier_bytes <= MAX_CODE);
    println!("GAS deploy Halo2Verifier: {}", h.verifier_gas);
    println!("GAS deploy Halo2LendingPool: {}", h.pool_gas);
    let (proof, public) = honest();
    let inputs: Vec<_> = public.to_vec().iter().map(to_halo2).collect();
    let data = calldata(&inputs, proof);
    let o = d.chain.view(admin(), h.verifier, data.clone()).unwrap();
    assert!(o.success, "the verifier refused an honest proof");
    println!(
        "GAS Halo2Verifier: tx {} execution {} (calldata {} bytes)",
        o.gas_used,
        o.execution_gas(&data),
        data.len()
    );
    for i in 0..inputs.len() {
        let mut changed = inputs.clone();
        changed[i] += zkcredit_halo2::HFr::from(1u64);
        let o = d
            .chain
            .view(admin(), h.verifier, calldata(&changed, proof))
            .unwrap();
        assert!(!o.success, "the verifier accepted public input {i} changed");
    }
    // The last evaluation's low byte (SHPLONK's two opening points, 128 bytes, follow it):
    // a well-formed proof that only the pairing refuses, on chain and natively.
    let mut scalar = proof.clone();
    let at = scalar.len() - 129;
    scalar[at] ^= 1;
    let o = d
        .chain
        .view(admin(), h.verifier, calldata(&inputs, &scalar))
        .unwrap();
    assert!(!o.success, "the verifier accepted a changed evaluation");
    let vk = &prover().vk;
    assert!(zkcredit_halo2::proof::verify(&vk.params, &vk.vk, &scalar, &inputs).is_err());
    for at in [0, proof.len() / 2, proof.len() - 1] {
        let mut bad = proof.clone();
        bad[at] ^= 1;
        let o = d
            .chain
            .view(admin(), h.verifier, calldata(&inputs, &bad))
            .unwrap();
        assert!(!o.success, "the verifier accepted proof byte {at} changed");
    }
    let o = d
        .chain
        .view(
            admin(),
            h.verifier,
            calldata(&inputs, &proof[..proof.len() - 32]),
        )
        .unwrap();
    assert!(!o.success, "the verifier accepted a truncated proof");
}

#[test]
fn a_halo2_pool_lends_against_a_halo2_proof_once() {
    let (mut d, h) = deploy_halo2();
    let (proof, public) = honest();
    // Another sender: the proof's context binds borrower().
    let o = d
        .borrow_halo2(h.pool, addr(0xbad), U256::from(AMOUNT), proof, public)
        .unwrap();
    assert!(matches!(
        halo2_error(&o),
        Halo2LendingPool::Halo2LendingPoolErrors::ContextMismatch(_)
    ));
    // A changed proof byte: the pool's verifier refuses it.
    let mut bad = proof.clone();
    bad[100] ^= 1;
    let o = d
        .borrow_halo2(h.pool, borrower(), U256::from(AMOUNT), &bad, public)
        .unwrap();
    assert!(matches!(
        halo2_error(&o),
        Halo2LendingPool::Halo2LendingPoolErrors::InvalidProof(_)
    ));
    let before = d.chain.balance(borrower());
    let data = halo2_borrow_calldata(U256::from(AMOUNT), proof, public);
    let o = d
        .chain
        .call(borrower(), h.pool, data.clone(), U256::ZERO)
        .unwrap();
    assert!(o.success, "borrow reverted: 0x{}", hex::encode(&o.output));
    assert_eq!(d.chain.balance(borrower()) - before, U256::from(AMOUNT));
    println!(
        "GAS Halo2LendingPool.borrow (1 ETH payout): tx {} execution {} (calldata {} bytes)",
        o.gas_used,
        o.execution_gas(&data),
        data.len()
    );
    // Once: the nullifier is spent.
    let o = d
        .borrow_halo2(h.pool, borrower(), U256::from(AMOUNT), proof, public)
        .unwrap();
    assert!(matches!(
        halo2_error(&o),
        Halo2LendingPool::Halo2LendingPoolErrors::NullifierAlreadyUsed(_)
    ));
}

/// Inputs are checked below r before the verifier, which reduces them modulo r: an input
/// of r would otherwise stand for 0.
#[test]
fn a_halo2_pool_refuses_an_input_not_below_r() {
    let (mut d, h) = deploy_halo2();
    let (proof, public) = honest();
    let r = U256::from_be_slice(&ark_ff::BigInteger::to_bytes_be(&Fr::MODULUS));
    for i in 0..NUM_PUBLIC_INPUTS {
        let mut input = input_words(public);
        input[i] = r;
        let data = Halo2LendingPool::borrowCall {
            amount: U256::from(AMOUNT),
            proof: proof.clone().into(),
            input,
        }
        .abi_encode();
        let o = d.chain.call(borrower(), h.pool, data, U256::ZERO).unwrap();
        assert!(
            matches!(
                halo2_error(&o),
                Halo2LendingPool::Halo2LendingPoolErrors::PublicInputNotInField(e) if e.index == U256::from(i)
            ),
            "input {i}"
        );
    }
}

#[test]
fn a_development_halo2_key_is_refused_unless_allowed() {
    let mut d = deploy();
    let mut cfg = pool_config(example_policy().hash());
    cfg.insecure_dev_keys = false;
    let e = d
        .add_halo2_pool(&prover().vk, &contracts_dir(), &cfg)
        .unwrap_err();
    assert!(e.to_string().contains("development powers of tau"), "{e}");
}

#[test]
fn a_pool_refuses_a_verifier_address_without_code() {
    let mut d = deploy();
    let cfg = pool_config(example_policy().hash());
    let args = Halo2LendingPool::constructorCall {
        verifier_: addr(0x5eed),
        registry_: d.registry,
        originations_: Address::ZERO,
        policyHash_: fr_word(&cfg.policy_hash),
        scope_: fr_word(&cfg.scope),
        maxSkew_: U256::from(cfg.max_skew),
        maxLoan_: cfg.max_loan,
        periodLimit_: cfg.period_limit,
        periodLength_: U256::from(cfg.period_seconds),
    }
    .abi_encode();
    let e = d
        .chain
        .deploy(
            "Halo2LendingPool",
            admin(),
            &Halo2LendingPool::BYTECODE,
            &args,
            U256::ZERO,
        )
        .unwrap_err();
    let sel = hex::encode(Halo2LendingPool::NoVerifierCode::SELECTOR);
    assert!(e.to_string().contains(&sel), "{e}");
}
