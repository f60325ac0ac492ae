//! `zkcredit bench --halo2`: the eligibility statement proved with halo2 (KZG over BN254,
//! SPEC §11) beside the Groth16 rows of the same run, same witnesses' shape and machine.

use super::bench::Row;
use rand::{rngs::StdRng, SeedableRng};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_halo2::system::{verify_eligibility, Halo2Prover, KeySource, Powers};
use zkcredit_prover::resources::{peak_rss_mib, reset_peak_rss};
use zkcredit_testkit::scenario::{eligible_applicant, Layout};

/// One halo2 row.
#[derive(Serialize, Debug)]
pub struct Halo2Row {
    circuit: String,
    k: u32,
    advice_columns: usize,
    /// Key generation (from the cached SRS), or 0 when the key came from the cache.
    keygen_s: f64,
    prove_median_s: f64,
    prove_min_s: f64,
    verify_median_ms: f64,
    proof_bytes: usize,
    peak_rss_mib: Option<f64>,
    runs: usize,
    /// Execution gas of the generated EVM verifier for a proof of this run, and its
    /// deployed bytes.
    verify_gas: Option<(u64, usize)>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn row(slots: usize, runs: usize) -> Result<Halo2Row, String> {
    let params = EligibilityParams { slots, depth: 32 };
    let mut rng = StdRng::seed_from_u64(slots as u64);
    let (world, b, w0) = eligible_applicant(
        params,
        Layout::for_slots(slots),
        &mut rng,
        500,
        1_790_000_000,
    )
    .map_err(|e| e.to_string())?;
    reset_peak_rss();
    let (prover, source) = Halo2Prover::load(
        params,
        &Powers::InsecureDev,
        Path::new("params/cache/halo2"),
    )
    .map_err(|e| e.to_string())?;
    let keygen_s = match source {
        KeySource::Generated(_, s) => s,
        KeySource::Cached(_) => 0.0,
    };
    let mut times = Vec::new();
    let mut verify_ms = Vec::new();
    let mut proof_bytes = 0;
    let mut last = None;
    for _ in 0..runs {
        let w = world
            .witness(&b, w0.policy, w0.now, w0.scope, w0.context)
            .map_err(|e| e.to_string())?;
        let t = Instant::now();
        let (proof, public) = prover.prove(w).map_err(|e| e.to_string())?;
        times.push(t.elapsed().as_secs_f64());
        proof_bytes = proof.proof.len() / 2;
        for _ in 0..5 {
            let t = Instant::now();
            verify_eligibility(&prover.vk, &proof, &public.to_vec()).map_err(|e| e.to_string())?;
            verify_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
        last = Some((proof, public));
    }
    let peak = peak_rss_mib();
    let verify_gas = last.and_then(|(proof, public)| {
        super::bench_gas::halo2(&prover.vk, &proof, &public.to_vec())
            .map_err(|e| eprintln!("halo2 {}: verifier gas not measured: {e}", params.id()))
            .ok()
    });
    Ok(Halo2Row {
        circuit: params.id(),
        k: prover.k(),
        advice_columns: prover.columns().0,
        keygen_s,
        prove_median_s: median(times.clone()),
        prove_min_s: times.iter().copied().fold(f64::INFINITY, f64::min),
        verify_median_ms: median(verify_ms),
        proof_bytes,
        peak_rss_mib: peak,
        runs,
        verify_gas,
    })
}

/// The halo2 rows for `slots` and the side-by-side table against `groth16`'s rows.
pub fn rows(slots: &[usize], runs: usize, groth16: &[Row]) -> (String, serde_json::Value) {
    let mut out = String::from(
        "\nhalo2 (KZG over BN254, SHPLONK, halo2-axiom 0.5.3 + halo2-base 0.5.5; SPEC §11) beside Groth16, same statement and sizes, same run:\n\n| eligibility | system | size | keygen s | prove median s | prove min s | verify ms | proof B | peak MiB | verify gas (execution) | EVM verifier B |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut json = Vec::new();
    let mib = |m: Option<f64>| m.map(|m| format!("{m:.0}")).unwrap_or_else(|| "n/a".into());
    let gas = |g: Option<(u64, usize)>| match g {
        Some((gas, bytes)) => format!("{gas} | {bytes}"),
        None => "not measured | ".into(),
    };
    for &s in slots {
        eprintln!("measuring halo2 eligibility_s{s}_d32 …");
        let name = format!("eligibility_s{s}_d32");
        if let Some(g) = groth16.iter().find(|r| r.circuit == name) {
            out.push_str(&format!(
                "| {name} | Groth16 | {} constraints | | {:.3} | | {:.2} | {} | {} | {} |\n",
                g.constraints(),
                g.prove_median_s,
                g.verify_median_ms,
                g.proof_bytes,
                mib(g.peak_rss_mib),
                gas(g.verify_gas)
            ));
        }
        match row(s, runs) {
            Ok(r) => {
                out.push_str(&format!(
                    "| {name} | halo2 | 2^{} rows × {} advice | {} | {:.3} | {:.3} | {:.2} | {} | {} | {} |\n",
                    r.k,
                    r.advice_columns,
                    if r.keygen_s > 0.0 { format!("{:.1}", r.keygen_s) } else { "cached".into() },
                    r.prove_median_s,
                    r.prove_min_s,
                    r.verify_median_ms,
                    r.proof_bytes,
                    mib(r.peak_rss_mib),
                    gas(r.verify_gas)
                ));
                json.push(serde_json::to_value(&r).unwrap_or_default());
            }
            Err(e) => out.push_str(&format!(
                "| {name} | halo2 | not run: {e} | | | | | | | | |\n"
            )),
        }
    }
    (out, serde_json::Value::Array(json))
}
