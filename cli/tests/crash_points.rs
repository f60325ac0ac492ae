//! Spec §4.4's crash rule on the disk store, at chosen points: a provider aborted (no
//! destructor, no rollback, as SIGKILL or a power cut leaves it) at four points of a bulk
//! import (in its stage; in its rebuild, after a part was committed; with the new tables
//! swapped in; in the removal of what the publication replaced) and three points of a
//! row-by-row publication restarts — its node store passing
//! the start-up check — with the old tree or the new one, never a mix, and loses no staged
//! row. The points are named by `ZKCREDIT_TEST_CRASH_AT` (`services/src/tree/mod.rs`).

mod common;

use common::serve_env;
use std::path::Path;
use std::process::Child;
use zkcredit_api::client::ProviderClient;
use zkcredit_api::provider::AdminStatus;

const ADMIN: &str = "crash-points-admin-token-0123";
/// Above the rebuild threshold (20,000), so the import publishes by a streaming rebuild.
const ROWS: u64 = 24_000;
/// The Ed25519 base point: a valid issuer key (no witness is asked in this test).
const ISSUER_KEY: &str = "5866666666666666666666666666666666666666666666666666666666666666";

/// `provider serve` of this test's fraud list (nothing listens at the issuer URL: no
/// witness is asked), with `--rebuild-tree` when `rebuild`.
fn provider_args(rebuild: bool) -> Vec<String> {
    let extra: &[&str] = if rebuild {
        &["--publish-pending-every", "0", "--rebuild-tree"]
    } else {
        &["--publish-pending-every", "0"]
    };
    common::provider_args(
        "fraud_list",
        "fraud",
        "1001",
        "32",
        ISSUER_KEY,
        "http://127.0.0.1:9",
        extra,
    )
}

fn start(dir: &Path, crash_at: Option<&str>) -> (Child, String) {
    let env: Vec<(&str, &str)> = crash_at
        .map(|c| vec![("ZKCREDIT_TEST_CRASH_AT", c)])
        .unwrap_or_default();
    let args = provider_args(false);
    let (child, url, _) = serve_env(dir, &common::strs(&args), &env);
    (child, url)
}

/// Waits for the aborted process and checks it died at the crash point (not cleanly).
fn aborted(mut child: Child, point: &str) {
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "{point}: the process should have aborted, got {status}"
    );
}

fn import(dir: &Path, url: &str, file: &str) -> std::process::Output {
    common::zk(
        &[
            "provider",
            "import",
            "--url",
            url,
            "--admin-token-file",
            "admin.token",
            file,
        ],
        dir,
    )
}

/// What the provider's file holds besides the tree (read beside a running provider, or after
/// an abort): the tables that are not the tree (`*_next`, `*_old`) and the journal's
/// entries, applied or not.
fn leftovers(dir: &Path) -> (Vec<String>, i64) {
    // Read-only: a read-write connection, the last to close, would checkpoint and delete
    // the WAL the crash left, and the restart would not recover from it itself.
    let c = rusqlite::Connection::open_with_flags(
        dir.join("fraud").join("provider.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE '%\\_next' ESCAPE '\\' OR name LIKE '%\\_old' ESCAPE '\\')")
        .unwrap();
    let tables = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<String>, _>>()
        .unwrap();
    let journal = c
        .query_row("SELECT COUNT(*) FROM changes", [], |r| r.get(0))
        .unwrap();
    (tables, journal)
}

/// Starts the provider to abort at `point` with the whole import staged on the empty tree
/// (`check` first looks at the file beside it), and asks it to publish: the publication
/// fails as the process aborts.
async fn staged_publish_aborts(
    p: &Path,
    http: &reqwest::Client,
    point: &str,
    empty_root: &str,
    check: impl FnOnce(&Path),
) {
    let (child, url) = start(p, Some(point));
    check(p);
    let st = status(http, &url).await;
    assert_eq!((st.rows as u64, st.pending_changes), (0, ROWS), "{point}");
    assert_eq!(st.status.root, empty_root, "{point}");
    let c = ProviderClient::new(http.clone(), &url);
    assert!(c.publish(ADMIN).await.is_err(), "{point}");
    aborted(child, point);
}

async fn status(http: &reqwest::Client, url: &str) -> AdminStatus {
    ProviderClient::new(http.clone(), url)
        .admin_status(ADMIN)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_aborted_at_seven_points_restarts_whole() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    std::fs::write(p.join("admin.token"), ADMIN).unwrap();
    let big = common::fraud_csv(ROWS);
    std::fs::write(p.join("big.csv"), &big).unwrap();
    let mut small = String::from("subject_key,v0,v1,v2\n");
    for i in 0..100u64 {
        small.push_str(&format!("{},7,1700000000,0\n", 5 + i * 13));
    }
    std::fs::write(p.join("small.csv"), &small).unwrap();
    let http = reqwest::Client::new();

    // Import, point 1: inside the stage's transaction.
    let (child, url) = start(p, Some("stage:middle"));
    let empty_root = status(&http, &url).await.status.root;
    let o = import(p, &url, "big.csv");
    assert!(!o.status.success());
    aborted(child, "stage:middle");

    // Import, point 2: inside the rebuild that publishes it, a part of the new tables
    // committed and the next being written. The staged journal survives.
    let (child, url) = start(p, Some("rebuild:middle"));
    let st = status(&http, &url).await;
    assert_eq!(
        (st.rows as u64, st.pending_changes),
        (0, 0),
        "the half stage rolled back"
    );
    assert_eq!(st.status.root, empty_root);
    assert!(!import(p, &url, "big.csv").status.success());
    aborted(child, "rebuild:middle");
    assert_eq!(
        leftovers(p),
        (vec!["leaves_next".into(), "nodes_next".into()], ROWS as i64),
        "a part of the new tables was committed before the abort"
    );

    // Import, point 3: the new tables swapped in, not committed. The committed parts point
    // 2 left were removed at start (the rebuild could not create its tables otherwise).
    staged_publish_aborts(p, &http, "rebuild:swapped", &empty_root, |p| {
        assert_eq!(leftovers(p), (vec![], ROWS as i64), "cleaned up at start")
    })
    .await;

    // Import, point 4: published, then aborted after the first committed part of removing
    // the applied journal (24,000 entries, 20,000 a part) and the replaced tables.
    staged_publish_aborts(p, &http, "cleanup:journal", &empty_root, |_| ()).await;
    assert_eq!(
        leftovers(p),
        (
            vec!["leaves_old".into(), "nodes_old".into()],
            ROWS as i64 - 20_000
        ),
        "published, its first 20,000 journal entries removed"
    );

    // Publication, point 1: a row-by-row publication after its nodes are written. At start
    // the import's publication stands whole and what it left is gone.
    let (child, url) = start(p, Some("overlay:written"));
    assert_eq!(leftovers(p), (vec![], 0), "cleaned up at start");
    let st = status(&http, &url).await;
    assert_eq!((st.rows as u64, st.pending_changes), (ROWS, 0));
    assert_ne!(st.status.root, empty_root);
    let c = ProviderClient::new(http.clone(), &url);
    c.delete(ADMIN, &(1_000_000u64).to_string()).await.unwrap();
    assert!(!import(p, &url, "small.csv").status.success());
    aborted(child, "overlay:written");

    // Publication, points 2 and 3: before and after the commit.
    let (child, url) = start(p, Some("publish:before-commit"));
    let imported = status(&http, &url).await;
    assert_eq!(
        (imported.rows as u64, imported.pending_changes),
        (ROWS, 101)
    );
    let c = ProviderClient::new(http.clone(), &url);
    assert!(c.publish(ADMIN).await.is_err());
    aborted(child, "publish:before-commit");
    let (child, url) = start(p, Some("publish:after-commit"));
    let st = status(&http, &url).await;
    assert_eq!(st.status, imported.status, "the old tree, whole");
    assert_eq!(st.pending_changes, 101);
    let c = ProviderClient::new(http.clone(), &url);
    assert!(c.publish(ADMIN).await.is_err());
    aborted(child, "publish:after-commit");

    // Committed before the abort: the new tree, and nothing left staged.
    let (mut child, url) = start(p, None);
    assert_eq!(leftovers(p), (vec![], 0));
    let st = status(&http, &url).await;
    assert_eq!((st.rows as u64, st.pending_changes), (ROWS + 100 - 1, 0));
    assert_ne!(st.status.root, imported.status.root);
    let c = ProviderClient::new(http.clone(), &url);
    assert_eq!(c.row(ADMIN, "18").await.unwrap().values[0], "7");
    assert!(c.row(ADMIN, "1000000").await.is_err(), "deleted");
    let last = (1_000_000 + (ROWS - 1) * 7919).to_string();
    assert_eq!(
        c.row(ADMIN, &last).await.unwrap().values[0],
        ((ROWS - 1) % 5 + 1).to_string()
    );
    // `--rebuild-tree`, aborted with its new nodes committed in parts but not swapped in,
    // with a row staged: a plain start removes the parts and serves the tree it had; aborted
    // again, a start with `--rebuild-tree` itself removes them first and rebuilds to the
    // same root; the staged row survives both.
    let c = ProviderClient::new(http.clone(), &url);
    c.delete(ADMIN, "18").await.unwrap();
    let published = status(&http, &url).await.status;
    let _ = child.kill();
    let _ = child.wait();
    let crashed = |p: &Path| {
        let out = rebuild_tree_run(p, Some("prepare:written"));
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("crash point prepare:written reached"), "{err}");
        assert_eq!(leftovers(p), (vec!["nodes_next".into()], 1));
    };
    crashed(p);
    let (mut child, url) = start(p, None);
    assert_eq!(
        leftovers(p),
        (vec![], 1),
        "cleaned up at start, the row kept"
    );
    let st = status(&http, &url).await;
    assert_eq!((st.status, st.pending_changes), (published.clone(), 1));
    let _ = child.kill();
    let _ = child.wait();
    crashed(p);
    let (mut child, url) = start_rebuilding(p);
    assert_eq!(
        leftovers(p),
        (vec![], 1),
        "the parts and the replaced nodes removed"
    );
    let st = status(&http, &url).await;
    assert_eq!(
        (st.status, st.pending_changes),
        (published, 1),
        "the same root"
    );
    second_writer_refused(p);
    let _ = child.kill();
    let _ = child.wait();
}

/// `provider serve --rebuild-tree`, run to its end (an abort at `crash_at`, or a failure).
fn rebuild_tree_run(dir: &Path, crash_at: Option<&str>) -> std::process::Output {
    let args = provider_args(true);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_zkcredit"));
    cmd.args(&args).current_dir(dir).env("RUST_LOG", "warn");
    if let Some(c) = crash_at {
        cmd.env("ZKCREDIT_TEST_CRASH_AT", c);
    }
    cmd.output().unwrap()
}

/// `provider serve --rebuild-tree`, serving.
fn start_rebuilding(dir: &Path) -> (Child, String) {
    let args = provider_args(true);
    let (child, url, _) = serve_env(dir, &common::strs(&args), &[]);
    (child, url)
}

/// A second `provider serve` on a data directory whose tree a running provider holds is
/// refused at start (`tree_in_use`, spec §4.4 "one writer process per file"), and never
/// listens: two processes writing one SQLite tree could break the journal's mark. (The
/// aborts above also show that the kernel releases the lock of a killed process.)
fn second_writer_refused(dir: &Path) {
    let args = provider_args(false);
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_zkcredit"))
        .args(&args)
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while second.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second provider on the same tree kept running");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = second.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("is open in another process") && said.contains("provider.sqlite.lock"),
        "{said}"
    );
}
