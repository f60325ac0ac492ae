//! A lender's verifier fleet for tests and load measurements: a synthetic alliance of many
//! eligible borrowers (small eligibility circuit, fresh keys from OS randomness), the
//! registry in-process on loopback, and `zkcredit verifier serve` processes ([`Replica`])
//! on one store. Submissions are real proofs, one per borrower, each answering its own
//! request.

use crate::provider_signing_key;
use crate::scenario::{
    eligible_applicant, example_policy, Borrower, Layout, World, EXAMPLE_MIN_KYC_AGE,
};
use ark_std::rand::{rngs::StdRng, SeedableRng};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zkcredit_api::client::{RegistryClient, VerifierClient};
use zkcredit_api::unix_now;
use zkcredit_api::verifier::{NewRequest, ProofRequest, Submission};
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_circuits::field::fr_from_dec;
use zkcredit_circuits::registry::Role;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::Prover;
use zkcredit_services::registry::RegistryService;
use zkcredit_services::server::{spawn, Running};
use zkcredit_services::verifier::expected_slots_of;
use zkcredit_verifier::snarkjs::{public_to_json, ProofJson};

/// The lender's bearer token of the fleet (`lender.token`).
pub const LENDER_TOKEN: &str = "fleet-lender-token-0123456789abcdef";
const ADMIN: &str = "fleet-registry-admin-token-0123456789";

/// The alliance a fleet verifies against, and the files `verifier serve` reads, in `dir`.
pub struct Fleet {
    /// Holds `keys/`, `policy.json`, `lender.token`, `expected-slots.json`, `registry/`.
    pub dir: PathBuf,
    /// The circuit.
    pub params: EligibilityParams,
    /// The alliance's data.
    pub world: World,
    /// Eligible borrowers, all distinct people.
    pub people: Vec<Borrower>,
    /// The registry, in-process.
    pub registry: Running,
    /// Its answer-signing key (hex).
    pub registry_key: String,
    prover: Prover,
    /// An HTTP client.
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("dir", &self.dir)
            .field("people", &self.people.len())
            .finish_non_exhaustive()
    }
}

fn fail(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

impl Fleet {
    /// `people` eligible borrowers in a world of `params` (its KYC tree must hold them),
    /// fresh Groth16 keys written under `dir/keys`, the registry serving the world's roots.
    pub async fn new(
        dir: &Path,
        params: EligibilityParams,
        people: usize,
        seed: u64,
    ) -> Result<Self, String> {
        let now = unix_now();
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut world, first, _) =
            eligible_applicant(params, Layout::for_slots(params.slots), &mut rng, 4, now)
                .map_err(|e| fail("world", e))?;
        let mut all = vec![first];
        while all.len() < people {
            let b = Borrower::random(&mut rng);
            world
                .register(&b, now - 2 * EXAMPLE_MIN_KYC_AGE, now + 365 * 86_400)
                .map_err(|e| fail("register", e))?;
            world
                .set_record(Role::Bureau, 0, b.subject_key, [700, now - 86_400, 7])
                .map_err(|e| fail("bureau record", e))?;
            all.push(b);
        }
        world.publish(now - 10).map_err(|e| fail("publish", e))?;
        let id = CircuitId::Eligibility(params);
        let pk = id.setup_os_rng().map_err(|e| fail("setup", e))?;
        zkcredit_prover::files::VkFiles::new(&dir.join("keys"), &id.name())
            .write(&pk.vk)
            .map_err(|e| fail("vk files", e))?;
        let prover = id.prover(pk).map_err(|e| fail("prover", e))?;
        let registry_svc = RegistryService::open(&dir.join("registry"), params.slots, ADMIN)
            .map_err(|e| fail("registry", e))?;
        let registry_key = registry_svc.public_key_hex();
        let registry = spawn(registry_svc.router(), "127.0.0.1:0".parse().expect("addr"))
            .await
            .map_err(|e| fail("registry listen", e))?;
        let http = reqwest::Client::new();
        RegistryClient::new(http.clone(), registry.url())
            .mirror(
                ADMIN,
                &world.registry,
                |slot| format!("fleet-provider-token-for-slot-{slot:02}"),
                provider_signing_key,
            )
            .await
            .map_err(|e| fail("registry mirror", e))?;
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).map_err(|e| fail(name, e))
        };
        write("lender.token", LENDER_TOKEN.into())?;
        write(
            "policy.json",
            serde_json::to_string(&example_policy()).map_err(|e| fail("policy", e))?,
        )?;
        let expected =
            expected_slots_of(&world.registry, |i| provider_signing_key(i).verifying_key());
        write(
            "expected-slots.json",
            serde_json::to_string(&expected).map_err(|e| fail("slots", e))?,
        )?;
        Ok(Self {
            dir: dir.to_path_buf(),
            params,
            world,
            people: all,
            registry,
            registry_key,
            prover,
            http,
        })
    }

    /// `zkcredit verifier serve` arguments for this fleet on `database_url` (no
    /// `--data-dir`: everything a replica keeps is in the database). `--max-skew` is an
    /// hour, since the proofs are made before the load starts.
    pub fn verifier_args(&self, database_url: &str) -> Vec<String> {
        let circuit = CircuitId::Eligibility(self.params).name();
        [
            "verifier",
            "serve",
            "--database-url",
            database_url,
            "--listen",
            "127.0.0.1:0",
            "--params",
            "keys",
            "--circuit",
            &circuit,
            "--registry-url",
            &self.registry.url(),
            "--registry-key",
            &self.registry_key,
            "--policy-file",
            "policy.json",
            "--lender-token-file",
            "lender.token",
            "--expected-slots",
            "expected-slots.json",
            "--max-skew",
            "3600",
        ]
        .map(String::from)
        .to_vec()
    }

    /// `n` requests opened by the lender at `verifier_url` (an hour to live).
    pub async fn requests(
        &self,
        verifier_url: &str,
        n: usize,
    ) -> Result<Vec<ProofRequest>, String> {
        let client = VerifierClient::new(self.http.clone(), verifier_url.to_string());
        let body = NewRequest {
            policy: example_policy(),
            ttl_seconds: 3600,
        };
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(
                client
                    .create_request(LENDER_TOKEN, &body)
                    .await
                    .map_err(|e| fail("open request", e))?,
            );
        }
        Ok(out)
    }

    /// The proof of borrower `i` answering `reqs[i]`, for every `i`, proved side by side.
    pub fn prove_all(&self, reqs: &[ProofRequest]) -> Result<Vec<Submission>, String> {
        use rayon::prelude::*;
        // Constraint synthesis recurses deeply: the workers get the stack a main thread has.
        let pool = rayon::ThreadPoolBuilder::new()
            .stack_size(64 << 20)
            .build()
            .map_err(|e| fail("prover threads", e))?;
        pool.install(|| {
            reqs.par_iter()
                .enumerate()
                .map(|(who, req)| self.prove(who, req))
                .collect()
        })
    }

    /// Borrower `who`'s proof answering `req`.
    pub fn prove(&self, who: usize, req: &ProofRequest) -> Result<Submission, String> {
        let scope = fr_from_dec(&req.scope).map_err(|e| fail("scope", e))?;
        let context = fr_from_dec(&req.context).map_err(|e| fail("context", e))?;
        let w = self
            .world
            .witness(
                &self.people[who],
                example_policy(),
                unix_now(),
                scope,
                context,
            )
            .map_err(|e| fail("witness", e))?;
        let (proof, public) = zkcredit_prover::prove_eligibility(&self.prover, self.params, w)
            .map_err(|e| fail("prove", e))?;
        Ok(Submission::groth16(
            ProofJson::from_proof(&proof),
            public_to_json(&public.to_vec()),
        ))
    }
}

/// One `zkcredit verifier serve` process.
#[derive(Debug)]
pub struct Replica {
    child: Option<Child>,
    /// Its base URL (changes at each restart: it listens on a free port).
    pub url: String,
    exe: PathBuf,
    cwd: PathBuf,
    args: Vec<String>,
}

impl Replica {
    /// Starts `exe args` in `cwd` and waits until it prints `listening on URL`.
    pub fn spawn(exe: &Path, cwd: &Path, args: &[String]) -> Result<Self, String> {
        let mut r = Self {
            child: None,
            url: String::new(),
            exe: exe.to_path_buf(),
            cwd: cwd.to_path_buf(),
            args: args.to_vec(),
        };
        r.start()?;
        Ok(r)
    }

    fn start(&mut self) -> Result<(), String> {
        let mut child = Command::new(&self.exe)
            .args(&self.args)
            .current_dir(&self.cwd)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| fail("spawn verifier", e))?;
        let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("verifier exited before listening: {seen:?}"));
            }
            if let Some(url) = line.split("listening on ").nth(1) {
                self.url = url.trim().to_string();
                // Keep draining stdout so the child never blocks on a full pipe.
                std::thread::spawn(move || for _ in out.lines() {});
                self.child = Some(child);
                return Ok(());
            }
            seen.push(line);
        }
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again with the same arguments (after [`Replica::kill`]).
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        self.start()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What one submission to one replica got.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Which proof.
    pub proof: usize,
    /// Which replica.
    pub replica: usize,
    /// The HTTP status (200 accepted), or `None` when no answer came (connection refused
    /// or cut: the replica was down).
    pub status: Option<u16>,
    /// The refusal's error code.
    pub code: Option<String>,
    /// Time to the answer.
    pub latency: Duration,
}

/// Submits every `(proof, replica)` pair of `plan` to `urls[replica]`, at most
/// `concurrency` at once; one [`Outcome`] per pair, in completion order.
pub async fn submit(
    http: &reqwest::Client,
    urls: &[String],
    subs: &[Submission],
    plan: Vec<(usize, usize)>,
    concurrency: usize,
) -> Vec<Outcome> {
    use std::sync::Arc;
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (proof, replica) in plan {
        let client = VerifierClient::new(http.clone(), urls[replica].clone());
        let sub = subs[proof].clone();
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore open");
        tasks.spawn(async move {
            let t = Instant::now();
            let r = client.verify(&sub).await;
            drop(permit);
            let latency = t.elapsed();
            let (status, code) = match r {
                Ok(_) => (Some(200), None),
                Err(e) => (e.status(), e.code().map(|c| c.as_str().to_string())),
            };
            Outcome {
                proof,
                replica,
                status,
                code,
                latency,
            }
        });
    }
    let mut out = Vec::new();
    while let Some(r) = tasks.join_next().await {
        if let Ok(o) = r {
            out.push(o);
        }
    }
    out
}

/// The `q`-quantile (0..=1) of `xs` in milliseconds (nearest rank); 0 when empty.
pub fn quantile_ms(xs: &[Duration], q: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v: Vec<f64> = xs.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    v.sort_by(f64::total_cmp);
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}
