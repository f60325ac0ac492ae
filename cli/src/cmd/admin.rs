//! The operator's commands (issue 18): every admin action of the services through the typed
//! clients, so nobody needs `curl` or the source. Tokens are read from files; a command
//! prints what it did in one or a few lines (`key value`), and exits by [`super::EXIT_CODES`].

use super::{read_json, runtime, token_file, CliError};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use zkcredit_api::client::{IssuerClient, ProviderClient, RegistryClient, VerifierClient};
use zkcredit_api::issuer::{Approve, NewClient};
use zkcredit_api::provider::Value;
use zkcredit_api::registry::RegisterProvider;
use zkcredit_api::verifier::NewRequest;
use zkcredit_circuits::eligibility::Policy;
use zkcredit_circuits::registry::Role;

/// The one role vocabulary of the command line, the API and the SPEC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum RoleArg {
    /// The KYC issuer (slot 0 only).
    Kyc,
    /// A fraud list.
    FraudList,
    /// A lender (its active loans).
    Lender,
    /// A credit bureau (scores).
    Bureau,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Kyc => Role::Kyc,
            RoleArg::FraudList => Role::FraudList,
            RoleArg::Lender => Role::Lender,
            RoleArg::Bureau => Role::Bureau,
        }
    }
}

fn http() -> reqwest::Client {
    zkcredit_api::client::http_client()
}

/// A service's URL and the operator's admin token.
#[derive(Args, Debug)]
pub struct AdminTarget {
    /// The service's base URL.
    #[arg(long)]
    url: String,
    /// File holding the service's admin token.
    #[arg(long)]
    admin_token_file: PathBuf,
}

/// `zkcredit registry add-provider`.
#[derive(Args, Debug)]
pub struct AddProvider {
    #[command(flatten)]
    target: AdminTarget,
    /// The slot (0 is the KYC issuer's).
    #[arg(long)]
    slot: usize,
    /// The provider's role.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// The provider's id (decimal), as it is started with (`--provider-id`).
    #[arg(long)]
    provider_id: String,
    /// File holding the token the provider publishes with (`--registry-token-file` of the
    /// provider; at least 16 characters): make it with `head -c 24 /dev/urandom | xxd -p`.
    #[arg(long)]
    provider_token_file: PathBuf,
    /// Where the provider serves witnesses (its base URL): wallets ask it.
    #[arg(long)]
    endpoint: String,
}

/// `zkcredit registry remove-provider`.
#[derive(Args, Debug)]
pub struct RemoveProvider {
    #[command(flatten)]
    target: AdminTarget,
    /// The slot to clear.
    #[arg(long)]
    slot: usize,
}

/// `zkcredit registry add-provider`: registers (or re-registers) a provider in a slot.
pub fn add_provider(a: AddProvider) -> Result<(), CliError> {
    let admin = token_file(&a.target.admin_token_file)?;
    let token = token_file(&a.provider_token_file)?;
    let body = RegisterProvider {
        slot: a.slot,
        role: a.role.into(),
        provider_id: a.provider_id,
        token,
        endpoint: Some(a.endpoint),
    };
    let view =
        runtime()?.block_on(RegistryClient::new(http(), a.target.url).register(&admin, &body))?;
    println!("registered slot {} ({})", a.slot, body.role.name());
    println!("registry root {}", view.root);
    Ok(())
}

/// `zkcredit registry remove-provider`: clears a slot.
pub fn remove_provider(a: RemoveProvider) -> Result<(), CliError> {
    let admin = token_file(&a.target.admin_token_file)?;
    let body = RegisterProvider {
        slot: a.slot,
        role: Role::Empty,
        provider_id: "0".into(),
        token: String::new(),
        endpoint: None,
    };
    let view =
        runtime()?.block_on(RegistryClient::new(http(), a.target.url).register(&admin, &body))?;
    println!("cleared slot {}", a.slot);
    println!("registry root {}", view.root);
    Ok(())
}

/// `zkcredit registry show`: the current root and every slot.
pub fn show_registry(url: String) -> Result<(), CliError> {
    let c = RegistryClient::new(http(), url);
    let (view, key) =
        runtime()?.block_on(async { Ok::<_, CliError>((c.view().await?, c.key().await?)) })?;
    println!("registry root {}", view.root);
    println!("registry key {}", key.public_key);
    for s in view.slots.iter().filter(|s| s.value.role != Role::Empty) {
        println!(
            "slot {} role {} provider_id {} published_at {} endpoint {}",
            s.slot,
            s.value.role.name(),
            zkcredit_circuits::field::fr_to_dec(&s.value.provider_id),
            s.value.published_at,
            s.endpoint.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

/// `zkcredit issuer approve|reject`.
#[derive(Args, Debug)]
pub struct Decide {
    #[command(flatten)]
    target: AdminTarget,
    /// The application id (`zkcredit issuer pending` lists them; the wallet prints it).
    application: String,
}

/// `zkcredit issuer pending`: the applications awaiting the operator.
pub fn pending(t: AdminTarget) -> Result<(), CliError> {
    let admin = token_file(&t.admin_token_file)?;
    let list = runtime()?.block_on(IssuerClient::new(http(), t.url).pending(&admin))?;
    println!("{} pending", list.len());
    for a in list {
        println!(
            "application {} id {:?} holder_key {} created_at {}",
            a.application_id, a.id, a.holder_key, a.created_at
        );
    }
    Ok(())
}

/// `zkcredit issuer approve` (`replace`: `zkcredit issuer replace`, a lost wallet: the old
/// holder key is revoked). The KYC row is published at once.
pub fn approve(d: Decide, replace: bool) -> Result<(), CliError> {
    let admin = token_file(&d.target.admin_token_file)?;
    let body = Approve {
        replace,
        publish: true,
    };
    let v = runtime()?.block_on(IssuerClient::new(http(), d.target.url).approve(
        &admin,
        &d.application,
        body,
    ))?;
    println!("application {} {}", v.application_id, v.status);
    Ok(())
}

/// `zkcredit issuer reject`.
pub fn reject(d: Decide) -> Result<(), CliError> {
    let admin = token_file(&d.target.admin_token_file)?;
    let v = runtime()?
        .block_on(IssuerClient::new(http(), d.target.url).reject(&admin, &d.application))?;
    println!("application {} {}", v.application_id, v.status);
    Ok(())
}

/// `zkcredit issuer add-client`.
#[derive(Args, Debug)]
pub struct AddClient {
    #[command(flatten)]
    target: AdminTarget,
    /// The client's name (a provider's, for the audit log).
    #[arg(long)]
    name: String,
    /// File holding the client's token (≥ 16 characters): the provider then looks up its
    /// customers' subject keys with `zkcredit issuer lookup --client-token-file`.
    #[arg(long)]
    client_token_file: PathBuf,
}

/// `zkcredit issuer add-client`: lets a provider look up subject keys.
pub fn add_client(a: AddClient) -> Result<(), CliError> {
    let admin = token_file(&a.target.admin_token_file)?;
    let c = NewClient {
        name: a.name.clone(),
        token: token_file(&a.client_token_file)?,
    };
    runtime()?.block_on(IssuerClient::new(http(), a.target.url).add_client(&admin, &c))?;
    println!("client {} added", a.name);
    Ok(())
}

/// `zkcredit issuer lookup`.
#[derive(Args, Debug)]
pub struct Lookup {
    /// The issuer's base URL.
    #[arg(long)]
    url: String,
    /// File holding this provider's client token at the issuer (`issuer add-client`).
    #[arg(long)]
    client_token_file: PathBuf,
    /// The customer's identifier as on their documents (e.g. "AB 123 456").
    #[arg(long)]
    id: String,
}

/// `zkcredit issuer lookup`: a customer's subject key (logged at the issuer).
pub fn lookup(l: Lookup) -> Result<(), CliError> {
    let token = token_file(&l.client_token_file)?;
    let k = runtime()?.block_on(IssuerClient::new(http(), l.url).lookup(&token, &l.id))?;
    println!("subject_key {}", k.subject_key);
    Ok(())
}

/// `zkcredit provider set`.
#[derive(Args, Debug)]
pub struct SetRow {
    #[command(flatten)]
    target: AdminTarget,
    /// The subject key (decimal; `zkcredit issuer lookup`).
    #[arg(long)]
    subject_key: String,
    /// The record, three values (SPEC §4.1 per role: fraud `reason listed_at 0`; lender
    /// `active_loans outstanding arrears_days`; bureau `score scored_at 0`).
    #[arg(num_args = 3, value_names = ["V0", "V1", "V2"], required = true)]
    values: Vec<String>,
}

/// `zkcredit provider delete`.
#[derive(Args, Debug)]
pub struct DeleteRow {
    #[command(flatten)]
    target: AdminTarget,
    /// The subject key (decimal).
    #[arg(long)]
    subject_key: String,
}

/// `zkcredit provider set`: stages an upsert (published within `--publish-pending-every`,
/// or by `zkcredit provider publish`).
pub fn set_row(s: SetRow) -> Result<(), CliError> {
    let admin = token_file(&s.target.admin_token_file)?;
    let values: [Value; 3] = [0, 1, 2].map(|i| match s.values[i].parse::<u64>() {
        Ok(n) => Value::N(n),
        Err(_) => Value::S(s.values[i].clone()),
    });
    let r = runtime()?.block_on(ProviderClient::new(http(), s.target.url).upsert(
        &admin,
        &s.subject_key,
        values,
    ))?;
    println!("staged {} {}", r.staged, r.subject_key);
    Ok(())
}

/// `zkcredit provider delete`: stages a delete (erased from the store at publication).
pub fn delete_row(d: DeleteRow) -> Result<(), CliError> {
    let admin = token_file(&d.target.admin_token_file)?;
    let r = runtime()?
        .block_on(ProviderClient::new(http(), d.target.url).delete(&admin, &d.subject_key))?;
    println!("staged {} {}", r.staged, r.subject_key);
    Ok(())
}

/// `zkcredit provider publish`: applies the journal and tells the registry.
pub fn publish(t: AdminTarget) -> Result<(), CliError> {
    let admin = token_file(&t.admin_token_file)?;
    let r = runtime()?.block_on(ProviderClient::new(http(), t.url).publish(&admin))?;
    println!(
        "published root {} rows {} changes {} registry {}",
        r.root, r.rows, r.changes_applied, r.registry
    );
    Ok(())
}

/// `zkcredit issuer info`: the attestation key providers pin (`provider serve
/// --issuer-key`) and the KYC tree's root-signing key lenders pin (`--expected-slots`).
pub fn issuer_info(url: String) -> Result<(), CliError> {
    let issuer = IssuerClient::new(http(), url.clone());
    let tree = ProviderClient::new(http(), url);
    let (i, s) = runtime()?
        .block_on(async { Ok::<_, CliError>((issuer.info().await?, tree.status().await?)) })?;
    println!("attestation key {}", i.issuer_key);
    println!("provider_id {}", i.provider_id);
    println!("root {} published_at {}", i.root, i.published_at);
    println!("provider root key {}", s.public_key);
    Ok(())
}

/// `zkcredit provider status`: role, id, root, root-signing key (what lenders pin) and,
/// with the admin token, the journal and registry state.
pub fn status(url: String, admin_token_file: Option<PathBuf>) -> Result<(), CliError> {
    let c = ProviderClient::new(http(), url);
    let rt = runtime()?;
    let s = rt.block_on(c.status())?;
    println!("role {} provider_id {}", s.role.name(), s.provider_id);
    println!("root {} published_at {}", s.root, s.published_at);
    println!("provider root key {}", s.public_key);
    if let Some(f) = admin_token_file {
        let a = rt.block_on(c.admin_status(&token_file(&f)?))?;
        println!(
            "rows {} pending_changes {} registry_pending {}",
            a.rows, a.pending_changes, a.registry_pending
        );
    }
    Ok(())
}

/// `zkcredit verifier open-request`.
#[derive(Args, Debug)]
pub struct OpenRequest {
    /// The verifier's base URL.
    #[arg(long)]
    url: String,
    /// File holding the lender's token (`verifier serve --lender-token-file`).
    #[arg(long)]
    lender_token_file: PathBuf,
    /// The policy to ask for: a JSON file with one policy (one the verifier offers).
    #[arg(long)]
    policy_file: PathBuf,
    /// Seconds the request stays open.
    #[arg(long, default_value_t = 600)]
    ttl_seconds: u64,
}

/// `zkcredit verifier open-request`: opens a proof request and prints the URL the borrower's
/// wallet proves against (`wallet prove --request URL`).
pub fn open_request(o: OpenRequest) -> Result<(), CliError> {
    let token = token_file(&o.lender_token_file)?;
    let policy: Policy = read_json(&o.policy_file)?;
    let c = VerifierClient::new(http(), o.url);
    let r = runtime()?.block_on(c.create_request(
        &token,
        &NewRequest {
            policy,
            ttl_seconds: o.ttl_seconds,
        },
    ))?;
    println!("request {}", c.request_url(&r.nonce));
    println!("verifier_id {}", r.verifier_id);
    println!("expires {}", r.expiry);
    Ok(())
}

/// `zkcredit verifier info`: what the lender publishes for wallets to pin.
pub fn verifier_info(url: String) -> Result<(), CliError> {
    let i = runtime()?.block_on(VerifierClient::new(http(), url).info())?;
    println!("verifier_id {}", i.verifier_id);
    println!("name {}", i.name);
    println!("product {}", i.product);
    println!("vk_digest {}", i.vk_digest);
    println!("insecure_dev_keys {}", i.insecure_dev_keys);
    Ok(())
}
