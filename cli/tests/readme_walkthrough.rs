//! The README's "Run an alliance" walkthrough, executed verbatim: the shell block after the
//! marker comment is written to a file and run by `bash` against this build's binary, in an
//! empty directory. Registry, issuer, a fraud list, a lender, a bureau and two verifiers run
//! as processes; one borrower is accepted, refused while on the fraud list (the wallet names
//! the rule and proves nothing), and accepted again, in a new scope, once delisted.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The comment that marks the block (README.md).
const MARKER: &str =
    "<!-- alliance walkthrough: executed verbatim by cli/tests/readme_walkthrough.rs -->";

/// Far above a normal run (setup of production keys, two proofs): only a hung service trips it.
const TIMEOUT: Duration = Duration::from_secs(1200);

/// The shell block that follows [`MARKER`] in `readme`.
fn walkthrough(readme: &str) -> Result<&str, String> {
    let after = readme
        .split_once(MARKER)
        .ok_or("the README has no walkthrough marker")?
        .1;
    let body = after
        .trim_start()
        .strip_prefix("```sh\n")
        .ok_or("the marker is not followed by a ```sh block")?;
    let end = body
        .find("\n```")
        .ok_or("the walkthrough block is not closed")?;
    Ok(&body[..end + 1])
}

#[test]
fn the_block_is_found_and_is_the_whole_alliance() {
    let readme = include_str!("../../README.md");
    let block = walkthrough(readme).unwrap();
    for must in [
        "registry serve",
        "issuer serve",
        "fraud_list 1001",
        "--role $1",
        "verifier serve",
        "wallet prove",
        "wallet apply",
        "provider delete",
    ] {
        assert!(block.contains(must), "walkthrough lacks {must:?}");
    }
    assert!(walkthrough("no marker").is_err());
    assert!(walkthrough(&format!("{MARKER}\n```sh\nunterminated\n")).is_err());
}

/// The model the walkthrough writes inline is the published example the README names
/// (`params/models/defi-score-basic.json`): the two copies cannot drift apart.
#[test]
fn the_walkthrough_model_is_the_published_example() {
    use zkcredit_circuits::model::file::ScoringModel;
    let block = walkthrough(include_str!("../../README.md")).unwrap();
    let inline = block
        .split_once("cat > defi-score-basic.json <<'JSON'\n")
        .and_then(|(_, rest)| rest.split_once("\nJSON\n"))
        .expect("the walkthrough writes defi-score-basic.json")
        .0;
    assert_eq!(
        ScoringModel::from_json(inline).unwrap(),
        ScoringModel::from_json(include_str!("../../params/models/defi-score-basic.json")).unwrap()
    );
}

#[test]
fn the_readme_alliance_walkthrough_runs_verbatim() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let block = walkthrough(&readme).unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("walkthrough.sh");
    std::fs::write(&script, &block).unwrap();
    let log = dir.path().join("walkthrough.out");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("bash")
        .arg(&script)
        .current_dir(dir.path())
        .env("ZKCREDIT", env!("CARGO_BIN_EXE_zkcredit"))
        .env_remove("ZKCREDIT_PARAMS")
        .env_remove("ZKCREDIT_WALLET_PASSWORD")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        // Its own process group, so every service it started is stopped even if it hangs.
        .process_group(0)
        .spawn()
        .expect("bash");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if started.elapsed() > TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
    let mut text = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let mut logs = String::new();
    for f in [
        "registry",
        "kyc",
        "fraud",
        "lender",
        "bureau",
        "verifier-personal-loan",
        "verifier-car-loan",
    ] {
        if let Ok(l) = std::fs::read_to_string(dir.path().join(format!("{f}.log"))) {
            logs.push_str(&format!("--- {f}.log (last lines)\n"));
            let lines: Vec<&str> = l.lines().collect();
            for line in &lines[lines.len().saturating_sub(15)..] {
                logs.push_str(line);
                logs.push('\n');
            }
        }
    }
    let status = status.unwrap_or_else(|| panic!("the walkthrough hung:\n{text}\n{logs}"));
    assert!(
        status.success(),
        "the walkthrough failed ({status}):\n{text}\n{logs}"
    );

    // Accepted twice (the personal loan, then the car loan after the delisting) …
    assert_eq!(
        text.matches("ACCEPTED by http://127.0.0.1:7002").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches("ACCEPTED by http://127.0.0.1:7003").count(),
        1,
        "{text}"
    );
    // … and refused in between: exit 1, the fraud-list rule named, nothing proved.
    assert!(text.contains("refused (exit 1)"), "{text}");
    let refusal = text
        .lines()
        .find(|l| l.contains("no proof is possible"))
        .unwrap_or_else(|| panic!("no refusal line:\n{text}"));
    assert!(refusal.contains("fraud_list"), "{refusal}");
    assert_eq!(text.matches("proved in").count(), 2, "{text}");
    // The borrower's application was resumed, not filed twice.
    assert!(text.contains("approved: attestation stored"), "{text}");
    assert_eq!(text.matches(" is pending").count(), 1, "{text}");
}
