//! The Groth16 prover core (issue 14; `benches/LEVERS.md`): `taceo-groth16`'s witness maps
//! (the H FFTs without bit-reversal passes) and its signed-digit, batch-affine MSMs on
//! arkworks' proving key. Which MSMs run, in order of precedence: once built on request for
//! keys of at most [`FIXED_MAX_BASES`] bases per query, from fixed-base tables
//! ([`crate::fixed`]); where the processor has AVX-512 IFMA, the five MSMs in eight lanes
//! (`zkcredit_simd::g1_msm`, `g2_msm`); otherwise, for keys of at most [`GLV_MAX_BASES`]
//! bases per query, with GLV ([`crate::glv`]), or plain. The proof is assembled
//! as `taceo-groth16` and arkworks assemble it: for the same blinding `(r, s)` it is
//! arkworks' proof, bit for bit (`prover/tests/qap.rs`).

use crate::fast::Qap;
use crate::fixed::{self, Table, FIXED_MAX_BASES};
use crate::glv::{self, Decomposed, Decomposer, GLV_MAX_BASES};
use ark_bn254::{g1, g2, Bn254, Fr, G1Projective, G2Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::{Proof, ProvingKey};
use std::sync::atomic::{AtomicUsize, Ordering};
use taceo_ark_algebra::msm::msm_unchecked;
use taceo_groth16::{CircomReduction, ConstraintMatrices, LibSnarkReduction, R1CSToQAP};

/// The two groups' scalar decompositions (GLV on).
struct GlvKey {
    g1: Decomposer,
    g2: Decomposer,
}

/// The key's five queries as fixed-base tables ([`crate::fixed`]), over the same bases as
/// the plain MSMs: A, B (G1), B (G2) without their constant-one base, L and H.
struct FixedTables {
    a: Table<g1::Config>,
    b_g1: Table<g1::Config>,
    b_g2: Table<g2::Config>,
    l: Table<g1::Config>,
    h: Table<g1::Config>,
}

/// How the prover runs a key's MSMs: from fixed-base tables (built on request); otherwise
/// all five in the lanes where the processor has them ([`Core::uses_lanes`]); otherwise
/// with GLV (small keys) or plain.
pub(crate) struct Core {
    glv: Option<GlvKey>,
    fixed: Option<FixedTables>,
    lanes: bool,
}

/// The five MSMs of a proof: A, B in G1, B in G2 (over the wires after the constant one),
/// L (the private wires) and H.
type Sums = (
    G1Projective,
    G1Projective,
    G2Projective,
    G1Projective,
    G1Projective,
);

impl Core {
    /// Whether `pk`'s MSMs should run with GLV: no query has more than [`GLV_MAX_BASES`]
    /// bases.
    pub(crate) fn glv_pays(pk: &ProvingKey<Bn254>) -> bool {
        largest_query(pk) <= GLV_MAX_BASES
    }

    /// Whether fixed-base tables may be built for `pk`: no query has more than
    /// [`FIXED_MAX_BASES`] bases.
    pub(crate) fn fixed_fits(pk: &ProvingKey<Bn254>) -> bool {
        largest_query(pk) <= FIXED_MAX_BASES
    }

    /// Builds `pk`'s fixed-base tables (in parallel), which every later proof's MSMs use. A
    /// query without its constant-one base (a crafted key) gives an empty table; proving
    /// refuses such a key before any MSM.
    pub(crate) fn build_fixed(&mut self, pk: &ProvingKey<Bn254>) {
        let (a, b_g1, b_g2, l, h) = join5(
            || Table::new(pk.a_query.get(1..).unwrap_or_default()),
            || Table::new(pk.b_g1_query.get(1..).unwrap_or_default()),
            || Table::new(pk.b_g2_query.get(1..).unwrap_or_default()),
            || Table::new(&pk.l_query),
            || Table::new(&pk.h_query),
        );
        self.fixed = Some(FixedTables {
            a,
            b_g1,
            b_g2,
            l,
            h,
        });
    }

    /// Whether this key's MSMs run from fixed-base tables.
    pub(crate) fn uses_fixed(&self) -> bool {
        self.fixed.is_some()
    }

    /// A key's MSMs, with GLV if `glv`.
    pub(crate) fn new(glv: bool) -> Self {
        let glv = glv.then(|| GlvKey {
            g1: Decomposer::new::<g1::Config>(),
            g2: Decomposer::new::<g2::Config>(),
        });
        Self {
            glv,
            fixed: None,
            lanes: zkcredit_simd::available(),
        }
    }

    /// The MSMs in the lanes on or off (on only where the processor has them).
    pub(crate) fn set_lanes(&mut self, on: bool) {
        self.lanes = on && zkcredit_simd::available();
    }

    /// Whether this key's MSMs run as `zkcredit_simd::g1_msm` and `g2_msm`: where the
    /// processor has AVX-512 IFMA, unless fixed-base tables were built (whose buckets use
    /// the lanes for G1 chord additions, `crate::bucket`).
    pub(crate) fn uses_lanes(&self) -> bool {
        self.lanes && self.fixed.is_none()
    }

    /// GLV on or off (when no fixed-base tables are built).
    pub(crate) fn set_glv(&mut self, on: bool) {
        if on != self.uses_glv() {
            self.glv = Self::new(on).glv;
        }
    }

    /// Whether this key's MSMs run with GLV.
    pub(crate) fn uses_glv(&self) -> bool {
        self.glv.is_some()
    }

    /// The proof of the full assignment `full` with blinding `(r, s)`.
    pub(crate) fn prove(
        &self,
        pk: &ProvingKey<Bn254>,
        qap: Qap,
        matrices: &ConstraintMatrices<Fr>,
        full: &[Fr],
        r: Fr,
        s: Fr,
    ) -> Result<Proof<Bn254>, String> {
        if pk.a_query.is_empty() || pk.b_g1_query.is_empty() || pk.b_g2_query.is_empty() {
            return Err("the proving key has an empty A or B query".into());
        }
        let h = match qap {
            Qap::Arkworks => LibSnarkReduction::witness_map_from_matrices::<Bn254>(matrices, full),
            Qap::Circom => CircomReduction::witness_map_from_matrices::<Bn254>(matrices, full),
        }
        .map_err(|e| e.to_string())?;
        // A shorter h than the key's query means the reduction's domain is not the key's.
        if h.len() + 1 < pk.h_query.len() {
            return Err(format!(
                "h has {} coefficients but the proving key expects {}: domain size mismatch",
                h.len(),
                pk.h_query.len()
            ));
        }
        let ni = matrices.num_instance_variables;
        let (w1, aux) = (&full[1..], &full[ni..]);
        let in_lanes = self
            .uses_lanes()
            .then(|| {
                let sums = lanes_sums(pk, w1, ni - 1, &h);
                if sums.is_none() {
                    LANES_REFUSED.fetch_add(1, Ordering::Relaxed);
                }
                sums
            })
            .flatten();
        let sums = match (in_lanes, &self.fixed, &self.glv) {
            (Some(sums), _, _) => sums,
            (None, Some(t), _) => t.sums(w1, ni - 1, &h),
            (None, None, Some(g)) => g
                .sums(pk, w1, ni - 1, &h)
                .unwrap_or_else(|| plain_sums(pk, w1, aux, &h)),
            (None, None, None) => plain_sums(pk, w1, aux, &h),
        };
        Ok(assemble(pk, sums, r, s))
    }
}

impl GlvKey {
    /// The five MSMs with GLV; `None` if a scalar does not decompose (never for BN254; the
    /// caller then runs the plain MSMs). `aux_from` is where the private wires start in `w1`.
    fn sums(&self, pk: &ProvingKey<Bn254>, w1: &[Fr], aux_from: usize, h: &[Fr]) -> Option<Sums> {
        let ((d1, d2), dh) = rayon::join(
            || {
                rayon::join(
                    || Decomposed::new(&self.g1, w1),
                    || Decomposed::new(&self.g2, w1),
                )
            },
            || Decomposed::new(&self.g1, h),
        );
        let (d1, d2, dh) = (d1?, d2?, dh?);
        Some(join5(
            || glv::msm(&pk.a_query[1..], &d1, 0),
            || glv::msm(&pk.b_g1_query[1..], &d1, 0),
            || glv::msm(&pk.b_g2_query[1..], &d2, 0),
            || glv::msm(&pk.l_query, &d1, aux_from),
            || glv::msm(&pk.h_query, &dh, 0),
        ))
    }
}

/// How many proofs' MSMs the lanes refused in this process (each then ran the other path):
/// zero unless there is a bug; the tests read it ([`lanes_refusals`]).
static LANES_REFUSED: AtomicUsize = AtomicUsize::new(0);

/// How many proofs' MSMs the lanes refused in this process (each then ran its other path).
pub(crate) fn lanes_refusals() -> usize {
    LANES_REFUSED.load(Ordering::Relaxed)
}

/// The five MSMs in the lanes (`zkcredit_simd::g1_msm` and `g2_msm`, over the scalars'
/// 13-bit signed digits, recoded once for the four queries over the wires); `None` if the
/// lanes refused (no IFMA, or an error or a sum off the curve, either of which would be a
/// bug: the caller then runs its other path).
fn lanes_sums(pk: &ProvingKey<Bn254>, w1: &[Fr], aux_from: usize, h: &[Fr]) -> Option<Sums> {
    let (dw, dh) = rayon::join(|| fixed::all_digits(w1), || fixed::all_digits(h));
    let aux = dw.get(aux_from..).unwrap_or_default();
    let window = fixed::WINDOW as u32;
    let g1 = |bases: &[ark_bn254::G1Affine], digits: &[[i16; fixed::WINDOWS]]| {
        let sum = zkcredit_simd::g1_msm(bases, digits, window);
        debug_assert!(sum.is_ok(), "the lanes refused an MSM: {sum:?}");
        sum.ok().flatten()
    };
    let (a, b1, b2, l, h) = join5(
        || g1(&pk.a_query[1..], &dw),
        || g1(&pk.b_g1_query[1..], &dw),
        || {
            let sum = zkcredit_simd::g2_msm(&pk.b_g2_query[1..], &dw, window);
            debug_assert!(sum.is_ok(), "the lanes refused an MSM: {sum:?}");
            sum.ok().flatten()
        },
        || g1(&pk.l_query, aux),
        || g1(&pk.h_query, &dh),
    );
    let sums = (a?, b1?, b2?, l?, h?);
    // A lanes' sum off the curve would be a bug (a bound, say) and a wrong proof: refused,
    // so the caller runs its other path (and counts it). One inversion per sum.
    let on_curve = sums.0.into_affine().is_on_curve()
        && sums.1.into_affine().is_on_curve()
        && sums.2.into_affine().is_on_curve()
        && sums.3.into_affine().is_on_curve()
        && sums.4.into_affine().is_on_curve();
    debug_assert!(on_curve, "a lanes' MSM left the curve");
    on_curve.then_some(sums)
}

impl FixedTables {
    /// The five MSMs from the tables, concurrently, each split into one part per four
    /// threads (one part, so one bucket reduction, on 2 cores). Measured on 2 cores
    /// (`benches/LEVERS.md`): this order beat starting B in G2 (the largest) first by 10 %,
    /// and splitting B in G2 into two parts by 9 %. `aux_from` is where the private wires
    /// start in `w1`; the scalars are recoded once for the four MSMs over the wires.
    fn sums(&self, w1: &[Fr], aux_from: usize, h: &[Fr]) -> Sums {
        let parts = rayon::current_num_threads().div_ceil(4);
        let (dw, dh) = rayon::join(|| fixed::all_digits(w1), || fixed::all_digits(h));
        let aux = dw.get(aux_from..).unwrap_or_default();
        join5(
            || self.a.msm(&dw, parts),
            || self.b_g1.msm(&dw, parts),
            || self.b_g2.msm(&dw, parts),
            || self.l.msm(aux, parts),
            || self.h.msm(&dh, parts),
        )
    }
}

/// The number of bases in `pk`'s largest query.
fn largest_query(pk: &ProvingKey<Bn254>) -> usize {
    [
        pk.a_query.len(),
        pk.b_g1_query.len(),
        pk.b_g2_query.len(),
        pk.l_query.len(),
        pk.h_query.len(),
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
}

/// The five MSMs without GLV.
fn plain_sums(pk: &ProvingKey<Bn254>, w1: &[Fr], aux: &[Fr], h: &[Fr]) -> Sums {
    join5(
        || msm_unchecked(&pk.a_query[1..], w1),
        || msm_unchecked(&pk.b_g1_query[1..], w1),
        || msm_unchecked(&pk.b_g2_query[1..], w1),
        || msm_unchecked(&pk.l_query, aux),
        || msm_unchecked(&pk.h_query, h),
    )
}

/// The five per-query tasks (A, B in G1, B in G2, L, H) on the pool, nested as every MSM
/// path has run them: `(A, B in G1)` beside `((B in G2, L), H)`. The order was measured for
/// the fixed-base path (`benches/LEVERS.md`).
fn join5<A: Send, B: Send, C: Send, D: Send, E: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
    c: impl FnOnce() -> C + Send,
    d: impl FnOnce() -> D + Send,
    e: impl FnOnce() -> E + Send,
) -> (A, B, C, D, E) {
    let ((a, b), ((c, d), e)) = rayon::join(
        || rayon::join(a, b),
        || rayon::join(|| rayon::join(c, d), e),
    );
    (a, b, c, d, e)
}

/// `A = α + Σ a_i(x)·z_i + r·δ`, `B = β + Σ b_i(x)·z_i + s·δ` (in G1 and G2),
/// `C = s·A + r·B − r·s·δ + Σ_private l_i·z_i + Σ h_i·h_query_i` (SPEC §10; Groth16 as
/// arkworks computes it).
fn assemble(pk: &ProvingKey<Bn254>, sums: Sums, r: Fr, s: Fr) -> Proof<Bn254> {
    let (a_sum, b1_sum, b2_sum, l_sum, h_sum) = sums;
    let delta_g1 = pk.delta_g1.into_group();
    let g_a = delta_g1 * r + pk.a_query[0] + pk.vk.alpha_g1 + a_sum;
    let g1_b = delta_g1 * s + pk.b_g1_query[0] + pk.beta_g1 + b1_sum;
    let g2_b = pk.vk.delta_g2.into_group() * s + pk.b_g2_query[0] + pk.vk.beta_g2 + b2_sum;
    let g_c = g_a * s + g1_b * r - delta_g1 * (r * s) + l_sum + h_sum;
    Proof {
        a: g_a.into_affine(),
        b: g2_b.into_affine(),
        c: g_c.into_affine(),
    }
}
