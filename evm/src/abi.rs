//! EVM encodings: proofs (EIP-197 order), public inputs, the on-chain context, and the
//! contracts' ABIs (typed with `alloy-sol-types`).

use alloy_primitives::{keccak256, Address, U256};
use alloy_sol_types::{sol, SolValue};
use ark_bn254::{Bn254, Fq, Fr, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField};
use ark_groth16::Proof;
use zkcredit_circuits::eligibility::{context_from_digest, PublicInputs};

sol! {
    /// The generated Groth16 verifier.
    interface IGroth16Verifier {
        function verifyProof(uint256[8] calldata proof, uint256[6] calldata input) external view returns (bool);
        function VK_DIGEST() external view returns (bytes32);
        error PublicInputNotInField(uint256 index);
        error ProofCoordinateNotInField(uint256 index);
        error ProofPointInvalid();
    }

    /// The provider registry.
    interface IProviderRegistry {
        struct Slot { uint8 role; uint64 publishedAt; address account; uint256 providerId; uint256 providerRoot; }
        function setProvider(uint256 slot, uint8 role, uint256 providerId, address account) external;
        function publishRoot(uint256 slot, uint256 providerRoot, uint64 publishedAt) external;
        function currentRoot() external view returns (uint256);
        function isKnownRoot(uint256 root) external view returns (bool);
        function slotLeaf(uint256 slot) external view returns (uint256);
        function getSlot(uint256 slot) external view returns (Slot memory);
        function setAdmin(address newAdmin) external;
        error NotAdmin();
        error NotSlotAccount(uint256 slot);
        error SlotOutOfRange(uint256 slot);
        error BadRole(uint256 slot, uint8 role);
        error NotInField(uint256 value);
        error ZeroAccount();
        error PublishedInFuture(uint64 publishedAt, uint256 blockTimestamp);
        error PublishedBeforePrevious(uint64 publishedAt, uint64 previous);
    }

    /// The example lending pool.
    interface ILendingPool {
        function borrow(uint256 amount, uint256[8] calldata proof, uint256[6] calldata input) external;
        function expectedContext(address borrower, uint256 amount) external view returns (uint256);
        function nullifierUsed(uint256 nullifier) external view returns (bool);
        error InvalidProof();
        error PolicyMismatch(uint256 got);
        error ScopeMismatch(uint256 got);
        error UnknownRegistryRoot(uint256 root);
        error NowOutOfSkew(uint256 proofNow, uint256 blockTimestamp);
        error ContextMismatch(uint256 expected, uint256 got);
        error NullifierAlreadyUsed(uint256 nullifier);
        error InsufficientLiquidity(uint256 requested, uint256 available);
        error PayoutFailed();
        error PublicInputNotInField(uint256 index);
        error ProofCoordinateNotInField(uint256 index);
        error ProofPointInvalid();
    }

    /// External Poseidon entry points.
    interface IPoseidonHasher {
        function hash2(uint256 a, uint256 b) external pure returns (uint256);
        function hash4(uint256 a, uint256 b, uint256 c, uint256 d) external pure returns (uint256);
    }
}

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
pub fn input_words(p: &PublicInputs) -> [U256; 6] {
    let v = p.to_vec();
    std::array::from_fn(|i| fr_word(&v[i]))
}

/// On-chain context (spec §6): `keccak256(abi.encode(chainid, pool, borrower, amount))` with
/// the top 3 bits cleared — what `LendingPool.expectedContext` computes.
pub fn onchain_context(chain_id: u64, pool: Address, borrower: Address, amount: U256) -> Fr {
    let encoded = (U256::from(chain_id), pool, borrower, amount).abi_encode();
    context_from_digest(keccak256(encoded).0)
}
