//! `zkcredit bench --peer`, the eligibility rows: snarkjs proves **exactly our statement** —
//! our exported R1CS (SPEC §10.1), our witness as `.wtns`, and one key shared by both provers
//! (made for snarkjs's QAP map, written as a zkey) — so the comparison is prover against
//! prover on identical constraints, key and witness, in the same run.

use ark_bn254::Bn254;
use ark_groth16::Groth16;
use ark_std::rand::{rngs::StdRng, SeedableRng};
use std::path::Path;
use std::time::Instant;
use zkcredit_circuits::eligibility::{EligibilityCircuit, EligibilityParams};
use zkcredit_prover::circom::{r1cs, reduction::CircomReduction, zkey};
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::{assignment, Qap};
use zkcredit_testkit::scenario::{eligible_applicant, Layout};
use zkcredit_verifier::snarkjs::{parse_proof, public_from_json};
use zkcredit_verifier::Verifier;

/// One row: both provers' medians over `runs` proofs of `eligibility_s{slots}_d32`.
pub struct Identical {
    /// Circuit name.
    pub circuit: String,
    /// Our constraint count (the exported R1CS's).
    pub constraints: usize,
    /// Our prover, same key, median ms.
    pub ours_ms: f64,
    /// snarkjs's JSON report (`constraints` from `snarkjs r1cs info`, `prove_median_ms`, …).
    pub snarkjs: serde_json::Value,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Measures both provers on the eligibility circuit with `slots` slots at depth 32, files in
/// `dir`; `node` runs `js/peer-bench.js` from `root`.
pub fn eligibility(
    slots: usize,
    runs: usize,
    root: &Path,
    dir: &Path,
) -> Result<Identical, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let params = EligibilityParams { slots, depth: 32 };
    let id = CircuitId::Eligibility(params);
    let name = id.name();
    std::fs::create_dir_all(dir).map_err(|x| e(&x))?;
    let r1cs_path = dir.join(format!("{name}.r1cs"));
    let r = zkcredit_prover::circom::export_r1cs(&id, &r1cs_path).map_err(|x| e(&x))?;
    // A benchmark key (seeded: not for any deployment), for snarkjs's map, used by both.
    let mut rng = StdRng::seed_from_u64(0x5eed + slots as u64);
    let pk = Groth16::<Bn254, CircomReduction>::generate_random_parameters_with_reduction(
        EligibilityCircuit::for_setup(params),
        &mut rng,
    )
    .map_err(|x| e(&x))?;
    let zkey_path = dir.join(format!("{name}.zkey"));
    std::fs::write(
        &zkey_path,
        zkey::write(&pk, &r).map_err(|x| format!("{x:?}"))?,
    )
    .map_err(|x| e(&x))?;
    let prover = id.prover(pk.clone()).map_err(|x| e(&x))?;
    if prover.qap() != Qap::Circom {
        return Err("the benchmark key is not a snarkjs-map key".into());
    }
    let (world, b, w0) = eligible_applicant(
        params,
        Layout::for_slots(slots),
        &mut rng,
        500,
        1_790_000_000,
    )
    .map_err(|x| e(&x))?;
    let w = world
        .witness(&b, w0.policy, w0.now, w0.scope, w0.context)
        .map_err(|x| e(&x))?;
    let public = w.check(&params).map_err(|x| e(&x))?;
    let circuit = EligibilityCircuit::with_public(params, w, public);
    let wtns_path = dir.join(format!("{name}.wtns"));
    let z = assignment(circuit.clone()).map_err(|x| e(&x))?;
    std::fs::write(&wtns_path, r1cs::wtns_bytes(&z)).map_err(|x| e(&x))?;

    let verifier = Verifier::new(&pk.vk);
    let mut ours = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let proof = prover
            .prove(circuit.clone(), &mut rand::rngs::OsRng)
            .map_err(|x| e(&x))?;
        ours.push(t.elapsed().as_secs_f64() * 1e3);
        verifier.verify(&proof, &public).map_err(|x| e(&x))?;
    }

    let out = dir.join(format!("{name}.snarkjs-proof.json"));
    let o = std::process::Command::new("node")
        .arg(root.join("js/peer-bench.js"))
        .arg("--identical")
        .args([&r1cs_path, &zkey_path, &wtns_path])
        .arg(runs.to_string())
        .arg(&out)
        .current_dir(root)
        .output()
        .map_err(|x| format!("node: {x}"))?;
    if !o.status.success() {
        return Err(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).map_err(|x| format!("peer output: {x}"))?;
    // snarkjs proved our statement: its last proof verifies with our verifier.
    let last: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).map_err(|x| e(&x))?).map_err(|x| e(&x))?;
    let proof = parse_proof(&last["proof"].to_string()).map_err(|x| e(&x))?;
    let signals: Vec<String> =
        serde_json::from_value(last["publicSignals"].clone()).map_err(|x| e(&x))?;
    let theirs = public_from_json(&signals).map_err(|x| e(&x))?;
    if theirs != public.to_vec() {
        return Err("snarkjs's public signals differ from ours".into());
    }
    verifier
        .verify(&proof, &public)
        .map_err(|x| format!("snarkjs's proof does not verify with our verifier: {x}"))?;
    Ok(Identical {
        circuit: name,
        constraints: r.num_constraints,
        ours_ms: median(ours),
        snarkjs: report,
    })
}
