//! The halo2 eligibility system as the CLI, the benchmarks and the verifier use it
//! (SPEC §11): the layout per circuit shape, the powers of tau (a file, or the insecure
//! development one), the proving key (cached), proofs and their JSON form, verification
//! against a verifying-key file.

use crate::eligibility::Eligibility;
use crate::field::{to_ark, to_halo2};
use crate::keys::{read_pk, write_pk, VkFile, SYSTEM};
use crate::proof::{derive_vk, keygen, prove, verify, verify_batch, Keys};
use crate::{srs, HFr, Halo2Error};
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G2Affine};
use halo2_base::halo2_proofs::poly::commitment::Params;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_base::halo2_proofs::SerdeFormat;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use zkcredit_circuits::eligibility::{
    EligibilityParams, EligibilityWitness, Policy, PublicInputs, SlotWitness, NUM_PUBLIC_INPUTS,
};
use zkcredit_circuits::imt::LookupWitness;
use zkcredit_circuits::model::ModelTerms;
use zkcredit_circuits::registry::Slot;
use zkcredit_circuits::Fr;

/// Rows (`2^k`) and lookup bits of the eligibility circuit of a shape: about 6 advice
/// columns at every size (`k = 14 + log2(slots)`, at least 15), the range table one row
/// short of the whole height. Six columns, not eleven at half the rows, keep the generated
/// EVM verifier under EIP-170's 24,576 bytes (SPEC §11.1): 19,060 bytes at 16 slots where
/// eleven columns need 25,230, for a prover about 1.25× slower and a smaller proof.
pub fn layout(p: &EligibilityParams) -> (u32, usize) {
    let k = (14 + p.slots.max(2).trailing_zeros()).max(15);
    (k, k as usize - 1)
}

/// A witness of the right shape with no meaning: key generation only needs the shape.
pub fn shape_witness(p: &EligibilityParams) -> EligibilityWitness {
    EligibilityWitness {
        holder_secret: Fr::from(1u64),
        subject_key: Fr::from(1u64),
        policy: Policy {
            max_active_loans: 0,
            max_outstanding: 0,
            max_arrears_days: 0,
            min_score: 0,
            max_score_age: 0,
            max_root_age: 0,
            min_kyc_age: 0,
            max_new_loans: 0,
            model: ModelTerms::NONE,
        },
        now: 0,
        scope: Fr::from(0u64),
        context: Fr::from(0u64),
        origination_index: 0,
        slots: (0..p.slots)
            .map(|_| SlotWitness {
                slot: Slot::default(),
                lookup: LookupWitness::empty(p.depth),
            })
            .collect(),
    }
}

/// Where the powers of tau come from.
#[derive(Clone, Debug)]
pub enum Powers {
    /// A phase-1 file (production: e.g. a public ceremony's `.ptau`).
    File(PathBuf),
    /// The insecure development file of [`srs::DEV_SEED`], written into the cache.
    InsecureDev,
}

/// How the proving key was obtained.
#[derive(Clone, Debug, PartialEq)]
pub enum KeySource {
    /// Read from the cache.
    Cached(PathBuf),
    /// Generated now (seconds) and written to the cache.
    Generated(PathBuf, f64),
}

/// The halo2 prover of one eligibility shape.
pub struct Halo2Prover {
    /// The shape.
    pub circuit: EligibilityParams,
    params: ParamsKZG<Bn256>,
    keys: Keys,
    /// The verifying-key file of these keys.
    pub vk: VkFile,
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> Halo2Error {
    move |source| Halo2Error::Io { what, source }
}

/// The insecure development powers-of-tau file for `2^k` rows, written into `cache` once.
pub fn dev_ptau(cache: &Path, k: u32) -> Result<PathBuf, Halo2Error> {
    let path = cache.join(format!("dev-k{k}.ptau"));
    if !path.is_file() {
        std::fs::create_dir_all(cache).map_err(io(format!("cache {}", cache.display())))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, srs::insecure_test_ptau(k, srs::dev_tau()))
            .map_err(io(tmp.display().to_string()))?;
        std::fs::rename(&tmp, &path).map_err(io(path.display().to_string()))?;
    }
    Ok(path)
}

/// Whether a verifying-key file was made from the insecure development powers of tau
/// (its `τ·G2` is the development `τ` times the generator).
pub fn is_dev(vk: &VkFile) -> bool {
    use halo2_base::halo2_proofs::halo2curves::group::Curve;
    let tau = to_halo2(&srs::dev_tau());
    (G2Affine::generator() * tau).to_affine() == vk.params.s_g2()
}

impl Halo2Prover {
    /// Loads (or generates and caches) the keys of `circuit` over `powers`; `cache` is the
    /// prover's own directory (`<params>/cache/halo2`).
    pub fn load(
        circuit: EligibilityParams,
        powers: &Powers,
        cache: &Path,
    ) -> Result<(Self, KeySource), Halo2Error> {
        circuit.validate()?;
        let (k, lookup_bits) = layout(&circuit);
        let ptau = match powers {
            Powers::File(p) => p.clone(),
            Powers::InsecureDev => dev_ptau(cache, k)?,
        };
        let (params, srs_digest) = srs::load_cached(&ptau, k, cache)?;
        let pk_path = cache.join(format!("{}.{srs_digest}.pk", circuit.id()));
        let shape = Eligibility::new(circuit, shape_witness(&circuit))?;
        // The verifying key is always derived from this code and SRS; a cached proving key
        // is used only if its verifying key is that one (a changed circuit — even one
        // with the same shape, e.g. another constant — never keeps an old key).
        let fresh = derive_vk(&params, lookup_bits, &shape)?;
        let (keys, source) = match read_pk(&pk_path) {
            Ok(keys)
                if keys.config.k == k as usize
                    && keys.vk().to_bytes(SerdeFormat::RawBytes)
                        == fresh.to_bytes(SerdeFormat::RawBytes) =>
            {
                (keys, KeySource::Cached(pk_path))
            }
            _ => {
                let t = std::time::Instant::now();
                let keys = keygen(&params, lookup_bits, &shape)?;
                write_pk(&pk_path, &keys)?;
                (
                    keys,
                    KeySource::Generated(pk_path, t.elapsed().as_secs_f64()),
                )
            }
        };
        let vk = VkFile::new(&circuit.id(), &keys, &params)?;
        Ok((
            Self {
                circuit,
                params,
                keys,
                vk,
            },
            source,
        ))
    }

    /// `2^k`, the circuit's rows.
    pub fn k(&self) -> u32 {
        self.params.k()
    }

    /// Advice columns (all phases) and lookup-enabled advice columns of the layout.
    pub fn columns(&self) -> (usize, usize) {
        let c = &self.keys.config;
        (
            c.num_advice_per_phase.iter().sum(),
            c.num_lookup_advice_per_phase.iter().sum(),
        )
    }

    /// Proves `w`; the prover refuses a witness that breaks a rule.
    pub fn prove(&self, w: EligibilityWitness) -> Result<(Halo2Proof, PublicInputs), Halo2Error> {
        let e = Eligibility::new(self.circuit, w)?;
        let (proof, _) = prove(&self.params, &self.keys, &e)?;
        Ok((Halo2Proof::new(proof), e.public))
    }
}

/// A halo2 proof in its JSON form: `{"system": "halo2-kzg", "proof": "<hex>"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Halo2Proof {
    /// Always [`SYSTEM`].
    pub system: String,
    /// The proof bytes (SHPLONK, Keccak transcript of the EVM verifier), hex.
    pub proof: String,
}

impl Halo2Proof {
    /// Wraps proof bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            system: SYSTEM.into(),
            proof: hex::encode(bytes),
        }
    }

    /// The proof bytes (refuses another system or non-hex).
    pub fn bytes(&self) -> Result<Vec<u8>, Halo2Error> {
        if self.system != SYSTEM {
            return Err(Halo2Error::Shape(format!(
                "a {:?} proof, expected {SYSTEM:?}",
                self.system
            )));
        }
        hex::decode(&self.proof).map_err(|_| Halo2Error::Shape("the proof is not hex".into()))
    }
}

/// Proofs of at most this many bytes are read (a 16-slot proof is 3,328 bytes).
pub const MAX_PROOF_BYTES: usize = 64 * 1024;

/// Verifies a proof of the eligibility statement against its public inputs.
pub fn verify_eligibility(
    vk: &VkFile,
    proof: &Halo2Proof,
    public: &[Fr],
) -> Result<(), Halo2Error> {
    let (bytes, public) = read_item(proof, public)?;
    verify(&vk.params, &vk.vk, &bytes, &public)
}

/// A proof's bytes and its public inputs as halo2 elements, after the shape checks every
/// verification makes: seven inputs, hex of at most [`MAX_PROOF_BYTES`].
fn read_item(proof: &Halo2Proof, public: &[Fr]) -> Result<(Vec<u8>, Vec<HFr>), Halo2Error> {
    if public.len() != NUM_PUBLIC_INPUTS {
        return Err(Halo2Error::Shape(format!(
            "{} public inputs, the statement has {NUM_PUBLIC_INPUTS}",
            public.len()
        )));
    }
    let bytes = proof.bytes()?;
    if bytes.len() > MAX_PROOF_BYTES {
        return Err(Halo2Error::Shape(format!(
            "a proof of {} bytes (at most {MAX_PROOF_BYTES})",
            bytes.len()
        )));
    }
    Ok((bytes, public.iter().map(to_halo2).collect()))
}

/// Verifies eligibility proofs of one key together ([`verify_batch`]: one final pairing);
/// returns the indices of those that do not verify, a wrong number of inputs or an
/// unreadable or oversized proof included.
pub fn verify_eligibility_batch(vk: &VkFile, items: &[(&Halo2Proof, &[Fr])]) -> Vec<usize> {
    let mut invalid = Vec::new();
    let mut readable = Vec::new();
    for (i, (proof, public)) in items.iter().enumerate() {
        match read_item(proof, public) {
            Ok((bytes, public)) => readable.push((i, bytes, public)),
            Err(_) => invalid.push(i),
        }
    }
    let refs: Vec<(&[u8], &[HFr])> = readable
        .iter()
        .map(|(_, b, p)| (b.as_slice(), p.as_slice()))
        .collect();
    invalid.extend(
        verify_batch(&vk.params, &vk.vk, &refs)
            .into_iter()
            .map(|j| readable[j].0),
    );
    invalid.sort_unstable();
    invalid
}

/// The public inputs as arkworks elements (for callers that print or compare them).
pub fn public_to_ark(public: &[HFr]) -> Vec<Fr> {
    public.iter().map(to_ark).collect()
}
