//! Shared by the on-chain test binaries: the deterministic world, deployment, proofs and
//! calls into the contracts.
#![allow(dead_code, unused_imports)]

pub use alloy_primitives::{Address, U256};
pub use alloy_sol_types::{SolCall, SolConstructor, SolError, SolInterface, SolValue};
pub use ark_ff::{One, PrimeField, UniformRand};
pub use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};
pub use std::sync::OnceLock;
pub use zkcredit_circuits::eligibility::{
    EligibilityParams, EligibilityWitness, PublicInputs, NUM_PUBLIC_INPUTS, PI_NULLIFIER,
    PI_REGISTRY_ROOT,
};
pub use zkcredit_circuits::registry::{Role, DEFAULT_SLOTS};
pub use zkcredit_circuits::{poseidon, Fr};
pub use zkcredit_evm::abi::*;
pub use zkcredit_evm::vm::{Chain, Outcome, CHAIN_ID};
pub use zkcredit_prover::circuits::CircuitId;
pub use zkcredit_testkit::scenario::{eligible_applicant, example_policy, Borrower, Layout, World};

pub type Proof = ark_groth16::Proof<ark_bn254::Bn254>;

pub const T0: u64 = 1_790_000_000;
pub const WINDOW: u64 = 3_600;
pub const SKEW: u64 = 300;
pub const AMOUNT: u64 = 1_000_000_000_000_000_000; // 1 ETH
pub const SCOPE: u64 = 0x5c09e;
/// The pool's per-loan cap (finding 7): 2 ETH.
pub const MAX_LOAN: u64 = 2 * AMOUNT;
/// The pool's limit per period (finding 7): 3 ETH a day.
pub const PERIOD_LIMIT: u64 = 3 * AMOUNT;
/// The pool's lending period: one day.
pub const PERIOD: u64 = 86_400;

pub use zkcredit_evm::pool::{account as addr, admin, provider_account, Deployment, PoolConfig};

pub fn borrower() -> Address {
    addr(0xb0)
}

pub fn pk() -> &'static zkcredit_prover::fast::Prover {
    static PK: OnceLock<zkcredit_prover::fast::Prover> = OnceLock::new();
    PK.get_or_init(|| {
        CircuitId::default_eligibility()
            .insecure_dev_prover()
            .unwrap()
    })
}

pub fn expect_ok(o: Outcome, what: &str) -> Outcome {
    assert!(o.success, "{what} reverted: 0x{}", hex::encode(&o.output));
    o
}

pub fn publish(chain: &mut Chain, registry: Address, slot: usize, root: &Fr, at: u64) -> Outcome {
    zkcredit_evm::pool::publish_root(chain, registry, slot, root, at).unwrap()
}

pub fn current_root(chain: &mut Chain, registry: Address) -> U256 {
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
pub fn world() -> &'static (World, Borrower) {
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

pub type Deployed = Deployment;

/// The pool these tests deploy, for `policy_hash`.
pub fn pool_config(policy_hash: Fr) -> PoolConfig {
    PoolConfig {
        policy_hash,
        scope: Fr::from(SCOPE),
        max_skew: SKEW,
        history_window: WINDOW,
        liquidity: U256::from(10u64) * U256::from(AMOUNT),
        max_loan: U256::from(MAX_LOAN),
        period_limit: U256::from(PERIOD_LIMIT),
        period_seconds: PERIOD,
        // The committed verifier is generated from the development key (demo and tests).
        limits_new_loans: false,
        insecure_dev_keys: true,
    }
}

pub fn deploy_with_policy(policy_hash: Fr) -> Deployed {
    let cfg = pool_config(policy_hash);
    Deployment::new(T0, &world().0.registry, cfg).unwrap()
}

pub fn deploy() -> Deployed {
    deploy_with_policy(example_policy().hash())
}

/// A proof for `sender` borrowing `amount` from the (deterministic) pool address.
pub fn proof_for(pool: Address, sender: Address, amount: u64) -> (Proof, PublicInputs) {
    let (world, b) = world();
    let ctx = onchain_context(CHAIN_ID, pool, sender, U256::from(amount));
    let w: EligibilityWitness = world
        .witness(b, example_policy(), T0, Fr::from(SCOPE), ctx)
        .unwrap();
    zkcredit_prover::prove_eligibility(pk(), EligibilityParams::default(), w).unwrap()
}

/// The honest proof for AMOUNT (shared: every deployment lands at the same addresses).
pub fn honest() -> &'static (Proof, PublicInputs) {
    static P: OnceLock<(Proof, PublicInputs)> = OnceLock::new();
    P.get_or_init(|| {
        let d = deploy();
        proof_for(d.pool, borrower(), AMOUNT)
    })
}

pub fn borrow(
    d: &mut Deployed,
    from: Address,
    proof: [U256; 8],
    input: [U256; NUM_PUBLIC_INPUTS],
) -> (Outcome, usize) {
    borrow_amount(d, from, AMOUNT, proof, input)
}

pub fn borrow_amount(
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

pub fn pool_error(o: &Outcome) -> LendingPool::LendingPoolErrors {
    assert!(!o.success, "expected a revert");
    LendingPool::LendingPoolErrors::abi_decode(&o.output)
        .unwrap_or_else(|e| panic!("undecodable revert 0x{}: {e}", hex::encode(&o.output)))
}

/// One more variable input's precompile gas (EIP-1108): ecMul 6,000 + ecAdd 150.
pub const INPUT_GAS: u64 = 6_000 + 150;

/// The BN254 precompiles' gas for a Groth16 check with `inputs` variable inputs (EIP-1108):
/// the pairing of 4 pairs, 45,000 + 4 × 34,000, and an ecMul + ecAdd per input.
pub fn groth16_precompile_gas(inputs: u64) -> u64 {
    45_000 + 4 * 34_000 + inputs * INPUT_GAS
}
