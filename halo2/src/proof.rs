//! Keys, proofs and verification for the halo2 statements: PLONK with KZG over BN254,
//! SHPLONK multi-opening, the Keccak transcript of the EVM verifier (SPEC §11), so one
//! proof is checked by the lender API and on chain.
//!
//! A [`Statement`] writes its rows into `halo2-base`'s builder; the shape of the rows does
//! not depend on the witness (no gadget branches on a value), so the keys made from one
//! witness serve every witness of the statement. Key generation also fixes the layout
//! (`BaseCircuitParams`, break points), kept in [`Keys`] for the prover.

use crate::gadgets::{Cell, Rows};
use crate::{HFr, Halo2Error};
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::{BaseCircuitParams, CircuitBuilderStage};
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_base::halo2_proofs::plonk::{
    create_proof, keygen_pk, keygen_vk, verify_proof, ProvingKey, VerifyingKey,
};
use halo2_base::halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_base::halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_base::halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
use halo2_base::halo2_proofs::poly::kzg::strategy::{AccumulatorStrategy, SingleStrategy};
use halo2_base::halo2_proofs::poly::VerificationStrategy;
use halo2_base::halo2_proofs::transcript::{TranscriptReadBuffer, TranscriptWriterBuffer};
use snark_verifier_sdk::snark_verifier::loader::native::NativeLoader;
use snark_verifier_sdk::snark_verifier::system::halo2::transcript::evm::{
    ChallengeEvm, EvmTranscript,
};
use zkcredit_circuits::eligibility::Rule;

/// A statement proved with halo2: its rows for one witness, and its public cells in order.
pub trait Statement {
    /// Writes the statement's rows; returns the public input cells, in order.
    fn synthesize(&self, rows: &mut Rows<'_>) -> Result<Vec<Cell>, Halo2Error>;
}

/// Blinding rows and other rows halo2 cannot use (`halo2-base`'s recommendation).
const UNUSABLE_ROWS: usize = 9;

/// The layout and keys of one statement.
pub struct Keys {
    /// The layout (columns, lookup bits, `k`).
    pub config: BaseCircuitParams,
    /// Where the single advice column of each phase breaks into columns.
    pub break_points: MultiPhaseThreadBreakPoints,
    /// The proving key (holds the verifying key).
    pub pk: ProvingKey<G1Affine>,
}

impl Keys {
    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<G1Affine> {
        self.pk.get_vk()
    }
}

fn builder(stage: CircuitBuilderStage, k: u32, lookup_bits: usize) -> BaseCircuitBuilder<HFr> {
    BaseCircuitBuilder::from_stage(stage)
        .use_k(k as usize)
        .use_lookup_bits(lookup_bits)
        .use_instance_columns(1)
}

/// Writes `s` into `b`; returns the public values and the first broken rule.
fn write(
    b: &mut BaseCircuitBuilder<HFr>,
    s: &dyn Statement,
) -> Result<(Vec<HFr>, Option<Rule>), Halo2Error> {
    let range = b.range_chip();
    let (public, violated) = {
        let mut rows = Rows::new(b.main(0), &range);
        let public = s.synthesize(&mut rows)?;
        (public, rows.violated())
    };
    let values = public.iter().map(|c| *c.value()).collect();
    b.assigned_instances[0].extend(public);
    Ok((values, violated))
}

/// Generates the keys of a statement at `2^k` rows from one (any) witness of it.
pub fn keygen(
    params: &ParamsKZG<Bn256>,
    lookup_bits: usize,
    shape: &dyn Statement,
) -> Result<Keys, Halo2Error> {
    let k = params.k();
    let mut b = builder(CircuitBuilderStage::Keygen, k, lookup_bits);
    write(&mut b, shape)?;
    let config = b.calculate_params(Some(UNUSABLE_ROWS));
    let vk = keygen_vk(params, &b).map_err(|e| Halo2Error::Plonk(format!("{e:?}")))?;
    let pk = keygen_pk(params, vk, &b).map_err(|e| Halo2Error::Plonk(format!("{e:?}")))?;
    Ok(Keys {
        config,
        break_points: b.break_points(),
        pk,
    })
}

/// The verifying key of a statement at `2^k` rows, derived afresh (no proving key): what a
/// cached proving key is compared with, so a changed circuit never keeps an old key.
pub fn derive_vk(
    params: &ParamsKZG<Bn256>,
    lookup_bits: usize,
    shape: &dyn Statement,
) -> Result<VerifyingKey<G1Affine>, Halo2Error> {
    let mut b = builder(CircuitBuilderStage::Keygen, params.k(), lookup_bits);
    write(&mut b, shape)?;
    b.calculate_params(Some(UNUSABLE_ROWS));
    keygen_vk(params, &b).map_err(|e| Halo2Error::Plonk(format!("{e:?}")))
}

/// Runs the statement's rows under halo2's `MockProver` at `2^k` rows: whether every
/// constraint holds, and the first rule the witness breaks (tests and diagnostics).
pub fn mock(
    k: u32,
    lookup_bits: usize,
    s: &dyn Statement,
) -> Result<(bool, Option<Rule>), Halo2Error> {
    let mut b = builder(CircuitBuilderStage::Mock, k, lookup_bits);
    let (public, violated) = write(&mut b, s)?;
    b.calculate_params(Some(UNUSABLE_ROWS));
    let prover = halo2_base::halo2_proofs::dev::MockProver::run(k, &b, vec![public])
        .map_err(|e| Halo2Error::Plonk(format!("{e:?}")))?;
    Ok((prover.verify().is_ok(), violated))
}

/// Proves `s`; returns the proof and its public inputs. A witness that breaks a rule is
/// refused before proving ([`Halo2Error::Statement`]).
pub fn prove(
    params: &ParamsKZG<Bn256>,
    keys: &Keys,
    s: &dyn Statement,
) -> Result<(Vec<u8>, Vec<HFr>), Halo2Error> {
    prove_checked(params, keys, s, true)
}

/// Writes `s` for the prover; refuses a broken rule first when `refuse_broken`.
fn prove_checked(
    params: &ParamsKZG<Bn256>,
    keys: &Keys,
    s: &dyn Statement,
    refuse_broken: bool,
) -> Result<(Vec<u8>, Vec<HFr>), Halo2Error> {
    let mut b = BaseCircuitBuilder::prover(keys.config.clone(), keys.break_points.clone());
    let (public, violated) = write(&mut b, s)?;
    if let (true, Some(rule)) = (refuse_broken, violated) {
        return Err(Halo2Error::Statement(rule));
    }
    let proof = prove_unchecked(params, keys, b, &public)?;
    Ok((proof, public))
}

/// Runs the prover on written rows without the native check (tests: a proof forced from a
/// bad witness must not verify).
fn prove_unchecked(
    params: &ParamsKZG<Bn256>,
    keys: &Keys,
    b: BaseCircuitBuilder<HFr>,
    public: &[HFr],
) -> Result<Vec<u8>, Halo2Error> {
    let mut transcript = EvmTranscript::<G1Affine, NativeLoader, Vec<u8>, Vec<u8>>::init(vec![]);
    create_proof::<
        KZGCommitmentScheme<Bn256>,
        ProverSHPLONK<'_, Bn256>,
        ChallengeEvm<G1Affine>,
        _,
        EvmTranscript<G1Affine, NativeLoader, Vec<u8>, Vec<u8>>,
        _,
    >(
        params,
        &keys.pk,
        &[b],
        &[&[public]],
        rand::rngs::OsRng,
        &mut transcript,
    )
    .map_err(|e| Halo2Error::Plonk(format!("{e:?}")))?;
    Ok(transcript.finalize())
}

/// Proves from a witness without refusing a broken rule first (tests only: the
/// constraint system, not the native check, must stop a false statement).
#[doc(hidden)]
pub fn prove_forced(
    params: &ParamsKZG<Bn256>,
    keys: &Keys,
    s: &dyn Statement,
) -> Result<(Vec<u8>, Vec<HFr>), Halo2Error> {
    prove_checked(params, keys, s, false)
}

/// Verifies a proof against its public inputs.
pub fn verify(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    proof: &[u8],
    public: &[HFr],
) -> Result<(), Halo2Error> {
    let verifier_params = params.verifier_params();
    let strategy = SingleStrategy::new(params);
    let mut rest = proof;
    let mut transcript = Transcript::init(&mut rest);
    verify_proof::<
        KZGCommitmentScheme<Bn256>,
        VerifierSHPLONK<'_, Bn256>,
        ChallengeEvm<G1Affine>,
        Transcript<'_, '_>,
        SingleStrategy<'_, Bn256>,
    >(verifier_params, vk, strategy, &[&[public]], &mut transcript)
    .map_err(|_| Halo2Error::InvalidProof)?;
    drop(transcript);
    // Every byte is the proof's: trailing bytes would make one proof many.
    if !rest.is_empty() {
        return Err(Halo2Error::InvalidProof);
    }
    Ok(())
}

/// The verifier's transcript: it reads the proof from `rest`, which keeps what is unread.
type Transcript<'a, 'b> = EvmTranscript<G1Affine, NativeLoader, &'a mut &'b [u8], Vec<u8>>;

/// Verifies proofs of one key together (SPEC §11.4): each proof's checks run, and its KZG
/// opening is scaled by a fresh random and added to one accumulator, settled by one final
/// pairing check instead of one per proof. Returns the indices of the proofs that do not
/// verify: a proof that fails its own checks is named at once; when only the final check
/// fails, every proof in the accumulator is checked alone to name the bad ones.
pub fn verify_batch(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    items: &[(&[u8], &[HFr])],
) -> Vec<usize> {
    type V<'a> = VerifierSHPLONK<'a, Bn256>;
    let verifier_params = params.verifier_params();
    let mut strategy = AccumulatorStrategy::new(verifier_params);
    let mut invalid = Vec::new();
    let mut accumulated = Vec::new();
    for (i, (proof, public)) in items.iter().enumerate() {
        let mut rest = *proof;
        let mut transcript = Transcript::init(&mut rest);
        // A failing proof consumes the strategy it was given, so it gets a copy.
        let result = verify_proof::<
            KZGCommitmentScheme<Bn256>,
            V<'_>,
            ChallengeEvm<G1Affine>,
            Transcript<'_, '_>,
            _,
        >(
            verifier_params,
            vk,
            strategy.clone(),
            &[&[public]],
            &mut transcript,
        );
        drop(transcript);
        match result {
            Ok(next) if rest.is_empty() => {
                strategy = next;
                accumulated.push(i);
            }
            _ => invalid.push(i),
        }
    }
    if !accumulated.is_empty() && !VerificationStrategy::<_, V<'_>>::finalize(strategy) {
        invalid.extend(
            accumulated
                .into_iter()
                .filter(|&i| verify(params, vk, items[i].0, items[i].1).is_err()),
        );
        invalid.sort_unstable();
    }
    invalid
}
