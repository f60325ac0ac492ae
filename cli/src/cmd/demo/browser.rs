//! Issue 17: the demo's wallet page. Hal, a new applicant, gets the local wallet app (the
//! one `zkcredit wallet serve` runs) and its link is printed; with `--stay` every service
//! stays up until Ctrl-C and the demo plays the KYC operator for Hal: it approves his
//! application, gives him a loan and a score at the providers, publishes, and prints a
//! lender request link to paste into the page.

use super::{open_request, CliError, DAY};
use std::path::Path;
use std::sync::Arc;
use zkcredit_api::issuer::Approve;
use zkcredit_api::unix_now;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_circuits::registry::Role;
use zkcredit_prover::fast::Prover;
use zkcredit_testkit::alliance::Alliance;
use zkcredit_testkit::scenario::live_policy;
use zkcredit_wallet::wallet;
use zkcredit_wallet_app::{AppConfig, KnownLender, ProveFn};

/// Starts Hal's wallet page and prints its link; with `stay`, serves until Ctrl-C.
/// `proof_seconds`: how long Ana's proof took (the page's first estimate).
pub(super) async fn hal(
    a: &Alliance,
    prover: &'static Prover,
    p: EligibilityParams,
    dir: &Path,
    stay: bool,
    proof_seconds: f64,
) -> Result<(), CliError> {
    let http = zkcredit_api::client::http_client();
    let hal_dir = dir.join("hal-wallet");
    let prove: ProveFn = Arc::new(move |w| wallet::prove(prover, p, w));
    let app = zkcredit_wallet_app::start(
        AppConfig {
            dir: hal_dir.clone(),
            issuer: a.issuer.url(),
            registry: a.registry.url(),
            lenders: vec![KnownLender {
                name: "Demo Lender".into(),
                verifier_id: hex::encode(a.verifier_id),
                url: a.verifier.url(),
            }],
            params: p,
            kdf: (
                zkcredit_wallet::keystore::DEFAULT_M_KIB,
                zkcredit_wallet::keystore::DEFAULT_T,
            ),
            port: 0,
            measured_proof_seconds: Arc::new(proof_seconds.into()),
        },
        prove,
    )
    .await
    .map_err(|e| CliError::Runtime(e.to_string()))?;
    println!("[wallet]  Hal's wallet as a web page (127.0.0.1 only; the link is its key):");
    println!("          {}", app.link());
    if !stay {
        println!("          (run `zkcredit demo --stay` to keep it and every service up, and click through)");
        return app.stop().await.map_err(CliError::runtime);
    }
    println!("          --stay: open the link, create a keystore and apply for KYC; this demo approves as the operator. Ctrl-C ends.");
    let issuer = a.issuer_client(&http);
    let verifier = a.verifier_client(&http);
    let mut approved = false;
    loop {
        tokio::select! {
            _ = super::super::shutdown_signal() => break,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
        if approved {
            continue;
        }
        let Some(pending) = wallet::pending_application(&hal_dir)? else {
            continue;
        };
        // The operator's queue names the person's identifier (the wallet knows only the
        // application id).
        let Some(id) = issuer
            .pending(&a.admin)
            .await?
            .into_iter()
            .find(|q| q.application_id == pending.application_id)
            .map(|q| q.id)
        else {
            continue;
        };
        issuer
            .approve(&a.admin, &pending.application_id, Approve::default())
            .await?;
        let now = unix_now();
        for (role, rec) in [
            (Role::Lender, [1, 80_000, 0]),
            (Role::Bureau, [701, now - DAY, 7]),
        ] {
            let pr = a
                .provider(role, 0)
                .ok_or_else(|| CliError::CheckFailed("no such provider".into()))?;
            let key = issuer.lookup(&pr.issuer_token, &id).await?.subject_key;
            pr.client(&http)
                .upsert(&a.admin, &key, rec.map(Into::into))
                .await?;
        }
        a.publish_all().await?;
        let req = open_request(&verifier, &a.lender_token, live_policy()).await?;
        println!("[operator] approved Hal's KYC ({id}); one loan of 80,000 and a score of 701 recorded; trees published");
        println!("          the lender's request link to paste into the page (valid 10 minutes):");
        println!("          {}/v1/requests/{}", a.verifier.url(), req.nonce);
        approved = true;
    }
    app.stop().await.map_err(CliError::runtime)
}
