//! Issue 10, finding 5, over real HTTP: a non-membership witness served by a provider's
//! witness API (`POST /v1/witness`) carries the low leaf **sealed** — its key, next key and
//! the commitment `H(v0, v1, v2, salt)` — never the neighbour's record (spec §4.1, §4.2,
//! §8). The subject's own (membership) witness opens its record; salts are persisted, kept
//! across a restart and renewed on every value change.

use zkcredit_api::provider::WitnessResponse;
use zkcredit_api::unix_now;
use zkcredit_circuits::eligibility::EligibilityParams;
use zkcredit_circuits::field::{fr_from_dec, fr_to_dec};
use zkcredit_circuits::imt::LeafRecord;
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;
use zkcredit_prover::circuits::CircuitId;
use zkcredit_testkit::alliance::Alliance;
use zkcredit_testkit::scenario::Layout;
use zkcredit_wallet::wallet::Wallet;

const P: EligibilityParams = EligibilityParams { slots: 4, depth: 8 };

/// The neighbour's fraud-list record `(reason, listed_at, 0)`: numbers that appear nowhere
/// else in the answer.
const NEIGHBOUR: [u64; 3] = [987_654_321, 1_234_567_891, 0];

/// Posts the signed witness request raw and returns the body text and its decoded form.
async fn raw_witness(
    http: &reqwest::Client,
    url: &str,
    req: &zkcredit_api::auth::WitnessRequest,
) -> (String, WitnessResponse) {
    let r = http
        .post(format!("{url}/v1/witness"))
        .json(req)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let text = r.text().await.unwrap();
    let resp = serde_json::from_str(&text).unwrap();
    (text, resp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_05_non_membership_witness_reveals_no_neighbour_record() {
    let dir = tempfile::tempdir().unwrap();
    let prover = CircuitId::Eligibility(P).insecure_dev_prover().unwrap();
    let a = Alliance::start(dir.path(), P, Layout::for_slots(P.slots), &prover.pk().vk)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let issuer = a.issuer_client(&http);
    let fraud = a.provider(Role::FraudList, 0).unwrap();
    let lender = a.provider(Role::Lender, 0).unwrap();
    let (fraud_c, lender_c) = (fraud.client(&http), lender.client(&http));

    // Alice is KYC'd; the fraud list holds her two neighbours (keys just below and above
    // hers), the lender holds her own record.
    let mut alice = Wallet::generate();
    let app = alice.register(&issuer, "AB-100 200").await.unwrap();
    let approved = issuer
        .approve(&a.admin, &app.application_id, Default::default())
        .await
        .unwrap();
    alice
        .set_attestation(approved.attestation.unwrap())
        .unwrap();
    let x = alice.subject_key().unwrap();
    let (below, above) = (x - Fr::from(1u64), x + Fr::from(1u64));
    for k in [below, above] {
        fraud_c
            .upsert(&a.admin, &fr_to_dec(&k), NEIGHBOUR.map(Into::into))
            .await
            .unwrap();
    }
    lender_c
        .upsert(&a.admin, &fr_to_dec(&x), [2u64, 3_000, 4].map(Into::into))
        .await
        .unwrap();
    a.publish_all().await.unwrap();

    // Non-membership at the fraud list: the low leaf is the neighbour's, sealed.
    let fraud_id = fraud.tree.config().provider_id;
    let req = alice.witness_request(&fraud_id, unix_now()).unwrap();
    let (text, resp) = raw_witness(&http, &fraud.server.url(), &req).await;
    assert!(!resp.present);
    let w = &resp.witness;
    assert_eq!((w.leaf.key, w.leaf.next_key), (below, above));
    let LeafRecord::Sealed { commitment } = w.leaf.record else {
        panic!("the low leaf must be sealed: {text}");
    };
    assert_eq!(w.leaf.values(), None);
    for v in &NEIGHBOUR[..2] {
        assert!(
            !text.contains(&v.to_string()),
            "the neighbour's value {v} leaks: {text}"
        );
    }
    assert!(!text.contains("\"values\""), "{text}");
    assert!(!text.contains("\"salt\""), "{text}");
    // It is still a valid non-membership witness (native twin of the gadget).
    let root = fr_from_dec(&resp.root).unwrap();
    assert_eq!(w.verify(&root, &x), Some((false, [Fr::from(0u64); 3])));

    // Membership at the lender: Alice's own record, open.
    let lender_id = lender.tree.config().provider_id;
    let req = alice.witness_request(&lender_id, unix_now()).unwrap();
    let (_, own) = raw_witness(&http, &lender.server.url(), &req).await;
    assert!(own.present);
    let expected = [2u64, 3_000, 4].map(Fr::from);
    assert_eq!(own.witness.leaf.values(), Some(expected));
    let lender_root = fr_from_dec(&own.root).unwrap();
    assert_eq!(own.witness.verify(&lender_root, &x), Some((true, expected)));

    // The same values written again take a fresh salt: the sealed commitment changes, so
    // an observer of commitments cannot even tell that the record was rewritten unchanged.
    fraud_c
        .upsert(&a.admin, &fr_to_dec(&below), NEIGHBOUR.map(Into::into))
        .await
        .unwrap();
    a.publish_all().await.unwrap();
    let req = alice.witness_request(&fraud_id, unix_now()).unwrap();
    let (_, again) = raw_witness(&http, &fraud.server.url(), &req).await;
    let LeafRecord::Sealed {
        commitment: renewed,
    } = again.witness.leaf.record
    else {
        panic!("sealed");
    };
    assert_ne!(renewed, commitment, "a value change takes a fresh salt");

    // Salts are persisted: the store, once its service stops (one process holds a SQLite
    // tree), reopens to the same root (which commits to them).
    let at = dir.path().join(format!("provider-{}", fraud.slot));
    let (cfg, admin) = (fraud.tree.config().clone(), a.admin.clone());
    a.stop().await.unwrap();
    let reopened = zkcredit_services::provider::ProviderService::open(&at, cfg, &admin).unwrap();
    assert_eq!(reopened.tree().status().root, again.root);
}
