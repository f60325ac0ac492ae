//! `zkcredit bench`: measured prover and verifier figures per circuit and size.

use ark_std::rand::{rngs::StdRng, SeedableRng};
use serde::Serialize;
use std::time::Instant;
use zkcredit_circuits::eligibility::{EligibilityCircuit, EligibilityParams};
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::scenario::{eligible_applicant, Layout};
use zkcredit_circuits::statements::{subject_commitment, FraudOnlyCircuit, Subject};
use zkcredit_circuits::Fr;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_verifier::Verifier;

/// One row of the table.
#[derive(Serialize, Debug)]
pub struct Row {
    circuit: String,
    constraints: usize,
    setup_s: f64,
    witness_ms: f64,
    prove_median_s: f64,
    prove_min_s: f64,
    verify_median_ms: f64,
    proof_bytes: usize,
    runs: usize,
    /// Batch verification throughput (proofs/s) at batch sizes 1, 16, 256.
    batch_per_s: [f64; 3],
    /// Peak resident memory while measuring this circuit (MiB).
    peak_rss_mib: Option<f64>,
}

/// Batch sizes of the throughput columns.
pub const BATCH_SIZES: [usize; 3] = [1, 16, 256];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn count<C: ark_relations_gr1cs::ConstraintSynthesizer<Fr>>(c: C) -> usize {
    let cs = ark_relations_gr1cs::ConstraintSystem::<Fr>::new_ref();
    cs.set_mode(ark_relations_gr1cs::SynthesisMode::Setup);
    c.generate_constraints(cs.clone())
        .expect("synthesis of a setup circuit");
    cs.num_constraints()
}

mod ark_relations_gr1cs {
    pub use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem, SynthesisMode};
}

/// Measures one circuit: `make` builds a fresh (circuit, public inputs) each run.
fn measure<C, F>(name: String, constraints: usize, id: CircuitId, runs: usize, mut make: F) -> Row
where
    C: ark_relations_gr1cs::ConstraintSynthesizer<Fr>,
    F: FnMut() -> (C, Vec<Fr>, f64),
{
    reset_peak_rss();
    let t = Instant::now();
    let pk = id.insecure_dev_setup().expect("setup");
    let setup_s = t.elapsed().as_secs_f64();
    let verifier = Verifier::new(&pk.vk);
    let (mut prove, mut verify, mut wit) = (Vec::new(), Vec::new(), Vec::new());
    let mut proof_bytes = 0;
    let mut last = None;
    for _ in 0..runs {
        let (circuit, public, witness_ms) = make();
        wit.push(witness_ms);
        let t = Instant::now();
        let proof =
            zkcredit_prover::prove_circuit(&pk, circuit, &mut rand::rngs::OsRng).expect("prove");
        prove.push(t.elapsed().as_secs_f64());
        proof_bytes = zkcredit_verifier::keys::proof_to_bytes(&proof).len();
        for _ in 0..5 {
            let t = Instant::now();
            verifier
                .verify_raw(&proof, &public)
                .expect("an honest proof verifies");
            verify.push(t.elapsed().as_secs_f64() * 1e3);
        }
        last = Some((proof, public));
    }
    let (proof, public) = last.expect("runs >= 1");
    // 256 distinct valid proofs of the same statement by re-randomisation.
    let mut rng = rand::rngs::OsRng;
    let pvk = ark_groth16::prepare_verifying_key(&pk.vk);
    let items: Vec<(ark_groth16::Proof<ark_bn254::Bn254>, Vec<Fr>)> = (0..BATCH_SIZES[2])
        .map(|_| {
            let p = ark_groth16::Groth16::<ark_bn254::Bn254>::rerandomize_proof(
                &pvk.vk, &proof, &mut rng,
            );
            (p, public.clone())
        })
        .collect();
    let batch_per_s = BATCH_SIZES.map(|n| {
        let reps = (512 / n).max(2);
        let t = Instant::now();
        for k in 0..reps {
            let start = (k * n) % (items.len() - n + 1);
            verifier
                .verify_batch(&items[start..start + n])
                .expect("valid batch");
        }
        (n * reps) as f64 / t.elapsed().as_secs_f64()
    });
    let prove_min_s = prove.iter().copied().fold(f64::INFINITY, f64::min);
    Row {
        circuit: name,
        constraints,
        setup_s,
        witness_ms: median(wit),
        prove_median_s: median(prove),
        prove_min_s,
        verify_median_ms: median(verify),
        proof_bytes,
        runs,
        batch_per_s,
        peak_rss_mib: peak_rss_mib(),
    }
}

fn fraud_row(depth: usize, runs: usize) -> Row {
    let id = CircuitId::FraudOnly { depth };
    let constraints = count(FraudOnlyCircuit {
        depth,
        public: None,
        witness: None,
    });
    let mut rng = StdRng::seed_from_u64(depth as u64);
    let rows: Vec<(Fr, [Fr; 3])> = (1..=1000u64)
        .map(|k| (Fr::from(k * 1_000_003), [Fr::from(1u64); 3]))
        .collect();
    let tree = IndexedMerkleTree::from_rows(depth, &rows).expect("tree");
    measure(id.name(), constraints, id, runs, move || {
        let t = Instant::now();
        let s = Subject {
            key: Fr::from(5_000_001u64),
            blinding: <Fr as ark_ff::UniformRand>::rand(&mut rng),
        };
        let (_, w) = tree.witness(&s.key).expect("witness");
        let public = [tree.root(), subject_commitment(&s.key, &s.blinding)];
        let ms = t.elapsed().as_secs_f64() * 1e3;
        (
            FraudOnlyCircuit {
                depth,
                public: Some(public),
                witness: Some((s, w)),
            },
            public.to_vec(),
            ms,
        )
    })
}

fn eligibility_row(slots: usize, runs: usize) -> Row {
    let params = EligibilityParams { slots, depth: 32 };
    let id = CircuitId::Eligibility(params);
    let constraints = count(EligibilityCircuit::for_setup(params));
    let layout = if slots >= 8 {
        Layout::default()
    } else {
        Layout {
            fraud_lists: 1,
            lenders: 1,
            bureaus: 1,
        }
    };
    let mut rng = StdRng::seed_from_u64(slots as u64);
    let (world, b, w0) =
        eligible_applicant(params, layout, &mut rng, 500, 1_790_000_000).expect("world");
    measure(id.name(), constraints, id, runs, move || {
        let t = Instant::now();
        let w = world
            .witness(&b, w0.policy, w0.now, w0.scope, w0.context)
            .expect("witness");
        let public = w.check(&params).expect("eligible");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        (
            EligibilityCircuit::with_public(params, w, public),
            public.to_vec(),
            ms,
        )
    })
}

/// Resets the kernel's peak-RSS counter of this process (Linux `clear_refs` 5).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs the benchmark and prints the table; returns the rows as JSON.
pub fn run(runs: usize, quick: bool) -> serde_json::Value {
    let mut rows = Vec::new();
    let fraud_depths: &[usize] = if quick { &[20] } else { &[20, 32] };
    let slots: &[usize] = if quick { &[4] } else { &[4, 8, 16] };
    for &d in fraud_depths {
        eprintln!("measuring fraud_only_d{d} …");
        rows.push(fraud_row(d, runs));
    }
    for &s in slots {
        eprintln!("measuring eligibility_s{s}_d32 …");
        rows.push(eligibility_row(s, runs));
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "zkcredit bench — Groth16/BN254 (arkworks 0.6), {cores} cores, {runs} runs per circuit"
    );
    println!(
        "| {:<22} | {:>11} | {:>8} | {:>10} | {:>12} | {:>9} | {:>10} | {:>5} |",
        "circuit",
        "constraints",
        "setup s",
        "witness ms",
        "prove med s",
        "prove min",
        "verify ms",
        "bytes"
    );
    println!(
        "|{:-<24}|{:-<13}|{:-<10}|{:-<12}|{:-<14}|{:-<11}|{:-<12}|{:-<7}|",
        "", "", "", "", "", "", "", ""
    );
    for r in &rows {
        println!(
            "| {:<22} | {:>11} | {:>8.2} | {:>10.1} | {:>12.3} | {:>9.3} | {:>10.2} | {:>5} |",
            r.circuit,
            r.constraints,
            r.setup_s,
            r.witness_ms,
            r.prove_median_s,
            r.prove_min_s,
            r.verify_median_ms,
            r.proof_bytes
        );
    }
    let peak = peak_rss_mib();
    if let Some(p) = peak {
        println!("peak resident memory of the whole run: {p:.0} MiB");
    }
    serde_json::json!({ "cores": cores, "runs": runs, "rows": rows, "peak_rss_mib": peak })
}
