//! The witness file `zkcredit gen-witness` writes and `zkcredit prove` reads:
//! `{"circuit": "eligibility_s16_d32", "witness": {…}}`.

use crate::circuits::CircuitId;
use crate::ProverError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use zkcredit_circuits::eligibility::{EligibilityParams, EligibilityWitness};

/// A witness file: the circuit it is for and the witness.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessFile {
    /// Circuit name, e.g. `eligibility_s16_d32`.
    pub circuit: String,
    /// The witness.
    pub witness: EligibilityWitness,
}

impl std::fmt::Debug for WitnessFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessFile")
            .field("circuit", &self.circuit)
            .field("witness", &"<secret>")
            .finish()
    }
}

impl WitnessFile {
    /// Reads `path`: the circuit must be an eligibility circuit.
    pub fn read(
        path: &Path,
    ) -> Result<(CircuitId, EligibilityParams, EligibilityWitness), ProverError> {
        let bytes = crate::files::read(path)?;
        let file: WitnessFile = serde_json::from_slice(&bytes).map_err(|e| ProverError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let id = CircuitId::parse(&file.circuit)?;
        let CircuitId::Eligibility(p) = id else {
            return Err(ProverError::Io {
                path: path.display().to_string(),
                reason: format!(
                    "witness files are for eligibility circuits, not {}",
                    file.circuit
                ),
            });
        };
        Ok((id, p, file.witness))
    }

    /// The file's JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
