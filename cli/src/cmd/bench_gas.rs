//! Verification gas for `zkcredit bench --halo2` (SPEC §7, §11.5): each eligibility
//! statement's verifier, generated from the key measured in the same run (Groth16: our
//! generator; halo2: snark-verifier's), compiled with the pinned solc-js, deployed in revm
//! and called with a proof of that run. Execution gas: without the transaction's intrinsic
//! 21,000 and calldata cost.

use ark_bn254::{Bn254, Fr};
use zkcredit_evm::abi::{fr_word, proof_words, Groth16Verifier};
use zkcredit_evm::codegen::verifier_sol;
use zkcredit_evm::solc::{compile, contracts_dir, verifier_gas, Optimizer};
use zkcredit_halo2::evm::{calldata, verifier_solidity};
use zkcredit_halo2::field::to_halo2;
use zkcredit_halo2::keys::VkFile;
use zkcredit_halo2::system::Halo2Proof;

/// Gas of the Groth16 verifier of `vk` (circuit `id`) for `proof` of `public` (seven
/// inputs), and the verifier's deployed size.
pub fn groth16(
    id: &str,
    vk: &ark_groth16::VerifyingKey<Bn254>,
    proof: &ark_groth16::Proof<Bn254>,
    public: &[Fr],
) -> Result<(u64, usize), String> {
    let input: [_; 7] = public
        .iter()
        .map(fr_word)
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| "the Groth16 verifyProof takes seven public inputs".to_string())?;
    let digest = zkcredit_verifier::keys::vk_digest(vk);
    let sol = verifier_sol(vk, id, &digest, true);
    let code = compile(
        &sol,
        "Groth16Verifier",
        Optimizer::Default,
        &contracts_dir(),
    )
    .map_err(|e| e.to_string())?;
    let data = alloy_sol_types::SolCall::abi_encode(&Groth16Verifier::verifyProofCall {
        proof: proof_words(proof),
        input,
    });
    let gas = verifier_gas(&code, data).map_err(|e| e.to_string())?;
    Ok((gas, code.deployed_len))
}

/// Gas of the halo2 verifier of `vk` for `proof` of `public`, and its deployed size.
pub fn halo2(vk: &VkFile, proof: &Halo2Proof, public: &[Fr]) -> Result<(u64, usize), String> {
    let sol = verifier_solidity(vk, public.len()).map_err(|e| e.to_string())?;
    let code = compile(
        &sol,
        zkcredit_halo2::evm::VERIFIER_CONTRACT,
        Optimizer::WithoutYul,
        &contracts_dir(),
    )
    .map_err(|e| e.to_string())?;
    let bytes = proof.bytes().map_err(|e| e.to_string())?;
    let inputs: Vec<_> = public.iter().map(to_halo2).collect();
    let gas = verifier_gas(&code, calldata(&inputs, &bytes)).map_err(|e| e.to_string())?;
    Ok((gas, code.deployed_len))
}
