//! Named circuits: the identifiers used in file names, keys and the CLI.

use crate::ProverError;
use zkcredit_circuits::eligibility::{EligibilityCircuit, EligibilityParams};
use zkcredit_circuits::statements::FraudOnlyCircuit;

/// A circuit zkcredit can set up and prove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitId {
    /// The eligibility statement (the product).
    Eligibility(EligibilityParams),
    /// One fraud-list non-membership lookup at the given depth.
    FraudOnly {
        /// Tree depth.
        depth: usize,
    },
}

impl CircuitId {
    /// The default eligibility circuit (16 slots, depth 32).
    pub fn default_eligibility() -> Self {
        Self::Eligibility(EligibilityParams::default())
    }

    /// e.g. `eligibility_s16_d32`, `fraud_only_d32`.
    pub fn name(&self) -> String {
        match self {
            Self::Eligibility(p) => p.id(),
            Self::FraudOnly { depth } => format!("fraud_only_d{depth}"),
        }
    }

    /// Parses [`Self::name`].
    pub fn parse(s: &str) -> Result<Self, ProverError> {
        let bad = || ProverError::UnknownCircuit(s.to_string());
        let num = |t: &str| t.parse::<usize>().map_err(|_| bad());
        if let Some(rest) = s.strip_prefix("eligibility_s") {
            let (slots, depth) = rest.split_once("_d").ok_or_else(bad)?;
            let p = EligibilityParams {
                slots: num(slots)?,
                depth: num(depth)?,
            };
            p.validate().map_err(|_| bad())?;
            return Ok(Self::Eligibility(p));
        }
        if let Some(d) = s.strip_prefix("fraud_only_d") {
            let depth = num(d)?;
            if depth == 0 || depth > 64 {
                return Err(bad());
            }
            return Ok(Self::FraudOnly { depth });
        }
        Err(bad())
    }

    /// Development keys for this circuit.
    pub fn insecure_dev_setup(
        &self,
    ) -> Result<ark_groth16::ProvingKey<ark_bn254::Bn254>, ProverError> {
        let name = self.name();
        match *self {
            Self::Eligibility(p) => {
                crate::setup::insecure_dev_setup(&name, EligibilityCircuit::for_setup(p))
            }
            Self::FraudOnly { depth } => crate::setup::insecure_dev_setup(
                &name,
                FraudOnlyCircuit {
                    depth,
                    public: None,
                    witness: None,
                },
            ),
        }
    }

    /// A cached-matrices prover for this circuit with key `pk`.
    pub fn prover(
        &self,
        pk: ark_groth16::ProvingKey<ark_bn254::Bn254>,
    ) -> Result<crate::fast::Prover, ProverError> {
        match *self {
            Self::Eligibility(p) => crate::fast::Prover::new(pk, EligibilityCircuit::for_setup(p)),
            Self::FraudOnly { depth } => crate::fast::Prover::new(
                pk,
                FraudOnlyCircuit {
                    depth,
                    public: None,
                    witness: None,
                },
            ),
        }
    }

    /// This circuit's constraint system.
    pub fn r1cs(&self) -> Result<crate::fast::R1cs, ProverError> {
        match *self {
            Self::Eligibility(p) => crate::fast::R1cs::of(EligibilityCircuit::for_setup(p)),
            Self::FraudOnly { depth } => crate::fast::R1cs::of(FraudOnlyCircuit {
                depth,
                public: None,
                witness: None,
            }),
        }
    }

    /// Development keys and their cached-matrices prover.
    pub fn insecure_dev_prover(&self) -> Result<crate::fast::Prover, ProverError> {
        self.prover(self.insecure_dev_setup()?)
    }

    /// Keys from OS randomness for this circuit.
    pub fn setup_os_rng(&self) -> Result<ark_groth16::ProvingKey<ark_bn254::Bn254>, ProverError> {
        match *self {
            Self::Eligibility(p) => crate::setup::setup_os_rng(EligibilityCircuit::for_setup(p)),
            Self::FraudOnly { depth } => crate::setup::setup_os_rng(FraudOnlyCircuit {
                depth,
                public: None,
                witness: None,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip_and_reject_garbage() {
        for id in [
            CircuitId::default_eligibility(),
            CircuitId::FraudOnly { depth: 20 },
        ] {
            assert_eq!(CircuitId::parse(&id.name()).unwrap(), id);
        }
        for bad in [
            "",
            "eligibility",
            "eligibility_s3_d32",
            "eligibility_s16_d0",
            "fraud_only_d99",
            "x",
        ] {
            assert!(CircuitId::parse(bad).is_err(), "{bad}");
        }
    }
}
