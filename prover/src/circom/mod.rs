//! Interchange with the circom ecosystem's ceremony tools (SPEC §10): our exact constraint
//! system as iden3's `.r1cs`, a witness as `.wtns`, and a phase-2 ceremony's final snarkjs
//! `.zkey` imported as our proving and verifying keys.

pub mod binfile;
pub mod r1cs;
pub mod reduction;
pub mod zkey;

use crate::circuits::CircuitId;
use crate::files::{pk_path, write_atomic, write_pk, VkFiles};
use crate::ProverError;
use ark_bn254::Bn254;
use ark_groth16::ProvingKey;
use std::io::Read;
use std::path::Path;

/// `id`'s constraint system as an iden3 `.r1cs` file.
pub fn export_r1cs(id: &CircuitId, out: &Path) -> Result<crate::fast::R1cs, ProverError> {
    let r = id.r1cs()?;
    write_atomic(out, &r1cs::r1cs_bytes(&r))?;
    Ok(r)
}

/// Reads the final zkey at `path` for circuit `id` (refusing a file larger than the circuit
/// allows before reading it, a malformed file, another circuit's key, and the insecure
/// development key).
pub fn read_zkey(path: &Path, id: &CircuitId) -> Result<ProvingKey<Bn254>, ProverError> {
    let r = id.r1cs()?;
    let bad = |reason: String| ProverError::Format {
        path: path.display().to_string(),
        kind: "zkey",
        reason,
    };
    let max = zkey::max_len(&r).map_err(|e| bad(format!("{e:?}")))?;
    let io = |e: std::io::Error| ProverError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(bad(format!(
            "larger than any key of {} can be ({max} bytes)",
            id.name()
        )));
    }
    let pk = zkey::read(&bytes, &r).map_err(|e| match e {
        zkey::ZkeyError::Format(reason) => bad(reason),
        zkey::ZkeyError::WrongCircuit(reason) => ProverError::WrongCircuit {
            path: path.display().to_string(),
            circuit: id.name(),
            reason,
        },
    })?;
    if crate::setup::is_insecure_dev_vk(&id.name(), &pk.vk) {
        return Err(bad("it holds the INSECURE development key".into()));
    }
    Ok(pk)
}

/// Imports the final zkey at `path`: the verifying key into `params` (`<id>.vk.{bin,json,
/// sha256}`), the proving key into `cache`. Returns the key.
pub fn import_zkey(
    path: &Path,
    id: &CircuitId,
    params: &Path,
    cache: &Path,
) -> Result<ProvingKey<Bn254>, ProverError> {
    let pk = read_zkey(path, id)?;
    // The prover must accept it (the h query's convention is checked there).
    id.prover(pk.clone())?;
    VkFiles::new(params, &id.name()).write(&pk.vk)?;
    write_pk(&pk_path(cache, &id.name()), &pk)?;
    Ok(pk)
}
