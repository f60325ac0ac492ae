//! `zkcredit demo`: the whole story over HTTP on loopback (spec §8). Every role runs as a
//! real service in-process (axum on 127.0.0.1, SQLite stores in a temporary directory):
//! registry, KYC issuer, two fraud lists, three lenders, one bureau, the lender's verifier.
//! Synthetic customers are bulk-imported; applicants register with their wallets, providers
//! look them up at the issuer and record their loans, listings and scores, everyone
//! publishes; each applicant's wallet gathers its witnesses with signed requests, proves,
//! and applies. Then the eligible applicant borrows from the `LendingPool` in revm.

mod browser;
mod people;
mod refusals;

use super::halo2::ProofSystem;
use super::{load_prover, secs, CliError};
use ark_std::rand::{rngs::StdRng, Rng, SeedableRng};
use people::{applicants, policy_line, Expect};
use refusals::narrowed_registry;
use std::path::Path;
use std::time::Instant;
use zkcredit_api::client::RegistryClient;
use zkcredit_api::issuer::Approve;
use zkcredit_api::registry::RegistryView;
use zkcredit_api::unix_now;
use zkcredit_api::verifier::{NewRequest, ProofRequest, Submission};
use zkcredit_circuits::eligibility::{EligibilityParams, EligibilityWitness, Policy, PI_NULLIFIER};
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::registry::{Registry, Role};
use zkcredit_circuits::subject::truncate_248;
use zkcredit_circuits::Fr;
use zkcredit_halo2::system::Halo2Prover;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_prover::fast::Prover;
use zkcredit_testkit::alliance::Alliance;
use zkcredit_testkit::scenario::{live_model_policy, Layout};
use zkcredit_wallet::wallet;
use zkcredit_wallet::{Decision, Wallet, WalletError};

const DAY: u64 = 86_400;
const SYNTHETIC: usize = 1_000;

fn broken(e: impl std::fmt::Display) -> CliError {
    CliError::CheckFailed(e.to_string())
}

/// Synthetic customers: random subject keys, KYC'd, on some providers' books.
async fn seed(
    a: &Alliance,
    http: &reqwest::Client,
    now: u64,
    rng: &mut StdRng,
) -> Result<(), CliError> {
    let keys: Vec<Fr> = (0..SYNTHETIC)
        .map(|_| truncate_248(&(Fr::from(rng.gen::<u128>()) * Fr::from(rng.gen::<u128>()))))
        .collect();
    let mut kyc = String::from("subject_key,v0,v1,v2\n");
    for k in &keys {
        kyc.push_str(&format!(
            "{},{},{},{}\n",
            fr_to_dec(k),
            rng.gen::<u64>(),
            now - 200 * DAY,
            now + 165 * DAY
        ));
    }
    let t = Instant::now();
    let r = zkcredit_api::client::ProviderClient::new(http.clone(), a.issuer.url())
        .import_csv(&a.admin, kyc, true)
        .await?;
    let mut total = r.upserts;
    for p in &a.providers {
        let mut csv = String::new();
        for k in &keys {
            let row = match p.role {
                Role::FraudList if rng.gen_bool(0.03) => {
                    Some([rng.gen_range(1..9), now - rng.gen_range(1..900) * DAY, 0])
                }
                Role::Lender if rng.gen_bool(0.4) => Some([
                    rng.gen_range(0..3),
                    rng.gen_range(0..400_000),
                    rng.gen_range(0..60),
                ]),
                Role::Bureau if rng.gen_bool(0.8) => Some([
                    rng.gen_range(300..850),
                    now - rng.gen_range(1..200) * DAY,
                    7,
                ]),
                _ => None,
            };
            if let Some(v) = row {
                csv.push_str(&format!("{},{},{},{}\n", fr_to_dec(k), v[0], v[1], v[2]));
            }
        }
        let r = p.client(http).import_csv(&a.admin, csv, true).await?;
        total += r.upserts;
    }
    println!(
        "[seed]    {SYNTHETIC} synthetic customers: {total} rows bulk-imported as CSV over HTTP into 7 trees and published ({})",
        secs(t)
    );
    Ok(())
}

fn registry_from_view(v: &RegistryView, slots: usize) -> Result<Registry, CliError> {
    let mut r = Registry::new(slots).map_err(broken)?;
    for s in &v.slots {
        r.set(s.slot, s.value).map_err(broken)?;
    }
    Ok(r)
}

/// The wallet proves with Groth16, or with halo2 when the demo runs `--system halo2`.
async fn prove_blocking(
    prover: &'static Prover,
    halo2: Option<&'static Halo2Prover>,
    p: EligibilityParams,
    w: EligibilityWitness,
) -> Result<Submission, WalletError> {
    tokio::task::spawn_blocking(move || match halo2 {
        None => wallet::prove(prover, p, &w),
        Some(h) => wallet::prove_halo2(h, p, &w),
    })
    .await
    .map_err(|e| WalletError::Prove(e.to_string()))?
}

/// Opens a 10-minute proof request for `policy` with bearer `token` (the lender's, or a guess).
async fn open_request(
    verifier: &zkcredit_api::client::VerifierClient,
    token: &str,
    policy: Policy,
) -> Result<zkcredit_api::verifier::ProofRequest, zkcredit_api::client::ClientError> {
    let body = NewRequest {
        policy,
        ttl_seconds: 600,
    };
    verifier.create_request(token, &body).await
}

/// `zkcredit demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where verifying keys live (default: `ZKCREDIT_PARAMS`, else `./params`, else next to
    /// the installed binary).
    #[arg(long, env = "ZKCREDIT_PARAMS")]
    pub params: Option<std::path::PathBuf>,
    /// Where proving keys are cached (default: `<params>/cache`).
    #[arg(long)]
    pub cache: Option<std::path::PathBuf>,
    /// After the story, keep every service and Hal's wallet page up until Ctrl-C, acting as
    /// the KYC operator, so a person can click through the wallet at the printed link.
    #[arg(long)]
    pub stay: bool,
    /// The proof system of the off-chain journey (wallet proves, lender API verifies):
    /// `halo2` proves with halo2-KZG (SPEC §11; development powers of tau, keys cached in
    /// `<cache>/halo2`); the on-chain loan is always Groth16's.
    #[arg(long, value_enum, default_value = "groth16")]
    pub system: super::halo2::ProofSystem,
}

/// Runs the demo.
pub fn demo(a: DemoArgs) -> Result<(), CliError> {
    let id = CircuitId::default_eligibility();
    let params = super::resolve_params(a.params, &id.name())?;
    let cache = a.cache.unwrap_or_else(|| params.join("cache"));
    let (params, cache) = (params.as_path(), cache.as_path());
    let CircuitId::Eligibility(p) = id else {
        return Err(CliError::Usage(
            "default circuit is not an eligibility circuit".into(),
        ));
    };
    println!(
        "zkcredit demo — circuit {} ({} constraints); every role a real HTTP service on 127.0.0.1",
        id.name(),
        zkcredit_circuits::costs::ELIGIBILITY_S16_D32
    );
    let t = Instant::now();
    let prover: &'static Prover = Box::leak(Box::new(load_prover(&id, params, cache)?));
    println!(
        "[keys]    INSECURE development proving key ready ({}); vk sha256 {}",
        secs(t),
        zkcredit_verifier::keys::vk_digest(&prover.pk().vk)
    );
    if super::check_vk(&id.name(), &prover.pk().vk, true, "demo")? {
        println!("[keys]    --insecure-dev-keys: the demo runs the forgeable development keys on purpose (its verifier reports insecure_dev_keys at /healthz); `verifier serve` and `gen-contracts` refuse them without this flag");
    }
    let halo2: Option<&'static Halo2Prover> = match a.system {
        ProofSystem::Groth16 => None,
        ProofSystem::Halo2 => {
            let t = Instant::now();
            let h = super::halo2::load_prover(p, None, cache)?;
            println!(
                "[keys]    --system halo2: INSECURE development halo2 key ready ({}; 2^{} rows); vk sha256 {}; the wallets prove with halo2 and the lender's verifier accepts halo2-kzg",
                secs(t),
                h.k(),
                h.vk.digest()
            );
            Some(Box::leak(Box::new(h)))
        }
    };
    let dir = tempfile::Builder::new()
        .prefix("zkcredit-demo-")
        .tempdir()
        .map_err(CliError::runtime)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::runtime)?;
    let result = rt.block_on(story(prover, halo2, p, dir.path(), a.stay));
    drop(rt);
    result
}

async fn story(
    prover: &'static Prover,
    halo2: Option<&'static Halo2Prover>,
    p: EligibilityParams,
    dir: &Path,
    stay: bool,
) -> Result<(), CliError> {
    let http = zkcredit_api::client::http_client();
    let now = unix_now();
    let mut rng = StdRng::seed_from_u64(now);
    let t = Instant::now();
    let a = match halo2 {
        None => Alliance::start(dir, p, Layout::default(), &prover.pk().vk).await?,
        Some(h) => {
            Alliance::start_with_halo2(dir, p, Layout::default(), &prover.pk().vk, &h.vk).await?
        }
    };
    let (issuer, registry, verifier) = (
        a.issuer_client(&http),
        a.registry_client(&http),
        a.verifier_client(&http),
    );
    println!(
        "[start]   services up in {} (stores under {}):",
        secs(t),
        dir.display()
    );
    println!("          registry   {}", a.registry.url());
    println!(
        "          issuer     {}   (slot 0, KYC stand-in: operator approval)",
        a.issuer.url()
    );
    for pr in &a.providers {
        println!(
            "          {:<10} {}   (slot {})",
            format!("{:?}", pr.role).to_lowercase(),
            pr.server.url(),
            pr.slot
        );
    }
    println!(
        "          verifier   {}   (the lender's API)",
        a.verifier.url()
    );
    seed(&a, &http, now, &mut rng).await?;

    // KYC: every applicant's wallet applies; the operator approves.
    let t = Instant::now();
    let people = applicants(now);
    let mut wallets = Vec::new();
    let ana_dir = dir.join("ana-wallet");
    for (i, ap) in people.iter().enumerate() {
        let mut w = if i == 0 {
            // Ana's wallet lives in an encrypted keystore on disk, like `zkcredit wallet init`.
            Wallet::create(
                &ana_dir,
                "demo password, not a secret",
                zkcredit_wallet::keystore::DEFAULT_M_KIB,
                zkcredit_wallet::keystore::DEFAULT_T,
            )?
        } else {
            Wallet::generate()
        };
        let app = w.register(&issuer, ap.id).await?;
        let v = issuer
            .approve(&a.admin, &app.application_id, Approve::default())
            .await?;
        let att = v
            .attestation
            .ok_or_else(|| broken("approved without attestation"))?;
        if i == 0 {
            w.save_attestation(&ana_dir, att)?;
            w = Wallet::open(&ana_dir, "demo password, not a secret")?;
        } else {
            w.set_attestation(att)?;
        }
        wallets.push(w);
    }
    match Wallet::open(&ana_dir, "wrong password") {
        Err(WalletError::Keystore(_)) => {}
        _ => return Err(broken("the keystore opened with a wrong password")),
    }
    println!(
        "[kyc]     {} applicants applied from their wallets; operator approved; ed25519 attestations stored ({}; Ana's keystore: argon2id + XChaCha20-Poly1305, wrong password refused)",
        people.len(),
        secs(t)
    );

    // Providers learn subject keys from the issuer (authenticated) and record.
    let t = Instant::now();
    let mut n = 0;
    for ap in &people {
        for (role, nth, v) in &ap.records {
            let pr = a
                .provider(*role, *nth)
                .ok_or_else(|| broken("no such provider"))?;
            let key = issuer.lookup(&pr.issuer_token, ap.id).await?.subject_key;
            pr.client(&http)
                .upsert(&a.admin, &key, v.map(Into::into))
                .await?;
            n += 1;
        }
    }
    a.publish_all().await?;
    let view = registry.view().await?;
    println!(
        "[publish] {n} records set after authenticated subject-key lookups at the issuer; 7 trees published; registry root {}… ({})",
        &view.root[..16.min(view.root.len())],
        secs(t)
    );

    let policy = live_model_policy();
    println!("[policy]  {}", policy_line(&policy));
    // Only the lender opens requests, in the scope its configuration fixes.
    let own = open_request(&verifier, "a-borrower-guessing-a-token", policy).await;
    let own_refused = matches!(&own, Err(e) if e.status() == Some(401));
    println!(
        "[lender]  a borrower opens their own request (to pick a fresh scope): {} — only the lender's token opens requests; the scope is fixed per product and period",
        if own_refused { "REFUSED 401 unauthorized" } else { "ACCEPTED (BUG)" }
    );
    println!();
    println!(
        "  {:<46} {:<9} {:>8} {:>8} {:>9}  reason",
        "applicant", "decision", "gather", "prove", "verify"
    );
    let mut ok = own_refused;
    let mut ana_submission = None;
    let mut ana_seconds = 0.0;
    let pinned = verifier.info().await?.verifier_id;
    for (ap, w) in people.iter().zip(&wallets) {
        let req = open_request(&verifier, &a.lender_token, policy).await?;
        // The wallet checks the request comes from the lender it pins, before anything else.
        wallet::check_request_verifier(&req, &pinned)?;
        let t = Instant::now();
        let witness = w.gather(&registry, &req, unix_now(), |_, _| {}).await?;
        let gather = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let proved = prove_blocking(prover, halo2, p, witness).await;
        let prove = t.elapsed().as_secs_f64();
        let (decision, verify, reason) = match proved {
            Ok(sub) => {
                // A forged nullifier (to apply twice) first: the proof check refuses it.
                let mut forged = sub.clone();
                forged.public_signals[PI_NULLIFIER] = "12345".into();
                let f = wallet::apply(&verifier, &forged).await?;
                let t = Instant::now();
                let d = wallet::apply(&verifier, &sub).await?;
                let verify = t.elapsed().as_secs_f64();
                if !matches!(&f, Decision::Refused { code, .. } if code == "invalid_proof") {
                    ok = false;
                }
                ana_submission = Some(sub);
                ana_seconds = prove;
                match d {
                    Decision::Accepted(acc) => (
                        "ACCEPTED",
                        Some(verify),
                        format!(
                            "nullifier {}… recorded",
                            &acc.nullifier[..12.min(acc.nullifier.len())]
                        ),
                    ),
                    Decision::Refused { code, message } => (
                        "REFUSED",
                        Some(verify),
                        format!("lender: {code}: {message}"),
                    ),
                }
            }
            Err(WalletError::CannotProve(m)) => {
                ("REFUSED", None, format!("wallet: no proof exists — {m}"))
            }
            Err(e) => return Err(e.into()),
        };
        let as_expected = match ap.expect {
            Expect::Accepted => decision == "ACCEPTED",
            Expect::NoProof(rule) => decision == "REFUSED" && reason.contains(rule),
        };
        ok &= as_expected;
        println!(
            "  {:<46} {:<9} {:>6.0}ms {:>7.2}s {:>9}  {}{}",
            ap.name,
            decision,
            gather * 1e3,
            prove,
            verify
                .map(|v| format!("{:.1}ms", v * 1e3))
                .unwrap_or_else(|| "—".into()),
            reason,
            if as_expected { "" } else { "   <-- UNEXPECTED" }
        );
    }
    let sub: Submission =
        ana_submission.ok_or_else(|| CliError::CheckFailed("Ana produced no proof".into()))?;
    let t = Instant::now();
    let replay = wallet::apply(&verifier, &sub).await?;
    let replay_ok = matches!(&replay, Decision::Refused { code, .. } if code == "request_already_used" || code == "nullifier_reused" || code == "already_accepted");
    ok &= replay_ok;
    let reason = match &replay {
        Decision::Refused { code, message } => format!("lender: {code}: {message}"),
        Decision::Accepted(_) => "ACCEPTED TWICE".into(),
    };
    println!(
        "  {:<46} {:<9} {:>8} {:>8} {:>7.1}ms  {}",
        "Ana   replays her accepted proof",
        if replay_ok { "REFUSED" } else { "ACCEPTED" },
        "—",
        "—",
        t.elapsed().as_secs_f64() * 1e3,
        reason
    );
    println!("  (also refused before Ana's acceptance: her proof with a forged nullifier → invalid_proof)");
    println!();

    // Journey 3: Ana borrows on chain.
    let view = registry.view().await?;
    let mirror = registry_from_view(&view, p.slots)?;
    ok &= onchain(prover, p, &mirror, &wallets[0], &registry, policy).await?;
    // Before the registry is narrowed below: Hal's wallet page proves against this alliance.
    browser::hal(&a, prover, p, dir, stay, ana_seconds).await?;
    ok &= narrowed_registry(&a, &registry, &verifier, &sub, policy).await?;

    a.stop().await.map_err(CliError::runtime)?;
    if !ok {
        return Err(CliError::CheckFailed(
            "a decision differed from the expected one (marked above)".into(),
        ));
    }
    println!("demo finished: every decision as expected (1 accepted off chain + 1 loan on chain; 7 applicants refused by their own wallets, each for its rule (one by the default-probability model); replay, forged nullifier, a borrower-opened request, a narrowed registry, front-running and a second new loan in the period at another pool refused)");
    Ok(())
}

/// The wallet picks its origination index asking the chain's `OriginationRegistry`
/// (SPEC §6.10).
async fn choose_on_chain(
    d: &mut zkcredit_evm::pool::Deployment,
    w: &mut EligibilityWitness,
) -> Result<(), WalletError> {
    zkcredit_wallet::origination::choose(w, |tag| {
        let used = d
            .origination_tag_used(&tag)
            .map_err(|e| WalletError::Io(e.to_string()));
        async move { used }
    })
    .await
}

async fn onchain(
    prover: &'static Prover,
    p: EligibilityParams,
    registry: &Registry,
    ana: &Wallet,
    registry_client: &RegistryClient,
    policy: Policy,
) -> Result<bool, CliError> {
    use zkcredit_evm::pool::{account, Deployment, PoolConfig};
    let wei = |eth: u64| {
        alloy_primitives::U256::from(eth)
            * alloy_primitives::U256::from(10u64).pow(alloy_primitives::U256::from(18u64))
    };
    let now = unix_now();
    // On chain the lenders check the alliance's new-loan limit (SPEC §6.10): one new loan per
    // 30-day period across every pool built with the OriginationRegistry.
    let policy = Policy {
        max_new_loans: 1,
        ..policy
    };
    let cfg = PoolConfig {
        policy_hash: policy.hash(),
        scope: Fr::from(0xc4a1u64),
        max_skew: 300,
        history_window: 3600,
        liquidity: wei(100),
        max_loan: wei(5),
        period_limit: wei(20),
        period_seconds: 86_400,
        limits_new_loans: true,
        // The committed verifier is generated from the development key (demo and tests).
        insecure_dev_keys: true,
    };
    let t = Instant::now();
    let mut d = Deployment::new(now, registry, cfg)?;
    println!(
        "[chain]   revm: ProviderRegistry ({} gas), OriginationRegistry ({} gas) and LendingPool ({} gas) deployed; the 7 slots mirrored from the registry service ({})",
        d.gas.registry,
        d.gas.originations,
        d.gas.pool,
        secs(t)
    );
    println!("[policy]  on chain: {}", policy_line(&policy));
    let me = account(0xb0);
    let amount = wei(2);
    let ctx = d.context(me, amount);
    let req = ProofRequest {
        nonce: String::new(),
        verifier_id: String::new(),
        expiry: 0,
        context: fr_to_dec(&ctx),
        policy,
        policy_hash: fr_to_dec(&policy.hash()),
        scope: fr_to_dec(&cfg.scope),
        product: String::new(),
        period: 0,
    };
    let mut w = ana.gather(registry_client, &req, now, |_, _| {}).await?;
    // The wallet asks the chain which of its tags of this period are used (none yet).
    choose_on_chain(&mut d, &mut w).await?;
    let t = Instant::now();
    let witness = w.clone();
    let (proof, public) =
        tokio::task::spawn_blocking(move || zkcredit_prover::prove_eligibility(prover, p, witness))
            .await
            .map_err(CliError::runtime)??;
    println!(
        "[wallet]  Ana's proof bound to (chain id, pool, msg.sender, 2 ETH) in {}",
        secs(t)
    );
    let thief = account(0x7717);
    let o = d.borrow(thief, amount, &proof, &public)?;
    let mut ok = !o.success;
    println!(
        "[chain]   a front-runner submits Ana's proof: {}",
        if o.success {
            "ACCEPTED (BUG)"
        } else {
            "REVERTED (context bound to Ana's address)"
        }
    );
    let before = d.chain.balance(me);
    let o = d.borrow(me, amount, &proof, &public)?;
    ok &= o.success;
    println!(
        "[chain]   Ana borrow(2 ETH): {} — {} gas; she received {} wei",
        if o.success { "ACCEPTED" } else { "REVERTED" },
        o.gas_used,
        d.chain.balance(me) - before
    );
    let o = d.borrow(me, amount, &proof, &public)?;
    ok &= !o.success;
    println!(
        "[chain]   the same proof again: {}",
        if o.success {
            "ACCEPTED (BUG)"
        } else {
            "REVERTED (nullifier already used)"
        }
    );
    // A second lender's pool on the same registries, minutes later: Ana's one new loan of
    // this period is taken. Her wallet says so before proving; a proof with her used tag
    // (what a wallet ignoring the answer would send) is reverted by the registry.
    let second = d.add_pool(&PoolConfig {
        scope: Fr::from(0xc4a2u64),
        ..cfg
    })?;
    let req2 = ProofRequest {
        context: fr_to_dec(&d.context_at(second, me, amount)),
        scope: fr_to_dec(&Fr::from(0xc4a2u64)),
        ..req
    };
    let mut w2 = ana.gather(registry_client, &req2, now, |_, _| {}).await?;
    let asked = choose_on_chain(&mut d, &mut w2).await;
    let said = matches!(&asked, Err(WalletError::NewLoanLimitReached { .. }));
    ok &= said;
    println!(
        "[wallet]  Ana at a second lender's pool: {}",
        match &asked {
            Err(e @ WalletError::NewLoanLimitReached { .. }) => e.to_string(),
            _ => "a tag was still free (BUG)".into(),
        }
    );
    let (proof2, public2) =
        tokio::task::spawn_blocking(move || zkcredit_prover::prove_eligibility(prover, p, w2))
            .await
            .map_err(CliError::runtime)??;
    let o = d.borrow_at(second, me, amount, &proof2, &public2)?;
    ok &= !o.success && public2.origination_tag == public.origination_tag;
    println!(
        "[chain]   the second pool given a proof with her used tag: {}",
        if o.success {
            "ACCEPTED (BUG)"
        } else {
            "REVERTED (OriginationRegistry: TagUsed — one new loan per 30-day period across lenders)"
        }
    );
    Ok(ok)
}
