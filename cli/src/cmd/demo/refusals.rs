//! The demo's refusals of issue 10 that need a changed alliance: a registry root whose slot
//! set the lender does not expect.

use super::CliError;
use zkcredit_api::client::{RegistryClient, VerifierClient};
use zkcredit_api::verifier::Submission;
use zkcredit_circuits::eligibility::{Policy, PI_CONTEXT, PI_REGISTRY_ROOT};
use zkcredit_circuits::registry::Role;
use zkcredit_testkit::alliance::Alliance;
use zkcredit_wallet::{wallet, Decision};

/// The registry admin silently drops a lender ("all lenders" narrowed): a proof against the
/// new root is refused because its slot set differs from the one the lender pinned.
pub(super) async fn narrowed_registry(
    a: &Alliance,
    registry: &RegistryClient,
    verifier: &VerifierClient,
    ana: &Submission,
    policy: Policy,
) -> Result<bool, CliError> {
    let Some(dropped) = a.providers.iter().rfind(|p| p.role == Role::Lender) else {
        return Ok(true);
    };
    let body = zkcredit_api::registry::RegisterProvider {
        slot: dropped.slot,
        role: Role::Empty,
        provider_id: "0".into(),
        token: String::new(),
        endpoint: None,
    };
    let narrowed = registry.register(&a.admin, &body).await?.root;
    let req = super::open_request(verifier, &a.lender_token, policy).await?;
    let mut sub = ana.clone();
    sub.public_signals[PI_REGISTRY_ROOT] = narrowed;
    sub.public_signals[PI_CONTEXT] = req.context;
    let d = wallet::apply(verifier, &sub).await?;
    let ok = matches!(&d, Decision::Refused { code, .. } if code == "registry_slots_mismatch");
    println!(
        "[registry] the registry admin drops lender slot {} and a proof names the new root: {}",
        dropped.slot,
        match &d {
            Decision::Refused { code, .. } =>
                format!("REFUSED {code} (the lender pins its slot set)"),
            Decision::Accepted(_) => "ACCEPTED (BUG)".into(),
        }
    );
    Ok(ok)
}
