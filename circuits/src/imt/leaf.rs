//! Leaves and lookup witnesses of the indexed Merkle tree (spec §4.1, §4.2).
//!
//! A leaf commits its record under a per-leaf random salt:
//! `commitment = H(v0, v1, v2, salt)`, `leaf hash = H(key, next_key, commitment)`. The tree's
//! owner holds the whole [`Leaf`]; a [`LookupWitness`] carries a [`WitnessLeaf`] whose record
//! is **open** (values and salt) only for the subject's own leaf (membership) and **sealed**
//! (the commitment alone) for anyone else's leaf — the low leaf of a non-membership witness —
//! so a witness never reveals a neighbour's record (spec §8).

use super::{node_hash, path_len, place};
use crate::poseidon::hash_n;
use crate::tags::KEY_BITS;
use crate::Fr;
use ark_ff::Zero;
use serde::{Deserialize, Serialize};

/// `H(v0, v1, v2, salt)`: the commitment to a leaf's record (spec §4.1).
pub fn value_commitment(values: &[Fr; 3], salt: &Fr) -> Fr {
    hash_n(commitment_inputs(values, salt))
}

/// `H(key, next_key, commitment)`: the leaf hash (spec §4.1).
pub fn leaf_hash(key: &Fr, next_key: &Fr, commitment: &Fr) -> Fr {
    hash_n(leaf_inputs(key, next_key, commitment))
}

/// The commitment's inputs in order (one place for the format, one hash or many).
fn commitment_inputs(values: &[Fr; 3], salt: &Fr) -> [Fr; 4] {
    [values[0], values[1], values[2], *salt]
}

/// The leaf hash's inputs in order.
fn leaf_inputs(key: &Fr, next_key: &Fr, commitment: &Fr) -> [Fr; 3] {
    [*key, *next_key, *commitment]
}

/// The hashes of many leaves at once (an empty slot hashes to 0), on every core and in
/// eight lanes where the processor allows ([`crate::poseidon::hash_many`]): the
/// commitments, then the leaf hashes. Equal to [`Leaf::hash`] leaf by leaf.
pub fn leaf_hashes<'a>(leaves: impl IntoIterator<Item = Option<&'a Leaf>>) -> Vec<Fr> {
    let leaves: Vec<Option<&Leaf>> = leaves.into_iter().collect();
    let present = || leaves.iter().flatten();
    let opened: Vec<[Fr; 4]> = present()
        .map(|l| commitment_inputs(&l.values, &l.salt))
        .collect();
    let keyed: Vec<[Fr; 3]> = present()
        .zip(crate::poseidon::hash_many(&opened))
        .map(|(l, c)| leaf_inputs(&l.key, &l.next_key, &c))
        .collect();
    let mut hashed = crate::poseidon::hash_many(&keyed).into_iter();
    // `hashed` has one hash per present leaf, in order.
    leaves
        .iter()
        .map(|l| l.and_then(|_| hashed.next()).unwrap_or_else(Fr::zero))
        .collect()
}

/// A fresh salt from OS randomness, uniform below r: 254 random bits, drawn again while they
/// are not below r (three draws in four are).
///
/// The bits are drawn from the OS 4 KiB at a time into a per-thread buffer (one system call
/// per ~100 salts, not one per salt: a rebuild draws a salt per changed row); each 32 bytes
/// are zeroed in the buffer once taken. (A process that forked would share the parent's
/// unused buffer; nothing in zkcredit forks.)
pub fn fresh_salt() -> Fr {
    use rand::RngCore;
    use std::cell::RefCell;
    const WORDS: usize = 128;
    thread_local! {
        static POOL: RefCell<([u8; 32 * WORDS], usize)> = const { RefCell::new(([0; 32 * WORDS], WORDS)) };
    }
    POOL.with(|p| {
        let (buf, next) = &mut *p.borrow_mut();
        loop {
            if *next == WORDS {
                rand::rngs::OsRng.fill_bytes(buf);
                *next = 0;
            }
            let word = &mut buf[32 * *next..32 * (*next + 1)];
            // arkworks' own rejection sampling: the bits above r's 254 masked off, `None`
            // when the rest is not below r.
            let salt = <Fr as ark_ff::Field>::from_random_bytes(word);
            word.fill(0);
            *next += 1;
            if let Some(salt) = salt {
                return salt;
            }
        }
    })
}

/// One leaf of an indexed tree, as the tree's owner holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Leaf {
    /// The subject key (0 only for the sentinel).
    #[serde(with = "crate::field::serde_fr")]
    pub key: Fr,
    /// The next larger key in the tree, 0 if none.
    #[serde(with = "crate::field::serde_fr")]
    pub next_key: Fr,
    /// The record `(v0, v1, v2)`.
    #[serde(with = "crate::field::serde_fr_vec3")]
    pub values: [Fr; 3],
    /// The record's salt (random per leaf and per value change; 0 for the sentinel).
    #[serde(with = "crate::field::serde_fr")]
    pub salt: Fr,
}

impl Leaf {
    /// `H(v0, v1, v2, salt)` (spec §4.1).
    pub fn commitment(&self) -> Fr {
        value_commitment(&self.values, &self.salt)
    }

    /// `H(key, next_key, H(v0, v1, v2, salt))` (spec §4.1).
    pub fn hash(&self) -> Fr {
        leaf_hash(&self.key, &self.next_key, &self.commitment())
    }

    /// The leaf with its record open: what the subject's own (membership) witness carries.
    pub fn opened(&self) -> WitnessLeaf {
        WitnessLeaf {
            key: self.key,
            next_key: self.next_key,
            record: LeafRecord::Open {
                values: self.values,
                salt: self.salt,
            },
        }
    }

    /// The leaf with its record sealed: what a witness for another key (the low leaf of a
    /// non-membership witness) carries — key, next key and the opaque commitment.
    pub fn sealed(&self) -> WitnessLeaf {
        WitnessLeaf {
            key: self.key,
            next_key: self.next_key,
            record: LeafRecord::Sealed {
                commitment: self.commitment(),
            },
        }
    }
}

/// A leaf's record as a witness carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LeafRecord {
    /// The subject's own record: values and salt (the commitment is recomputed from them).
    Open {
        /// `(v0, v1, v2)`.
        #[serde(with = "crate::field::serde_fr_vec3")]
        #[cfg_attr(feature = "schema", schemars(with = "[String; 3]"))]
        values: [Fr; 3],
        /// The leaf's salt.
        #[serde(with = "crate::field::serde_fr")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        salt: Fr,
    },
    /// Someone else's record: only `H(v0, v1, v2, salt)`.
    Sealed {
        /// The value commitment.
        #[serde(with = "crate::field::serde_fr")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        commitment: Fr,
    },
}

/// The leaf of a lookup witness: key, next key, and the record open or sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct WitnessLeaf {
    /// The leaf's key.
    #[serde(with = "crate::field::serde_fr")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub key: Fr,
    /// The leaf's next key (0 if none).
    #[serde(with = "crate::field::serde_fr")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub next_key: Fr,
    /// The record, open (membership) or sealed (someone else's leaf).
    pub record: LeafRecord,
}

impl Default for WitnessLeaf {
    fn default() -> Self {
        Self {
            key: Fr::zero(),
            next_key: Fr::zero(),
            record: LeafRecord::Sealed {
                commitment: Fr::zero(),
            },
        }
    }
}

impl WitnessLeaf {
    /// `(values, salt, commitment)` exactly as the gadget allocates them: an open record
    /// gives its values, salt and their commitment; a sealed one zeros and the commitment.
    pub fn parts(&self) -> ([Fr; 3], Fr, Fr) {
        match self.record {
            LeafRecord::Open { values, salt } => (values, salt, value_commitment(&values, &salt)),
            LeafRecord::Sealed { commitment } => ([Fr::zero(); 3], Fr::zero(), commitment),
        }
    }

    /// The commitment the leaf hash uses (as given when sealed).
    pub fn commitment(&self) -> Fr {
        self.parts().2
    }

    /// `H(key, next_key, commitment)`.
    pub fn hash(&self) -> Fr {
        leaf_hash(&self.key, &self.next_key, &self.commitment())
    }

    /// The record's values when open.
    pub fn values(&self) -> Option<[Fr; 3]> {
        match self.record {
            LeafRecord::Open { values, .. } => Some(values),
            LeafRecord::Sealed { .. } => None,
        }
    }
}

/// An authenticated lookup witness: a leaf, its index and its Merkle path (spec §4.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LookupWitness {
    /// Leaf index; its little-endian base-4 digits (bit pairs) are the positions among siblings.
    pub index: u64,
    /// The matching leaf, open (membership), or the low leaf, sealed (non-membership).
    pub leaf: WitnessLeaf,
    /// Siblings from the leaf level up to (excluding) the root: three per level, the other
    /// children of that level in increasing position order.
    #[serde(with = "crate::field::serde_fr_vec")]
    #[cfg_attr(feature = "schema", schemars(with = "Vec<String>"))]
    pub siblings: Vec<Fr>,
}

impl LookupWitness {
    /// A placeholder witness of the right shape for a disabled lookup (empty registry slot).
    pub fn empty(depth: usize) -> Self {
        Self {
            index: 0,
            leaf: WitnessLeaf::default(),
            siblings: vec![Fr::zero(); path_len(depth)],
        }
    }

    /// The root this path leads to.
    pub fn computed_root(&self) -> Fr {
        let mut cur = self.leaf.hash();
        for (level, sibs) in self.siblings.chunks(3).enumerate() {
            // checked: a hostile witness may carry more levels than an index has digits.
            let pos = (self.index.checked_shr(2 * level as u32).unwrap_or(0) & 3) as usize;
            cur = node_hash(place(cur, pos, sibs));
        }
        cur
    }

    /// Native twin of [`super::constraints::lookup`]: `Some((present, values))` if the
    /// witness is valid for `x` under `root`, `None` otherwise. Absent ⇒ values are zero.
    /// Membership needs the record open (its commitment recomputed from values and salt);
    /// non-membership uses the low leaf's commitment as given.
    pub fn verify(&self, root: &Fr, x: &Fr) -> Option<(bool, [Fr; 3])> {
        let (values, salt, commitment) = self.leaf.parts();
        if self.computed_root() != *root {
            return None;
        }
        if self.leaf.key == *x {
            // §4.3 (1b): the subject's own record opens the commitment.
            return (value_commitment(&values, &salt) == commitment).then_some((true, values));
        }
        let low_ok = crate::cmp::le(&self.leaf.key, x, KEY_BITS);
        let next_ok = self.leaf.next_key.is_zero()
            || (crate::cmp::le(x, &self.leaf.next_key, KEY_BITS) && *x != self.leaf.next_key);
        (low_ok && next_ok).then_some((false, [Fr::zero(); 3]))
    }
}
