//! Fuzzing (property tests over arbitrary bytes and arbitrary field values) of every decoder
//! of outside data the new roles added: bulk imports (CSV and JSON, as a provider receives
//! them), and everything a wallet decodes from services (proof requests, registry views,
//! witness answers, application views, proof files). None may panic; each input is either
//! decoded or refused with a typed error. Counts per run: 4 properties × 2,000 generated
//! cases = 8,000 inputs (2,000 byte strings through 3 import parsers, 2,000 CSV lines of
//! arbitrary fields, 2,000 byte strings through 5 wallet-side decoders, 2,000 hostile
//! witnesses). Elsewhere: auth decoders 2,000 (`api/src/auth.rs`), keystore 2,000
//! (`wallet/src/keystore.rs`), client answers (`api/src/client`), verifier decoders
//! (`verifier` crate property tests).

use proptest::prelude::*;
use zkcredit_api::issuer::ApplicationView;
use zkcredit_api::provider::WitnessResponse;
use zkcredit_api::registry::RegistryView;
use zkcredit_api::verifier::ProofRequest;
use zkcredit_circuits::field::fr_to_dec;
use zkcredit_circuits::imt::{LeafRecord, LookupWitness, WitnessLeaf};
use zkcredit_circuits::registry::Role;
use zkcredit_circuits::Fr;
use zkcredit_services::tree::parse_import;
use zkcredit_wallet::wallet::ProofFile;

const ROLES: [Role; 4] = [Role::Kyc, Role::FraudList, Role::Lender, Role::Bureau];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn imports_of_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), r in 0usize..4) {
        let _ = parse_import(ROLES[r], "text/csv", &bytes);
        let _ = parse_import(ROLES[r], "application/json", &bytes);
        let _ = parse_import(ROLES[r], "text/csv; charset=utf-8", &bytes);
    }

    #[test]
    fn csv_lines_of_arbitrary_fields_are_decoded_or_refused(
        k in "[0-9]{0,80}|-?[0-9a-z]{0,6}", a in "[0-9]{0,22}|x", b in "[0-9 ]{0,21}", c in "[0-9]{0,3}", r in 0usize..4,
    ) {
        let line = format!("{k},{a},{b},{c}\n");
        match parse_import(ROLES[r], "text/csv", line.as_bytes()) {
            Ok(rows) => {
                prop_assert_eq!(rows.len(), 1);
                // Accepted values are u64s (and the key in range), as the circuit needs.
                let v = rows[0].1.unwrap();
                for (i, x) in v.iter().enumerate() {
                    if !(ROLES[r] == Role::Kyc && i == 0) {
                        prop_assert!(zkcredit_circuits::field::fr_to_u64(x).is_some());
                    }
                }
            }
            Err(e) => prop_assert!(e.status() == 400 && e.field.is_some()),
        }
    }

    #[test]
    fn wallet_side_decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = serde_json::from_slice::<ProofRequest>(&bytes);
        let _ = serde_json::from_slice::<RegistryView>(&bytes);
        let _ = serde_json::from_slice::<WitnessResponse>(&bytes);
        let _ = serde_json::from_slice::<ApplicationView>(&bytes);
        if let Ok(f) = serde_json::from_slice::<ProofFile>(&bytes) {
            if let Some(p) = f.submission().proof.groth16() {
                let _ = p.to_proof();
            }
        }
    }

    /// A hostile provider's witness: any index, any number of siblings, values anywhere in
    /// the field. The wallet's checks (root, verify) never panic.
    #[test]
    fn hostile_witnesses_never_panic(index in any::<u64>(), n in 0usize..200, seed in any::<u64>(), x in any::<u64>()) {
        let siblings: Vec<Fr> = (0..n as u64).map(|i| Fr::from(seed.wrapping_mul(i + 1))).collect();
        let record = if seed % 2 == 0 {
            LeafRecord::Open { values: [Fr::from(1u64); 3], salt: Fr::from(seed) }
        } else {
            LeafRecord::Sealed { commitment: Fr::from(seed) }
        };
        let w = LookupWitness { index, leaf: WitnessLeaf { key: Fr::from(x), next_key: Fr::from(seed), record }, siblings };
        let root = w.computed_root();
        let _ = w.verify(&root, &Fr::from(x));
        let json = serde_json::json!({"provider_id": "1", "role": "lender", "root": fr_to_dec(&root), "published_at": 1, "present": true, "witness": w});
        prop_assert!(serde_json::from_value::<WitnessResponse>(json).is_ok());
    }
}
