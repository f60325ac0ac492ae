//! Bounded load test of the verifier service on loopback (not part of the test suite):
//! N distinct valid proofs (one per applicant — the scope is the verifier's, so every
//! nullifier is fresh only for a different person) submitted by C concurrent clients; prints
//! throughput, p50/p99 latency and the error count. N ≤ 200 (the small circuit's trees).
//!
//! `cargo run --release -p zkcredit-testkit --example load -- [N=200] [C=16]`

use ark_std::rand::{rngs::StdRng, SeedableRng};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use zkcredit_api::client::{RegistryClient, VerifierClient};
use zkcredit_api::unix_now;
use zkcredit_api::verifier::{NewRequest, Submission};
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_circuits::field::fr_from_dec;
use zkcredit_circuits::registry::Role;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_services::registry::RegistryService;
use zkcredit_services::server::spawn;
use zkcredit_services::verifier::{
    lender_token_digest, ExpectedProvider, VerifierConfig, VerifierService,
    DEFAULT_MAX_OPEN_REQUESTS, DEFAULT_PERIOD_SECONDS,
};
use zkcredit_testkit::provider_signing_key;
use zkcredit_testkit::scenario::{
    eligible_applicant, example_policy, Borrower, Layout, EXAMPLE_MIN_KYC_AGE,
};

const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(200)
        .min(200);
    let clients: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let dir = tempfile::tempdir().unwrap();
    let local: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let admin = "load-test-admin-token-000000";
    let registry_svc = RegistryService::open(&dir.path().join("reg"), P.slots, admin).unwrap();
    let registry_key = registry_svc.public_key_hex();
    let registry = spawn(registry_svc.router(), local).await.unwrap();
    let prover = CircuitId::Eligibility(P).insecure_dev_prover().unwrap();
    let t = unix_now();
    let mut rng = StdRng::seed_from_u64(t);
    let (mut world, first, _) =
        eligible_applicant(P, Layout::for_slots(P.slots), &mut rng, 20, t).unwrap();
    let mut people = vec![first];
    while people.len() < n {
        let b = Borrower::random(&mut rng);
        world
            .register(&b, t - 2 * EXAMPLE_MIN_KYC_AGE, t + 365 * 86_400)
            .unwrap();
        world
            .set_record(Role::Bureau, 0, b.subject_key, [700, t - 86_400, 7])
            .unwrap();
        people.push(b);
    }
    world.publish(t - 5).unwrap();
    let lender = "load-test-lender-token-000000";
    let expected: Vec<_> = world
        .registry
        .slots()
        .iter()
        .enumerate()
        .filter(|(_, s)| s.role != Role::Empty)
        .map(|(i, s)| ExpectedProvider {
            role: s.role,
            provider_id: s.provider_id,
            key: provider_signing_key(i).verifying_key(),
        })
        .collect();
    let cfg = VerifierConfig {
        verifier_id: [9u8; 32],
        name: "load".into(),
        registry_url: registry.url(),
        registry_key: zkcredit_api::auth::parse_public_key("key", &registry_key).unwrap(),
        expected_slots: expected,
        root_window: 3600,
        max_skew: 3600,
        max_ttl: 7200,
        policies: vec![example_policy()],
        lender_token_sha256: lender_token_digest(lender),
        product: "load".into(),
        period_seconds: DEFAULT_PERIOD_SECONDS,
        insecure_dev_keys: true,
        max_open_requests: DEFAULT_MAX_OPEN_REQUESTS,
    };
    let verifier = spawn(
        VerifierService::open(&dir.path().join("ver"), &prover.pk().vk, cfg)
            .unwrap()
            .router(),
        local,
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let verifier_client = VerifierClient::new(http.clone(), verifier.url());

    RegistryClient::new(http.clone(), registry.url())
        .mirror(
            admin,
            &world.registry,
            |i| format!("load-test-provider-token-{i:04}"),
            provider_signing_key,
        )
        .await
        .unwrap();
    let mut reqs = Vec::with_capacity(n);
    for _ in 0..n {
        let body = NewRequest {
            policy: example_policy(),
            ttl_seconds: 7200,
        };
        reqs.push(verifier_client.create_request(lender, &body).await.unwrap());
    }
    eprintln!("proving {n} distinct proofs of eligibility_s4_d8 …");
    let tp = Instant::now();
    let now = unix_now();
    // Sequentially: each proof already uses every core (and rayon workers' small stacks
    // do not suit nested synthesis).
    let subs: Vec<Submission> = reqs
        .iter()
        .zip(&people)
        .map(|(r, borrower)| {
            let scope = fr_from_dec(&r.scope).unwrap();
            let context = fr_from_dec(&r.context).unwrap();
            let w = world
                .witness(borrower, example_policy(), now, scope, context)
                .unwrap();
            zkcredit_wallet::wallet::prove(&prover, P, &w).unwrap()
        })
        .collect();
    eprintln!("proved in {:.1} s", tp.elapsed().as_secs_f64());

    let queue = Arc::new(Mutex::new(subs));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (queue, lat, errors, client) = (
            queue.clone(),
            lat.clone(),
            errors.clone(),
            verifier_client.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                let Some(sub) = next else { break };
                let t = Instant::now();
                let r = client.verify(&sub).await;
                let ms = t.elapsed().as_secs_f64() * 1e3;
                match r {
                    Ok(_) => lat.lock().unwrap().push(ms),
                    Err(e) => errors.lock().unwrap().push(e.to_string()),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let mut l = lat.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let errs = errors.lock().unwrap().clone();
    println!(
        "{} verifications from {clients} concurrent clients in {secs:.2} s: {:.0} verifications/s, p50 {:.1} ms, p99 {:.1} ms, errors {}",
        l.len(),
        l.len() as f64 / secs,
        pct(0.50),
        pct(0.99),
        errs.len()
    );
    for e in errs.iter().take(5) {
        println!("  error: {e}");
    }
    verifier.stop().await.unwrap();
    registry.stop().await.unwrap();
}
