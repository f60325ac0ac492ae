//! The provider registry (spec §5), native side.
//!
//! A Poseidon Merkle tree of `2^depth` slots (default 16, depth 4). Slot leaf
//! `H(role, provider_id, provider_root, published_at)`; an empty slot is all zeros
//! (role 0) and hashes like any other leaf. Slot 0 is always the KYC issuer.

pub mod constraints;

use crate::poseidon::{hash2, hash_n};
use crate::{CircuitError, Fr};
use ark_ff::Zero;
use serde::{Deserialize, Serialize};

/// Default number of slots.
pub const DEFAULT_SLOTS: usize = 16;

/// Provider roles (spec §5). The numeric value is what the slot leaf hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Role {
    /// Empty slot.
    #[default]
    Empty = 0,
    /// The KYC issuer (slot 0 only).
    Kyc = 1,
    /// A fraud-list provider.
    FraudList = 2,
    /// A lender.
    Lender = 3,
    /// A credit bureau.
    Bureau = 4,
}

impl Role {
    /// The role's field value.
    pub fn as_fr(self) -> Fr {
        Fr::from(self as u8 as u64)
    }

    /// The role's name, as JSON and the command line spell it (`fraud_list`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Kyc => "kyc",
            Self::FraudList => "fraud_list",
            Self::Lender => "lender",
            Self::Bureau => "bureau",
        }
    }

    /// Parses the numeric role.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0 => Self::Empty,
            1 => Self::Kyc,
            2 => Self::FraudList,
            3 => Self::Lender,
            4 => Self::Bureau,
            _ => return None,
        })
    }
}

/// One registry slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Slot {
    /// The provider's role.
    pub role: Role,
    /// Provider identifier (a field element; e.g. a hash of its name or its account).
    #[serde(with = "crate::field::serde_fr")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub provider_id: Fr,
    /// The root of the provider's indexed tree.
    #[serde(with = "crate::field::serde_fr")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub provider_root: Fr,
    /// When the root was published (Unix seconds).
    pub published_at: u64,
}

impl Slot {
    /// `H(role, provider_id, provider_root, published_at)` (spec §5).
    pub fn leaf_hash(&self) -> Fr {
        hash_n([
            self.role.as_fr(),
            self.provider_id,
            self.provider_root,
            Fr::from(self.published_at),
        ])
    }
}

/// The registry: a fixed number of slots and their Merkle root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    slots: Vec<Slot>,
}

/// Merkle root of a power-of-two list of leaves (`H(left, right)` nodes).
/// (An odd level is padded with 0; an empty list has root 0. Registries are always a
/// power of two; this only matters for malformed input, which must not panic.)
pub fn merkle_root(leaves: &[Fr]) -> Fr {
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|c| hash2(c[0], c.get(1).copied().unwrap_or_else(Fr::zero)))
            .collect();
    }
    level.first().copied().unwrap_or_else(Fr::zero)
}

impl Registry {
    /// An empty registry with `slots` slots (a power of two, 2..=256).
    pub fn new(slots: usize) -> Result<Self, CircuitError> {
        if !slots.is_power_of_two() || !(2..=256).contains(&slots) {
            return Err(CircuitError::Registry(format!(
                "slot count {slots} must be a power of two in 2..=256"
            )));
        }
        Ok(Self {
            slots: vec![Slot::default(); slots],
        })
    }

    /// The slots.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Sets one slot. Slot 0 only takes the KYC role; other slots never do.
    pub fn set(&mut self, index: usize, slot: Slot) -> Result<(), CircuitError> {
        let n = self.slots.len();
        let s = self
            .slots
            .get_mut(index)
            .ok_or_else(|| CircuitError::Registry(format!("slot {index} out of range 0..{n}")))?;
        match (index, slot.role) {
            (0, Role::Kyc | Role::Empty) => {}
            (0, r) => {
                return Err(CircuitError::Registry(format!(
                    "slot 0 is reserved for the KYC issuer, not {r:?}"
                )))
            }
            (_, Role::Kyc) => {
                return Err(CircuitError::Registry(
                    "the KYC issuer lives in slot 0 only".into(),
                ))
            }
            _ => {}
        }
        if slot.role == Role::Empty
            && (!slot.provider_id.is_zero()
                || !slot.provider_root.is_zero()
                || slot.published_at != 0)
        {
            return Err(CircuitError::Registry("an empty slot is all zeros".into()));
        }
        *s = slot;
        Ok(())
    }

    /// The registry root.
    pub fn root(&self) -> Fr {
        let leaves: Vec<Fr> = self.slots.iter().map(Slot::leaf_hash).collect();
        merkle_root(&leaves)
    }
}

#[cfg(test)]
mod tests {
    use super::constraints::registry_root_var;
    use super::*;
    use ark_ff::UniformRand;
    use ark_r1cs_std::{alloc::AllocVar, fields::fp::FpVar, GR1CSVar};
    use ark_relations::gr1cs::ConstraintSystem;
    use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};

    #[test]
    fn gadget_equals_native_on_random_registries() {
        let mut rng = StdRng::seed_from_u64(20);
        for slots in [2usize, 4, 16] {
            let mut reg = Registry::new(slots).unwrap();
            reg.set(
                0,
                Slot {
                    role: Role::Kyc,
                    provider_id: Fr::from(1u64),
                    provider_root: Fr::rand(&mut rng),
                    published_at: rng.gen(),
                },
            )
            .unwrap();
            for i in 1..slots {
                let role = Role::from_u8(rng.gen_range(2..=4)).unwrap();
                reg.set(
                    i,
                    Slot {
                        role,
                        provider_id: Fr::rand(&mut rng),
                        provider_root: Fr::rand(&mut rng),
                        published_at: rng.gen(),
                    },
                )
                .unwrap();
            }
            let cs = ConstraintSystem::<Fr>::new_ref();
            let leaves: Vec<FpVar<Fr>> = reg
                .slots()
                .iter()
                .map(|s| FpVar::new_witness(cs.clone(), || Ok(s.leaf_hash())).unwrap())
                .collect();
            let root = registry_root_var(&leaves).unwrap();
            assert_eq!(root.value().unwrap(), reg.root());
            assert!(cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn slot_rules() {
        let mut reg = Registry::new(4).unwrap();
        let lender = Slot {
            role: Role::Lender,
            provider_id: Fr::from(3u64),
            provider_root: Fr::from(9u64),
            published_at: 5,
        };
        assert!(reg.set(0, lender).is_err());
        assert!(reg.set(4, lender).is_err());
        assert!(reg
            .set(
                1,
                Slot {
                    role: Role::Kyc,
                    ..lender
                }
            )
            .is_err());
        assert!(reg
            .set(
                1,
                Slot {
                    role: Role::Empty,
                    ..lender
                }
            )
            .is_err());
        reg.set(1, lender).unwrap();
        let before = reg.root();
        reg.set(
            1,
            Slot {
                published_at: 6,
                ..lender
            },
        )
        .unwrap();
        assert_ne!(before, reg.root());
        assert!(Registry::new(3).is_err());
        assert!(Registry::new(512).is_err());
    }
}
