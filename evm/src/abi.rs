//! EVM encodings: proofs (EIP-197 order), public inputs, the on-chain context, and the
//! contracts' ABIs (`alloy-sol-types` bindings generated from the compiled artifacts).

use alloy_primitives::{keccak256, Address, U256};
use alloy_sol_types::{sol, SolValue};
use ark_bn254::{Bn254, Fq, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use ark_groth16::Proof;
use zkcredit_circuits::eligibility::{context_from_digest, PublicInputs, NUM_PUBLIC_INPUTS};

// The contracts' ABIs, generated at build time from the compiled artifacts in
// `contracts/out/` (so they cannot drift from the Solidity). Each module also carries the
// artifact's `BYTECODE` and a `constructorCall` for the constructor arguments.
sol!(
    #[derive(Debug, PartialEq, Eq)]
    Groth16Verifier,
    "../contracts/out/Groth16Verifier.json"
);
sol!(
    #[derive(Debug, PartialEq, Eq)]
    ProviderRegistry,
    "../contracts/out/ProviderRegistry.json"
);
sol!(
    #[derive(Debug, PartialEq, Eq)]
    LendingPool,
    "../contracts/out/LendingPool.json"
);
sol!(
    #[derive(Debug, PartialEq, Eq)]
    Halo2LendingPool,
    "../contracts/out/Halo2LendingPool.json"
);
sol!(
    #[derive(Debug, PartialEq, Eq)]
    OriginationRegistry,
    "../contracts/out/OriginationRegistry.json"
);
sol!(
    #[derive(Debug, PartialEq, Eq)]
    PoseidonHasher,
    "../contracts/out/PoseidonHasher.json"
);

/// A field element as an EVM word.
pub fn fr_word(x: &Fr) -> U256 {
    U256::from_be_slice(&x.into_bigint().to_bytes_be())
}

fn fq_word(x: &Fq) -> U256 {
    U256::from_be_slice(&x.into_bigint().to_bytes_be())
}

/// An EVM word as a field element, `None` if `>= r`.
pub fn word_fr(w: &U256) -> Option<Fr> {
    zkcredit_circuits::field::fr_from_be_bytes(&w.to_be_bytes::<32>()).ok()
}

fn g1_words(p: &G1Affine) -> [U256; 2] {
    p.xy()
        .map(|(x, y)| [fq_word(&x), fq_word(&y)])
        .unwrap_or([U256::ZERO; 2])
}

fn g2_words(p: &G2Affine) -> [U256; 4] {
    p.xy()
        .map(|(x, y)| {
            [
                fq_word(&x.c1),
                fq_word(&x.c0),
                fq_word(&y.c1),
                fq_word(&y.c0),
            ]
        })
        .unwrap_or([U256::ZERO; 4])
}

/// The one proof encoder for the EVM: `[A.x, A.y, B.x.imag, B.x.real, B.y.imag, B.y.real,
/// C.x, C.y]` (EIP-197: G2 imaginary part first; identity as zeros).
pub fn proof_words(p: &Proof<Bn254>) -> [U256; 8] {
    let [ax, ay] = g1_words(&p.a);
    let [b0, b1, b2, b3] = g2_words(&p.b);
    let [cx, cy] = g1_words(&p.c);
    [ax, ay, b0, b1, b2, b3, cx, cy]
}

/// Public inputs as EVM words, in the circuit's order (through `PublicInputs::to_vec`).
pub fn input_words(p: &PublicInputs) -> [U256; NUM_PUBLIC_INPUTS] {
    let v = p.to_vec();
    std::array::from_fn(|i| fr_word(&v[i]))
}

/// On-chain context (spec §6): `keccak256(abi.encode(chainid, pool, borrower, amount))` with
/// the top 3 bits cleared — what `LendingPool.expectedContext` computes.
pub fn onchain_context(chain_id: u64, pool: Address, borrower: Address, amount: U256) -> Fr {
    let encoded = (U256::from(chain_id), pool, borrower, amount).abi_encode();
    context_from_digest(keccak256(encoded).0)
}
