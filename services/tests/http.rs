//! The registry and verifier services over real HTTP on loopback, with real proofs of a
//! small eligibility circuit (4 slots × depth 8) and a SQLite store in a temporary directory.

use ark_std::rand::{rngs::StdRng, SeedableRng};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::OnceLock;
use zkcredit_circuits::eligibility::{EligibilityParams, Policy};
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::scenario::{eligible_applicant, example_policy, Borrower, Layout, World};
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::Prover;
use zkcredit_services::registry::{unix_now, RegistryService};
use zkcredit_services::server::{spawn, Running};
use zkcredit_services::verifier::{VerifierConfig, VerifierService};
use zkcredit_verifier::snarkjs::{public_to_json, ProofJson};

const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };
const ADMIN: &str = "admin-token-0123456789abcdef";

fn prover() -> &'static Prover {
    static PR: OnceLock<Prover> = OnceLock::new();
    PR.get_or_init(|| CircuitId::Eligibility(P).insecure_dev_prover().unwrap())
}

fn token(slot: usize) -> String {
    format!("provider-token-for-slot-{slot:02}")
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

struct Env {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    registry: Running,
    verifier: Running,
    world: World,
    borrower: Borrower,
    http: reqwest::Client,
}

fn layout() -> Layout {
    Layout {
        fraud_lists: 1,
        lenders: 1,
        bureaus: 1,
    }
}

async fn start_verifier(dir: &std::path::Path, registry_url: String) -> Running {
    let cfg = VerifierConfig {
        verifier_id: [7u8; 32],
        registry_url,
        root_window: 3600,
        max_skew: 300,
        max_ttl: 3600,
        policies: Vec::new(),
    };
    let svc = VerifierService::open(dir, &prover().pk().vk, cfg).unwrap();
    spawn(svc.router(), local()).await.unwrap()
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let now = unix_now();
    let mut rng = StdRng::seed_from_u64(now);
    let (mut world, borrower, _) = eligible_applicant(P, layout(), &mut rng, 10, now).unwrap();
    world.publish(now - 10).unwrap();
    let registry = spawn(
        RegistryService::open(&path.join("registry"), P.slots, ADMIN)
            .unwrap()
            .router(),
        local(),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    zkcredit_services::registry::client::mirror(
        &http,
        &registry.url(),
        ADMIN,
        &world.registry,
        token,
    )
    .await
    .unwrap();
    let view: Value = http
        .get(format!("{}/v1/registry", registry.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        view["root"],
        fr_to_dec(&world.registry.root()),
        "service root equals the native registry root"
    );
    let verifier = start_verifier(&path.join("verifier"), registry.url()).await;
    Env {
        _dir: dir,
        dir: path,
        registry,
        verifier,
        world,
        borrower,
        http,
    }
}

impl Env {
    async fn request(&self, policy: Policy, scope: u64, ttl: u64) -> Value {
        let r = self
            .http
            .post(format!("{}/v1/requests", self.verifier.url()))
            .json(&json!({"policy": policy, "scope": scope.to_string(), "ttl_seconds": ttl}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// A submission answering `req`, proving `policy` at time `now`.
    fn submission(&self, req: &Value, policy: Policy, now: u64) -> Value {
        let scope = fr_from_dec(req["scope"].as_str().unwrap()).unwrap();
        let context = fr_from_dec(req["context"].as_str().unwrap()).unwrap();
        let w = self
            .world
            .witness(&self.borrower, policy, now, scope, context)
            .unwrap();
        let (proof, public) = zkcredit_prover::prove_eligibility(prover(), P, w).unwrap();
        json!({"proof": ProofJson::from_proof(&proof), "public_signals": public_to_json(&public.to_vec())})
    }

    async fn verify(&self, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/v1/verify", self.verifier.url()))
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_then_replay_is_refused() {
    let e = env().await;
    let req = e.request(example_policy(), 1, 600).await;
    let sub = e.submission(&req, example_policy(), unix_now());
    let (s, v) = e.verify(&sub).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["accepted"], true);
    let (s, v) = e.verify(&sub).await;
    assert_eq!((s, code(&v)), (409, "nullifier_reused"), "{v}");
    // The same person under another request of the same scope: refused by the nullifier.
    let req2 = e.request(example_policy(), 1, 600).await;
    let (s, v) = e
        .verify(&e.submission(&req2, example_policy(), unix_now()))
        .await;
    assert_eq!((s, code(&v)), (409, "nullifier_reused"), "{v}");
    // Another scope: a new nullifier, accepted.
    let req3 = e.request(example_policy(), 2, 600).await;
    let (s, v) = e
        .verify(&e.submission(&req3, example_policy(), unix_now()))
        .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_has_its_own_error_code() {
    let mut e = env().await;
    let now = unix_now();
    // unknown_request: a context this verifier never issued.
    let mut fake = e.request(example_policy(), 3, 600).await;
    fake["context"] = json!("12345");
    let (s, v) = e.verify(&e.submission(&fake, example_policy(), now)).await;
    assert_eq!((s, code(&v)), (422, "unknown_request"), "{v}");
    // policy_mismatch: proof for a laxer policy than requested.
    let req = e.request(example_policy(), 3, 600).await;
    let mut lax = example_policy();
    lax.min_score = 100;
    let (s, v) = e.verify(&e.submission(&req, lax, now)).await;
    assert_eq!((s, code(&v)), (422, "policy_mismatch"), "{v}");
    assert_eq!(v["error"]["field"], "public_signals[1]");
    // now_out_of_skew.
    let (s, v) = e
        .verify(&e.submission(&req, example_policy(), now - 1000))
        .await;
    assert_eq!((s, code(&v)), (422, "now_out_of_skew"), "{v}");
    // invalid_proof: a valid proof's A and C swapped.
    let mut sub = e.submission(&req, example_policy(), now);
    let a = sub["proof"]["pi_a"].clone();
    sub["proof"]["pi_a"] = sub["proof"]["pi_c"].clone();
    sub["proof"]["pi_c"] = a;
    let (s, v) = e.verify(&sub).await;
    assert_eq!((s, code(&v)), (422, "invalid_proof"), "{v}");
    // request_expired.
    let short = e.request(example_policy(), 3, 1).await;
    let sub_short = e.submission(&short, example_policy(), now);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (s, v) = e.verify(&sub_short).await;
    assert_eq!((s, code(&v)), (422, "request_expired"), "{v}");
    // unknown_registry_root: a provider tree changed locally but never published.
    let b = e.borrower;
    let slot = e
        .world
        .providers
        .iter()
        .find(|p| p.role == Role::Lender)
        .unwrap()
        .slot;
    e.world
        .set_record(Role::Lender, 0, b.subject_key, [0, 0, 0])
        .unwrap();
    e.world.publish_slot(slot, unix_now() - 5).unwrap();
    let req2 = e.request(example_policy(), 3, 600).await;
    let (s, v) = e
        .verify(&e.submission(&req2, example_policy(), unix_now()))
        .await;
    assert_eq!((s, code(&v)), (422, "unknown_registry_root"), "{v}");
    // After all that, nothing was recorded: a fresh honest answer to `req` passes... once
    // the provider publishes its new root.
    let root = e.world.registry.slots()[slot];
    let r = e
        .http
        .post(format!("{}/v1/slots/{slot}/root", e.registry.url()))
        .bearer_auth(token(slot))
        .json(&json!({"provider_root": fr_to_dec(&root.provider_root), "published_at": root.published_at}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (s, v) = e
        .verify(&e.submission(&req, example_policy(), unix_now()))
        .await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_is_a_4xx_naming_the_problem_and_changes_nothing() {
    let e = env().await;
    let url = format!("{}/v1/verify", e.verifier.url());
    let req = e.request(example_policy(), 4, 600).await;
    let good = e.submission(&req, example_policy(), unix_now());
    let send_raw = |body: String, ct: &'static str| {
        let http = e.http.clone();
        let url = url.clone();
        async move {
            let r = http
                .post(url)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (s, t) = send_raw(good.to_string(), "text/plain").await;
    assert_eq!(s, 415, "{t}");
    let (s, t) = send_raw("{not json".into(), "application/json").await;
    assert_eq!(s, 400, "{t}");
    assert!(t.contains("malformed_json"), "{t}");
    let mut unknown = good.clone();
    unknown["extra"] = json!(1);
    let (s, t) = send_raw(unknown.to_string(), "application/json").await;
    assert_eq!(s, 422, "{t}");
    assert!(t.contains("extra"), "{t}");
    // Oversized: announced by Content-Length, refused before the body is read (a raw
    // request, so the client never races the server's early answer while writing the body).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut sock = tokio::net::TcpStream::connect(e.verifier.addr)
            .await
            .unwrap();
        let head = format!(
            "POST /v1/verify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            2 << 20
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        let mut buf = [0u8; 12];
        sock.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 413", "{}", String::from_utf8_lossy(&buf));
    }
    let mut big = good.clone();
    big["public_signals"][2] =
        json!("21888242871839275222246405745257275088548364400416034343698204186575808495617");
    let (s, v) = e.verify(&big).await;
    assert_eq!((s, code(&v)), (400, "bad_field"), "{v}");
    assert_eq!(v["error"]["field"], "public[2]");
    let mut off = good.clone();
    off["proof"]["pi_a"][1] = json!("5");
    let (s, v) = e.verify(&off).await;
    assert_eq!((s, code(&v)), (400, "bad_point"), "{v}");
    assert_eq!(v["error"]["field"], "pi_a");
    let mut short = good.clone();
    short["public_signals"].as_array_mut().unwrap().pop();
    let (s, v) = e.verify(&short).await;
    assert_eq!((s, code(&v)), (400, "bad_public_signals"), "{v}");
    // None of that changed state: the honest submission is accepted now.
    let (s, v) = e.verify(&good).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nullifiers_survive_a_restart_and_concurrent_duplicates_never_both_pass() {
    let mut e = env().await;
    let req = e.request(example_policy(), 5, 600).await;
    let sub = e.submission(&req, example_policy(), unix_now());
    // Eight concurrent submissions of one proof: exactly one is accepted.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (http, url, body) = (
            e.http.clone(),
            format!("{}/v1/verify", e.verifier.url()),
            sub.clone(),
        );
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 200 || *c == 409), "{codes:?}");
    // Restart the verifier on the same data directory: the nullifier is still there.
    let verifier = std::mem::replace(
        &mut e.verifier,
        start_verifier(&e.dir.join("verifier-tmp"), e.registry.url()).await,
    );
    verifier.stop().await.unwrap();
    let old = std::mem::replace(
        &mut e.verifier,
        start_verifier(&e.dir.join("verifier"), e.registry.url()).await,
    );
    old.stop().await.unwrap();
    let (s, v) = e.verify(&sub).await;
    assert_eq!((s, code(&v)), (409, "nullifier_reused"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_identifies_the_invalid_item() {
    let e = env().await;
    let mut items = Vec::new();
    for scope in 10..14u64 {
        let req = e.request(example_policy(), scope, 600).await;
        items.push(e.submission(&req, example_policy(), unix_now()));
    }
    items[2]["public_signals"][2] = json!((unix_now() + 1).to_string()); // tampered now
    let r = e
        .http
        .post(format!("{}/v1/verify/batch", e.verifier.url()))
        .json(&json!({"items": items}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let accepted: Vec<bool> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["accepted"].as_bool().unwrap())
        .collect();
    assert_eq!(accepted, vec![true, true, false, true], "{v}");
    assert_eq!(v[2]["code"], "invalid_proof");
    let r = e
        .http
        .post(format!("{}/v1/verify/batch", e.verifier.url()))
        .json(&json!({"items": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_updates_are_authenticated_and_monotonic() {
    let e = env().await;
    let url = format!("{}/v1/slots/1/root", e.registry.url());
    let body = json!({"provider_root": "5", "published_at": unix_now()});
    let r = e.http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = e
        .http
        .post(&url)
        .bearer_auth(token(2))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "another provider's token");
    let r = e
        .http
        .post(&url)
        .bearer_auth(token(1))
        .json(&json!({"provider_root": "5", "published_at": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "backwards in time");
    let r = e
        .http
        .post(&url)
        .bearer_auth(token(1))
        .json(&json!({"provider_root": "5", "published_at": unix_now() + 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "in the future");
    let r = e
        .http
        .post(format!("{}/v1/admin/providers", e.registry.url()))
        .bearer_auth("wrong-admin-token-xxxxxxxx")
        .json(&json!({"slot": 3, "role": "lender", "provider_id": "1", "token": token(3)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = e
        .http
        .post(format!("{}/v1/admin/providers", e.registry.url()))
        .bearer_auth(ADMIN)
        .json(&json!({"slot": 0, "role": "lender", "provider_id": "1", "token": token(3)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "slot 0 is the KYC issuer's");
    for path in ["/healthz", "/metrics", "/openapi.json"] {
        for svc in [&e.registry, &e.verifier] {
            let r = e
                .http
                .get(format!("{}{path}", svc.url()))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
        }
    }
    let metrics = e
        .http
        .get(format!("{}/metrics", e.registry.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("registry_publish_total{result=\"rejected\"}"),
        "{metrics}"
    );
}
