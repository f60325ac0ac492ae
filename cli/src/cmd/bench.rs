//! `zkcredit bench`: measured prover and verifier figures per circuit and size.

use ark_std::rand::{rngs::StdRng, SeedableRng};
use serde::Serialize;
use std::time::Instant;
use zkcredit_circuits::eligibility::{EligibilityCircuit, EligibilityParams};
use zkcredit_circuits::imt::IndexedMerkleTree;
use zkcredit_circuits::statements::{subject_commitment, FraudOnlyCircuit, Subject};
use zkcredit_circuits::Fr;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::resources::{peak_rss_mib, reset_peak_rss};
use zkcredit_testkit::scenario::{eligible_applicant, Layout};
use zkcredit_verifier::Verifier;

/// One row of the table.
#[derive(Serialize, Debug)]
pub struct Row {
    pub(crate) circuit: String,
    constraints: usize,
    setup_s: f64,
    witness_ms: f64,
    pub(crate) prove_median_s: f64,
    prove_min_s: f64,
    pub(crate) verify_median_ms: f64,
    pub(crate) proof_bytes: usize,
    runs: usize,
    /// Batch verification throughput (proofs/s) at batch sizes 1, 16, 256.
    batch_per_s: [f64; 3],
    /// Peak resident memory while measuring this circuit (MiB).
    pub(crate) peak_rss_mib: Option<f64>,
    /// Eligibility rows: execution gas of the generated verifier for a proof of this run,
    /// and the verifier's deployed bytes (`None`: not measured, said on stderr).
    pub(crate) verify_gas: Option<(u64, usize)>,
}

impl Row {
    /// The constraint count of the row's circuit.
    pub(crate) fn constraints(&self) -> usize {
        self.constraints
    }
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
    // A benchmark proves many times: fixed-base tables for the keys they fit (fraud-only),
    // built here, so their build time is in the setup column.
    let prover = id
        .insecure_dev_prover()
        .expect("setup")
        .with_fixed_base_tables();
    let pk = prover.pk();
    let setup_s = t.elapsed().as_secs_f64();
    let verifier = Verifier::new(&pk.vk);
    let (mut prove, mut verify, mut wit) = (Vec::new(), Vec::new(), Vec::new());
    let mut proof_bytes = 0;
    let mut last = None;
    for _ in 0..runs {
        let (circuit, public, witness_ms) = make();
        wit.push(witness_ms);
        let t = Instant::now();
        let proof = prover
            .prove(circuit, &mut rand::rngs::OsRng)
            .expect("prove");
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
    let verify_gas = match id {
        CircuitId::Eligibility(_) => super::bench_gas::groth16(&id.name(), &pk.vk, &proof, &public)
            .map_err(|e| eprintln!("{name}: verifier gas not measured: {e}"))
            .ok(),
        _ => None,
    };
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
        verify_gas,
    }
}

/// The circom input of the fraud-only statement (same values as our witness).
fn circom_input(
    depth: usize,
    root: Fr,
    commitment: Fr,
    s: &Subject,
    w: &zkcredit_circuits::imt::LookupWitness,
) -> serde_json::Value {
    use zkcredit_circuits::field::fr_to_dec;
    let l = &w.leaf;
    // The low leaf as the witness gives it: key, next key, sealed commitment; the opening
    // (zeros when sealed) as the gadget allocates it (spec §4.3 (1b)).
    let (values, salt, leaf_commitment) = l.parts();
    let leaf: Vec<String> = [l.key, l.next_key, leaf_commitment]
        .iter()
        .map(fr_to_dec)
        .collect();
    let opening: Vec<String> = [values[0], values[1], values[2], salt]
        .iter()
        .map(fr_to_dec)
        .collect();
    serde_json::json!({
        "root": fr_to_dec(&root),
        "commitment": fr_to_dec(&commitment),
        "key": fr_to_dec(&s.key),
        "blinding": fr_to_dec(&s.blinding),
        "leaf": leaf,
        "opening": opening,
        "index_bits": (0..depth).map(|i| ((w.index >> i) & 1).to_string()).collect::<Vec<_>>(),
        "siblings": w.siblings.iter().map(fr_to_dec).collect::<Vec<_>>(),
    })
}

fn fraud_tree(depth: usize) -> IndexedMerkleTree {
    let rows: Vec<(Fr, [Fr; 3])> = (1..=1000u64)
        .map(|k| (Fr::from(k * 1_000_003), [Fr::from(1u64); 3]))
        .collect();
    IndexedMerkleTree::from_rows(depth, &rows).expect("tree")
}

/// snarkjs on the same fraud-only statement (circuit in benches/peer/), or why not.
fn peer_fraud(depth: usize, runs: usize) -> Result<serde_json::Value, String> {
    use std::process::Command;
    let root_dir = std::env::current_dir().map_err(|e| e.to_string())?;
    let js = root_dir.join("js/node_modules");
    if !js.join("snarkjs").exists() || !js.join("circom2").exists() {
        return Err("run `bash scripts/install-js.sh` from the repository root first".into());
    }
    let cache = std::env::var_os("ZKCREDIT_PEER_CACHE")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| std::path::PathBuf::from(h).join(".cache/zkcredit-peer"))
        })
        .ok_or("no cache directory (set ZKCREDIT_PEER_CACHE)")?;
    std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
    let snarkjs = js.join("snarkjs/build/cli.cjs");
    let run = |args: &[&std::ffi::OsStr]| -> Result<String, String> {
        let o = Command::new("node")
            .args(args)
            .current_dir(&root_dir)
            .output()
            .map_err(|e| format!("node: {e}"))?;
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).to_string())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ))
        }
    };
    let ptau = cache.join("pot14_final.ptau");
    if !ptau.exists() {
        eprintln!(
            "preparing snarkjs powers of tau 2^14 in {} (about 10 minutes on 2 cores, once) …",
            cache.display()
        );
        let p0 = cache.join("pot14_0.ptau");
        let p1 = cache.join("pot14_1.ptau");
        run(&[
            snarkjs.as_os_str(),
            "powersoftau".as_ref(),
            "new".as_ref(),
            "bn128".as_ref(),
            "14".as_ref(),
            p0.as_os_str(),
        ])?;
        run(&[
            snarkjs.as_os_str(),
            "powersoftau".as_ref(),
            "contribute".as_ref(),
            p0.as_os_str(),
            p1.as_os_str(),
            "--name=zkcredit-bench".as_ref(),
            "-e=zkcredit-peer-bench-entropy".as_ref(),
        ])?;
        run(&[
            snarkjs.as_os_str(),
            "powersoftau".as_ref(),
            "prepare".as_ref(),
            "phase2".as_ref(),
            p1.as_os_str(),
            ptau.as_os_str(),
        ])?;
    }
    let name = format!("fraud_only_d{depth}");
    let src = root_dir.join(format!("benches/peer/{name}.circom"));
    let src = std::fs::canonicalize(&src).map_err(|e| format!("{}: {e}", src.display()))?;
    // The cache is keyed by the circuit sources, so a changed statement is recompiled.
    let source_id = {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        for f in [src.clone(), root_dir.join("benches/peer/fraud_only.circom")] {
            std::fs::read(&f)
                .map_err(|e| format!("{}: {e}", f.display()))?
                .hash(&mut h);
        }
        format!("{:016x}", h.finish())
    };
    let out = cache.join(format!("{name}-{source_id}"));
    let r1cs = out.join(format!("{name}.r1cs"));
    let wasm = out.join(format!("{name}_js/{name}.wasm"));
    if !r1cs.exists() || !wasm.exists() {
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        run(&[
            js.join("circom2/cli.js").as_os_str(),
            src.as_os_str(),
            "--r1cs".as_ref(),
            "--wasm".as_ref(),
            "--O2".as_ref(),
            "-l".as_ref(),
            js.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ])?;
    }
    let tree = fraud_tree(depth);
    let s = Subject {
        key: Fr::from(5_000_001u64),
        blinding: Fr::from(77u64),
    };
    let (_, w) = tree.witness(&s.key).map_err(|e| e.to_string())?;
    let input = circom_input(
        depth,
        tree.root(),
        subject_commitment(&s.key, &s.blinding),
        &s,
        &w,
    );
    let input_path = out.join("input.json");
    std::fs::write(&input_path, input.to_string()).map_err(|e| e.to_string())?;
    let zkey = out.join(format!("{name}.zkey"));
    let text = run(&[
        root_dir.join("js/peer-bench.js").as_os_str(),
        r1cs.as_os_str(),
        wasm.as_os_str(),
        ptau.as_os_str(),
        zkey.as_os_str(),
        input_path.as_os_str(),
        runs.to_string().as_ref(),
    ])?;
    serde_json::from_str(text.trim()).map_err(|e| format!("peer output {text:?}: {e}"))
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
    let layout = Layout::for_slots(slots);
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

/// Runs the benchmark and prints the table; returns the rows as JSON.
pub fn run(runs: usize, quick: bool, peer: bool, halo2: bool) -> serde_json::Value {
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
    let table = markdown_table(&rows);
    print!("{table}");
    let mut peers = Vec::new();
    let mut peer_table = String::new();
    if peer {
        peer_table.push_str("\nPeer comparison, same statement (fraud-only: one indexed-tree lookup + subject commitment), same machine, same run:\n\n");
        peer_table.push_str("| statement | ours: constraints | snarkjs: constraints | ours: prove median | snarkjs: prove median | speed-up | ours: verify | snarkjs: verify |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for &d in fraud_depths {
            eprintln!("measuring snarkjs on fraud_only_d{d} …");
            let ours = rows
                .iter()
                .find(|r| r.circuit == format!("fraud_only_d{d}"))
                .expect("measured above");
            match peer_fraud(d, runs) {
                Ok(v) => {
                    let theirs_ms = v["prove_median_ms"].as_f64().unwrap_or(f64::NAN);
                    peer_table.push_str(&format!(
                        "| fraud_only_d{d} | {} | {} | {:.0} ms | {:.0} ms | {:.1}× | {:.2} ms | {:.1} ms |\n",
                        ours.constraints,
                        v["constraints"],
                        ours.prove_median_s * 1e3,
                        theirs_ms,
                        theirs_ms / (ours.prove_median_s * 1e3),
                        ours.verify_median_ms,
                        v["verify_median_ms"].as_f64().unwrap_or(f64::NAN)
                    ));
                    peers.push(
                        serde_json::json!({ "circuit": format!("fraud_only_d{d}"), "snarkjs": v }),
                    );
                }
                Err(e) => {
                    eprintln!("peer run for fraud_only_d{d} skipped: {e}");
                    peer_table.push_str(&format!(
                        "| fraud_only_d{d} | {} | – | {:.0} ms | not run: {} | | | |\n",
                        ours.constraints,
                        ours.prove_median_s * 1e3,
                        e.lines().next().unwrap_or("")
                    ));
                }
            }
        }
        identical_rows(slots, runs, &mut peer_table, &mut peers);
        print!("{peer_table}");
    }
    let (halo2_table, halo2_rows) = if halo2 {
        let (t, r) = super::bench_halo2::rows(slots, runs, &rows);
        print!("{t}");
        (t, r)
    } else {
        (String::new(), serde_json::Value::Null)
    };
    serde_json::json!({ "cores": cores, "runs": runs, "rows": rows, "table": table, "peers": peers, "peer_table": peer_table, "halo2": halo2_rows, "halo2_table": halo2_table })
}

/// The peer rows on the identical R1CS (eligibility at each of `slots`).
fn identical_rows(
    slots: &[usize],
    runs: usize,
    table: &mut String,
    peers: &mut Vec<serde_json::Value>,
) {
    table.push_str("\nPeer on the identical statement: the whole eligibility circuit as our exported R1CS (SPEC §10.1), one key shared by both provers (made for snarkjs's QAP map, written as a zkey), our witness as .wtns; snarkjs's proofs checked by our verifier:\n\n");
    table.push_str("| statement | ours: constraints | snarkjs: constraints | ours: prove median | snarkjs: prove median | speed-up |\n|---|---:|---:|---:|---:|---:|\n");
    let root = std::env::current_dir().unwrap_or_default();
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            table.push_str(&format!("| – | not run: {e} | | | | |\n"));
            return;
        }
    };
    for &s in slots {
        eprintln!("measuring both provers on eligibility_s{s}_d32 (identical R1CS) …");
        match super::bench_identical::eligibility(s, runs, &root, dir.path()) {
            Ok(r) => {
                let theirs = r.snarkjs["prove_median_ms"].as_f64().unwrap_or(f64::NAN);
                table.push_str(&format!(
                    "| {} | {} | {} | {:.0} ms | {:.0} ms | {:.1}× |\n",
                    r.circuit,
                    r.constraints,
                    r.snarkjs["constraints"],
                    r.ours_ms,
                    theirs,
                    theirs / r.ours_ms
                ));
                peers.push(serde_json::json!({ "circuit": r.circuit, "identical_r1cs": true, "ours_prove_median_ms": r.ours_ms, "snarkjs": r.snarkjs }));
            }
            Err(e) => {
                eprintln!("identical-R1CS peer run for eligibility_s{s}_d32 skipped: {e}");
                table.push_str(&format!(
                    "| eligibility_s{s}_d32 | – | – | – | not run: {} | |\n",
                    e.lines().next().unwrap_or("")
                ));
            }
        }
    }
}

/// The results as a Markdown table.
pub fn markdown_table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| circuit | constraints | setup s | witness ms | prove median s | prove min s | verify ms | batch/s @1 | @16 | @256 | proof B | peak MiB |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {:.2} | {:.1} | {:.3} | {:.3} | {:.2} | {:.0} | {:.0} | {:.0} | {} | {} |\n",
            r.circuit,
            r.constraints,
            r.setup_s,
            r.witness_ms,
            r.prove_median_s,
            r.prove_min_s,
            r.verify_median_ms,
            r.batch_per_s[0],
            r.batch_per_s[1],
            r.batch_per_s[2],
            r.proof_bytes,
            r.peak_rss_mib.map(|m| format!("{m:.0}")).unwrap_or_else(|| "n/a".into())
        ));
    }
    out
}

/// `zkcredit bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Proofs per circuit (median and min reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Only the smallest sizes (a quick look).
    #[arg(long)]
    quick: bool,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Also prove the same statements with circom + snarkjs (needs scripts/install-js.sh;
    /// prepares a 2^14 powers-of-tau file once in ~/.cache/zkcredit-peer, ≈ 10 min).
    #[arg(long)]
    peer: bool,
    /// Write benches/RESULTS.md-style Markdown (tables, machine, command, date) here.
    #[arg(long)]
    markdown: Option<std::path::PathBuf>,
    /// Also prove the eligibility statements with halo2 (KZG) beside Groth16 (SPEC §11;
    /// development powers of tau and keys cached in params/cache/halo2).
    #[arg(long)]
    halo2: bool,
}

/// Runs `zkcredit bench`.
pub fn bench(a: BenchArgs) -> Result<(), super::CliError> {
    use zkcredit_prover::files::write_atomic;
    if a.runs == 0 {
        return Err(super::CliError::Usage("--runs must be at least 1".into()));
    }
    let v = run(a.runs, a.quick, a.peer, a.halo2);
    if let Some(path) = a.markdown {
        write_atomic(
            &path,
            super::bench_report::results_markdown(&v, a.runs, a.quick, a.peer, a.halo2).as_bytes(),
        )?;
    }
    if let Some(path) = a.json {
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        write_atomic(&path, text.as_bytes())?;
    }
    Ok(())
}
