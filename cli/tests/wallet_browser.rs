//! Issue 17: the local wallet app driven in a real browser (Debian's headless Chromium
//! through chromedriver) against real services of the alliance launcher and the real
//! `zkcredit wallet serve` process: create a keystore → apply for KYC → the operator
//! approves → open a lender's request → prove → accepted; a refused applicant sees the rule
//! in words; a wrong password; a request from an unknown verifier identity refused; the
//! wallet without its token refused. Screenshots of each step go to
//! `target/wallet-screenshots/`, or to `$ZKCREDIT_SCREENSHOTS` (`docs/img` to refresh the
//! README's).

mod common;

use fantoccini::{Client, ClientBuilder, Locator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use zkcredit_api::issuer::Approve;
use zkcredit_api::unix_now;
use zkcredit_api::verifier::NewRequest;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_circuits::registry::Role;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_testkit::alliance::Alliance;
use zkcredit_testkit::scenario::{live_policy, Layout};

/// The default circuit (16 slots × depth 32), so a proof takes long enough (about a second
/// or two here) for the live progress to be seen and photographed.
const P: EligibilityParams = EligibilityParams {
    slots: 16,
    depth: 32,
};
const DAY: u64 = 86_400;
const INSTALL: &str = "install Debian's Chromium and its WebDriver: `sudo apt-get install chromium chromium-driver` (or `bash scripts/install-chromium.sh`), or set ZKCREDIT_CHROMIUM and ZKCREDIT_CHROMEDRIVER to their paths";

/// Chromium and chromedriver, from the environment or Debian's paths; fails (never skips)
/// with how to install them.
fn browser_paths() -> (PathBuf, PathBuf) {
    let find = |var: &str, default: &str| {
        let p = std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default));
        assert!(p.exists(), "{} not found: {INSTALL}", p.display());
        p
    };
    (
        find("ZKCREDIT_CHROMIUM", "/usr/bin/chromium"),
        find("ZKCREDIT_CHROMEDRIVER", "/usr/bin/chromedriver"),
    )
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `zkcredit wallet serve` trusting `lenders` (`NAME=ID=URL`) and returns it with the
/// link it printed (waited for when the returned guard drops).
fn wallet_serve(cwd: &Path, dir: &str, a: &Alliance, lenders: &[String]) -> (Killed, String) {
    let (issuer, registry) = (a.issuer.url(), a.registry.url());
    let mut args = vec![
        "wallet",
        "serve",
        "--dir",
        dir,
        "--issuer",
        &issuer,
        "--registry",
        &registry,
        "--params",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../params"),
        "--cache",
        "cache",
        "--circuit",
        "eligibility_s16_d32",
    ];
    for l in lenders {
        args.extend(["--lender", l.as_str()]);
    }
    let (child, link, _) = common::spawn_until(cwd, &args, &[], |line| {
        line.starts_with("http://127.0.0.1:")
            .then(|| line.trim().to_string())
    });
    (Killed(child), link)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn browser(chromium: &Path, driver: &Path, profile: &Path) -> (Killed, Client) {
    let port = free_port();
    let drv = Killed(
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}: {INSTALL}", driver.display())),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start: {INSTALL}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1100,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("chromium did not start through chromedriver: {e}: {INSTALL}"));
    (drv, c)
}

/// Polls the page until the JavaScript expression `cond` is true.
async fn wait(c: &Client, cond: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let v = c
            .execute(&format!("return !!({cond});"), vec![])
            .await
            .unwrap();
        if v == serde_json::Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let body = page_text(c).await;
            panic!("timed out waiting for {what} ({cond}); the page shows:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn visible(id: &str) -> String {
    format!("!document.getElementById('{id}').hidden")
}

/// Everything the page shows.
async fn page_text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn text_of(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id)).await.unwrap().text().await.unwrap()
}

async fn type_into(c: &Client, id: &str, s: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(s).await.unwrap();
}

async fn click(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

fn shots_dir() -> PathBuf {
    let d = std::env::var_os("ZKCREDIT_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wallet-screenshots")
        });
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: not a PNG");
    std::fs::write(shots_dir().join(format!("{name}.png")), png).unwrap();
}

/// Creates the keystore, applies for KYC, has the operator approve (the test plays the
/// operator through the issuer's admin API), and records `records` for the person at the
/// providers, then publishes every tree.
async fn create_and_kyc(
    c: &Client,
    cwd: &Path,
    dir: &str,
    id: &str,
    a: &Alliance,
    records: &[(Role, [u64; 3])],
    shots: bool,
) {
    let http = reqwest::Client::new();
    wait(c, &visible("create-section"), "the create form").await;
    type_into(c, "new-password", "mumble kettle orbit 42").await;
    type_into(c, "new-password2", "mumble kettle orbit 42").await;
    let strength = text_of(c, "strength").await;
    assert!(strength.starts_with("Strength: strong"), "{strength}");
    // Regression: the footer's `display: flex` once overrode `hidden`, showing "Lock
    // wallet" before any wallet existed.
    let lock = c.find(Locator::Id("lock")).await.unwrap();
    assert!(
        !lock.is_displayed().await.unwrap(),
        "a lock button without a wallet"
    );
    if shots {
        shot(c, "wallet-1-create").await;
    }
    click(c, "create").await;
    wait(c, &visible("kyc-section"), "the KYC step").await;
    type_into(c, "kyc-id", id).await;
    click(c, "kyc-apply").await;
    wait(
        c,
        "document.getElementById('kyc-status').textContent.includes('Waiting')",
        "the pending KYC status",
    )
    .await;
    if shots {
        shot(c, "wallet-2-kyc-pending").await;
    }
    // The operator approves the application the wallet filed.
    let app: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cwd.join(dir).join("application.json")).unwrap())
            .unwrap();
    let app_id = app["application_id"].as_str().unwrap();
    a.issuer_client(&http)
        .approve(&a.admin, app_id, Approve::default())
        .await
        .unwrap();
    wait(
        c,
        "document.getElementById('kyc-status').textContent.includes('KYC-verified')",
        "the approval",
    )
    .await;
    wait(c, &visible("request-section"), "the request step").await;
    for (role, v) in records {
        let pr = a.provider(*role, 0).unwrap();
        let key = a
            .issuer_client(&http)
            .lookup(&pr.issuer_token, id)
            .await
            .unwrap()
            .subject_key;
        pr.client(&http)
            .upsert(&a.admin, &key, v.map(Into::into))
            .await
            .unwrap();
    }
    a.publish_all().await.unwrap();
}

/// The lender opens a request (its token, its policy); the borrower pastes its link.
async fn lenders_request(c: &Client, a: &Alliance) {
    let req = a
        .verifier_client(&reqwest::Client::new())
        .create_request(
            &a.lender_token,
            &NewRequest {
                policy: live_policy(),
                ttl_seconds: 600,
            },
        )
        .await
        .unwrap();
    open_request(
        c,
        &format!("{}/v1/requests/{}", a.verifier.url(), req.nonce),
    )
    .await;
    wait(c, &visible("request-card"), "the request card").await;
}

async fn open_request(c: &Client, url: &str) {
    type_into(c, "request-url", url).await;
    click(c, "open-request").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_page_in_chromium_end_to_end() {
    let (chromium, driver) = browser_paths();
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let vk = CircuitId::Eligibility(P)
        .insecure_dev_prover()
        .unwrap()
        .pk()
        .vk
        .clone();
    let a = Alliance::start(&cwd.join("alliance"), P, Layout::default(), &vk)
        .await
        .unwrap();
    let verifier_hex = hex::encode(a.verifier_id);
    let (other, other_token) = a
        .start_other_verifier(
            &cwd.join("other"),
            *b"an-unknown-lender-verifier-id-01",
            "unknown",
        )
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let new_request = || NewRequest {
        policy: live_policy(),
        ttl_seconds: 600,
    };

    // Ana trusts the demo lender, and — at the other verifier's address — a lender she was
    // told has the demo lender's identity: a request there names another identity.
    let lenders = [
        format!("Demo Lender={verifier_hex}={}", a.verifier.url()),
        format!("Other Bank={verifier_hex}={}", other.url()),
    ];
    let (_ana_app, link) = wallet_serve(cwd, "ana", &a, &lenders);
    let (_drv, c) = browser(&chromium, &driver, &cwd.join("profile")).await;

    // Without the token: refused, in the browser and for any other program.
    let base = link
        .trim_end_matches('/')
        .rsplit_once('/')
        .unwrap()
        .0
        .to_string();
    c.goto(&format!("{base}/")).await.unwrap();
    let body = page_text(&c).await;
    assert!(body.contains("missing_token"), "{body}");
    shot(&c, "wallet-0-no-token").await;
    let r = http.get(format!("{base}/api/state")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);

    // Ana: keystore, KYC, approval; one loan and a good score.
    c.goto(&link).await.unwrap();
    create_and_kyc(
        &c,
        cwd,
        "ana",
        "BROWSER-ANA-1",
        &a,
        &[
            (Role::Lender, [1, 120_000, 5]),
            (Role::Bureau, [712, unix_now() - DAY, 7]),
        ],
        true,
    )
    .await;
    shot(&c, "wallet-3-kyc-approved").await;

    // A wrong password is refused in words; the right one unlocks.
    click(&c, "lock").await;
    wait(&c, &visible("unlock-section"), "the unlock form").await;
    type_into(&c, "password", "not my password at all").await;
    click(&c, "unlock").await;
    wait(&c, &visible("error"), "the wrong-password message").await;
    let err = text_of(&c, "error").await;
    assert!(err.contains("does not open this wallet"), "{err}");
    shot(&c, "wallet-4-wrong-password").await;
    // Enter in the field unlocks, as the button does.
    type_into(&c, "password", "mumble kettle orbit 42\u{E007}").await;
    wait(&c, &visible("request-section"), "the unlocked wallet").await;

    // A link at an address of no trusted lender: refused before anything is fetched.
    open_request(&c, "http://127.0.0.1:9/v1/requests/00ff").await;
    wait(&c, &visible("error"), "the unknown-lender refusal").await;
    let err = text_of(&c, "error").await;
    assert!(err.contains("not at a lender this wallet knows"), "{err}");
    // A request from a verifier this wallet does not know: refused before gathering.
    let foreign = zkcredit_api::client::VerifierClient::new(http.clone(), other.url())
        .create_request(&other_token, &new_request())
        .await
        .unwrap();
    open_request(
        &c,
        &format!("{}/v1/requests/{}", other.url(), foreign.nonce),
    )
    .await;
    wait(&c, &visible("error"), "the unknown-verifier refusal").await;
    let err = text_of(&c, "error").await;
    assert!(err.contains("does not know"), "{err}");
    assert!(
        err.contains(&hex::encode(b"an-unknown-lender-verifier-id-01")),
        "{err}"
    );
    shot(&c, "wallet-5-unknown-verifier").await;

    // The lender's own request: who asks, the policy in words, what it learns.
    lenders_request(&c, &a).await;
    assert_eq!(text_of(&c, "lender-name").await, "Demo Lender");
    assert_eq!(text_of(&c, "lender-id").await, verifier_hex);
    let policy = text_of(&c, "policy").await;
    for needle in [
        "fewer than 3 active loans across all lenders",
        "you owe at most 500,000 in total across all lenders",
        "no arrears over 30 days",
        "a credit score of at least 650, issued within the last 90 days",
    ] {
        assert!(policy.contains(needle), "{needle}: {policy}");
    }
    assert!(text_of(&c, "not-learns").await.contains("credit score"));
    shot(&c, "wallet-6-request").await;

    // Prove (live progress), then send.
    click(&c, "prove").await;
    wait(&c, &visible("progress-section"), "the progress bar").await;
    // Live: the stage and the bar move while the proof is made on this machine.
    wait(
        &c,
        "document.getElementById('progress-stage').textContent.includes('proving') && \
         !document.getElementById('progress').hidden",
        "the proving stage",
    )
    .await;
    shot(&c, "wallet-7a-proving").await;
    wait(&c, &visible("ready"), "the proof").await;
    shot(&c, "wallet-7-proof-ready").await;
    click(&c, "submit").await;
    wait(&c, &visible("decision"), "the lender's decision").await;
    let d = text_of(&c, "decision").await;
    assert!(d.contains("accepted your application"), "{d}");
    wait(&c, &visible("history-section"), "the history").await;
    assert!(text_of(&c, "history").await.contains("accepted"));
    shot(&c, "wallet-8-accepted").await;
    let hist = std::fs::read_to_string(cwd.join("ana/history.json")).unwrap();
    assert!(
        hist.contains("\"accepted\"") && hist.contains("Demo Lender"),
        "{hist}"
    );
    assert!(!hist.contains("holder_secret"), "{hist}");

    // Ben: score 610 against a minimum of 650. His wallet finds no proof can exist, says
    // why in words, and proves and sends nothing.
    let (_ben_app, ben_link) = wallet_serve(cwd, "ben", &a, &lenders[..1]);
    c.goto(&ben_link).await.unwrap();
    create_and_kyc(
        &c,
        cwd,
        "ben",
        "BROWSER-BEN-2",
        &a,
        &[(Role::Bureau, [610, unix_now() - DAY, 7])],
        false,
    )
    .await;
    lenders_request(&c, &a).await;
    click(&c, "prove").await;
    wait(&c, &visible("no-proof"), "the refusal").await;
    let why = text_of(&c, "no-proof-reason").await;
    assert!(
        why.contains("Your credit score is 610; this lender asks for at least 650"),
        "{why}"
    );
    assert!(
        text_of(&c, "ready").await.is_empty()
            || !c
                .find(Locator::Id("ready"))
                .await
                .unwrap()
                .is_displayed()
                .await
                .unwrap()
    );
    assert!(text_of(&c, "no-proof-rule").await.contains("bureau_score"));
    shot(&c, "wallet-9-refused-rule").await;
    let hist = std::fs::read_to_string(cwd.join("ben/history.json")).unwrap();
    assert!(hist.contains("not_sent") && hist.contains("610"), "{hist}");

    c.close().await.unwrap();
    other.stop().await.unwrap();
    a.stop().await.unwrap();
}
