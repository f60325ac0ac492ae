//! Helpers shared by the CLI's integration tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// Runs `zkcredit <args>` in `cwd`.
pub fn zk(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zkcredit"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// stdout + stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Development keys of the small test circuit (4 slots × depth 8) in `<cwd>/keys`.
pub fn setup_small(cwd: &Path) {
    let o = zk(
        &[
            "setup",
            "--circuit",
            "eligibility_s4_d8",
            "--params",
            "keys",
            "--cache",
            "keys/cache",
        ],
        cwd,
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// Spawns `zkcredit <args>` and returns it with the lines it printed up to "listening on".
/// The caller owns the child and kills and waits for it.
pub fn serve(cwd: &Path, args: &[&str]) -> (Child, String, Vec<String>) {
    serve_env(cwd, args, &[])
}

/// [`serve`] with extra environment variables.
pub fn serve_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (Child, String, Vec<String>) {
    spawn_until(cwd, args, env, |line| {
        line.split("listening on ")
            .nth(1)
            .map(|u| u.trim().to_string())
    })
}

/// Spawns `zkcredit <args>` and reads its stdout until `pick` finds what it waits for in a
/// line; returns the child, that, and the lines before. The rest of stdout is drained in
/// the background. The caller owns the child and kills and waits for it.
#[allow(clippy::zombie_processes)]
pub fn spawn_until(
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    pick: impl Fn(&str) -> Option<String>,
) -> (Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkcredit"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("exited early: {lines:?}");
        }
        if let Some(found) = pick(&line) {
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || for _ in out.lines() {});
            return (child, found, lines);
        }
        lines.push(line);
    }
}

/// The lender's token of the process tests (`lender.token`).
pub const LENDER: &str = "process-test-lender-token-0123";

/// The registry's signing key from the lines `registry serve` printed before listening.
pub fn registry_key(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("registry key "))
        .expect("registry serve prints its key")
        .trim()
        .to_string()
}

/// Writes the verifier's files into `cwd`: `lender.token`, `policy.json` (`policy`) and
/// `expected-slots.json` (`(role, provider_id, public_key)`, e.g. `("kyc", "1000", hex)`).
pub fn write_verifier_files(
    cwd: &Path,
    policy: &impl serde::Serialize,
    expected: &[(&str, String, String)],
) {
    std::fs::write(cwd.join("lender.token"), LENDER).unwrap();
    std::fs::write(
        cwd.join("policy.json"),
        serde_json::to_string(policy).unwrap(),
    )
    .unwrap();
    let slots: Vec<serde_json::Value> = expected
        .iter()
        .map(|(role, id, key)| serde_json::json!({"role": role, "provider_id": id, "public_key": key}))
        .collect();
    std::fs::write(
        cwd.join("expected-slots.json"),
        serde_json::to_string(&slots).unwrap(),
    )
    .unwrap();
}

/// `verifier serve` arguments for the small circuit (keys in `keys/`, store in `ver/`), with
/// the files of [`write_verifier_files`]; the small keys are development keys, so
/// `--insecure-dev-keys`.
pub fn small_verifier_args(registry_url: &str, registry_key: &str) -> Vec<String> {
    [
        "verifier",
        "serve",
        "--data-dir",
        "ver",
        "--params",
        "keys",
        "--circuit",
        "eligibility_s4_d8",
        "--registry-url",
        registry_url,
        "--registry-key",
        registry_key,
        "--policy-file",
        "policy.json",
        "--lender-token-file",
        "lender.token",
        "--expected-slots",
        "expected-slots.json",
        "--insecure-dev-keys",
    ]
    .map(String::from)
    .to_vec()
}

/// Borrows a list of owned arguments.
pub fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Asserts that the command succeeded and printed `needle`.
pub fn assert_ok_with(o: &Output, needle: &str) {
    let t = text(o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains(needle), "expected {needle:?} in: {t}");
}

/// `zkcredit gen-witness` for the small circuit: `borrowers` others, `seed`, into `out`.
pub fn gen_small_witness(cwd: &Path, borrowers: &str, seed: &str, out: &str) {
    let o = zk(
        &[
            "gen-witness",
            "--slots",
            "4",
            "--depth",
            "8",
            "--borrowers",
            borrowers,
            "--seed",
            seed,
            "--out",
            out,
        ],
        cwd,
    );
    assert!(o.status.success(), "{}", text(&o));
}

/// `registry serve` arguments for the small circuit's 4 slots (store in `reg/`, admin token
/// in `admin.token`).
pub fn small_registry_args() -> [&'static str; 8] {
    [
        "registry",
        "serve",
        "--data-dir",
        "reg",
        "--admin-token-file",
        "admin.token",
        "--slots",
        "4",
    ]
}

/// `provider serve` as the CLI tests start it: a `role` provider (`--provider-id id`, tree
/// depth `depth`) with its store in `data_dir`, the operator token in `admin.token`, no
/// scheduled republication, the issuer pinned by `issuer_key` at `issuer_url`, then `extra`.
pub fn provider_args(
    role: &str,
    data_dir: &str,
    id: &str,
    depth: &str,
    issuer_key: &str,
    issuer_url: &str,
    extra: &[&str],
) -> Vec<String> {
    let mut v: Vec<String> = [
        "provider",
        "serve",
        "--role",
        role,
        "--data-dir",
        data_dir,
        "--admin-token-file",
        "admin.token",
        "--provider-id",
        id,
        "--depth",
        depth,
        "--publish-every",
        "0",
        "--issuer-key",
        issuer_key,
        "--issuer-url",
        issuer_url,
    ]
    .map(String::from)
    .to_vec();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// A fraud list's CSV of `rows` rows: keys `1,000,000 + 7,919·i` in increasing order,
/// reasons 1..=5, listing times from 1,700,000,000.
pub fn fraud_csv(rows: u64) -> String {
    let mut csv = String::from("subject_key,v0,v1,v2\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "{},{},{},0\n",
            1_000_000 + i * 7919,
            1 + i % 5,
            1_700_000_000 + i
        ));
    }
    csv
}

/// The hex public key of the test issuer whose signing key is `[seed; 32]`.
pub fn issuer_key_hex(seed: u8) -> String {
    hex::encode(
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
            .verifying_key()
            .as_bytes(),
    )
}
