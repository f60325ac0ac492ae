//! The import hold (spec §4.4, bulk import in parts): while an import in parts holds the
//! schedule, scheduled publications leave its staged parts alone; the import's own
//! publication ends the hold and the schedule resumes. The control case (no hold: the
//! scheduler publishes a staged change) shows the scheduler runs in this test at all.
//!
//! Regression (found by this test): a scheduled publication that had checked the hold
//! before it began, then waited for the clock (`pace`, up to a second), published the
//! first held part and — every publication ended the hold — let the scheduler publish the
//! rest part by part. The scheduler now checks the hold again under the publication lock,
//! and only an explicit publication ends a hold.

use super::*;
use std::time::Duration;

const ADMIN: &str = "hold-tests-admin-token";

fn cfg() -> TreeConfig {
    TreeConfig {
        role: Role::FraudList,
        provider_id: Fr::from(7u64),
        depth: 8,
        issuer_key: ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]).verifying_key(),
        registry: None,
        rebuild_nodes: false,
    }
}

fn rec(v: u64) -> [Fr; 3] {
    [Fr::from(v), Fr::from(v + 1), Fr::from(3u64)]
}

/// Waits (up to a minute) until nothing is staged.
async fn until_published(svc: &TreeService) {
    for _ in 0..600 {
        if svc.pending().await.unwrap().0 == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the scheduler never published the staged change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_hold_keeps_scheduled_publications_off_its_parts_until_it_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let svc = TreeService::open(dir.path(), "tree.sqlite", cfg(), ADMIN).unwrap();
    svc.publish().await.unwrap();
    let sched = svc.spawn_scheduler(Schedule {
        pending_every: Some(Duration::from_millis(100)),
        refresh_every: None,
    });

    // Control: no hold, a staged change is published by the schedule.
    svc.stage(vec![(Fr::from(3u64), Some(rec(1)))])
        .await
        .unwrap();
    until_published(&svc).await;

    // The regression's race, made explicit: a scheduled publication is under way — it has
    // taken change 5 and waits for the clock's next second (`pace`) — when the import's
    // first part arrives with its hold. The hold waits for that publication, which
    // publishes change 5 alone; the parts staged under the hold stay staged, the published
    // tree stays, over many scheduler ticks.
    let root = svc.publish().await.unwrap().root;
    svc.stage(vec![(Fr::from(5u64), Some(rec(5)))])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    svc.hold_scheduled(60).await.unwrap();
    // 2 here (a machine too slow to have started that publication within 300 ms leaves
    // change 5 held with the parts: 1).
    let rows = svc.rows();
    for k in [6u64, 9, 12] {
        svc.stage(vec![(Fr::from(k), Some(rec(k)))]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    let (staged, unacknowledged) = svc.pending().await.unwrap();
    assert_eq!(staged, 3 + (2 - rows), "a held part was published");
    assert!(
        !unacknowledged,
        "no registry: nothing waits for an acknowledgement"
    );
    assert_eq!(
        svc.rows(),
        rows,
        "the published tree changed under the hold"
    );

    // The import's publication takes every part at once and ends the hold.
    let r = svc.publish().await.unwrap();
    assert_ne!(r.root, root);
    assert_eq!(svc.rows(), 5);
    svc.stage(vec![(Fr::from(15u64), None)]).await.unwrap();
    until_published(&svc).await;
    sched.abort();
}
