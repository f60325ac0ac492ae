//! The verifier's configuration: its identity (bound into every request context) and the
//! policies the lender offers.

use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::eligibility::Policy;

/// Verifier configuration.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// This verifier's identity, bound into every context.
    pub verifier_id: [u8; 32],
    /// Base URL of the registry service.
    pub registry_url: String,
    /// Seconds a replaced registry root stays acceptable.
    pub root_window: u64,
    /// Accepted |now − server clock|.
    pub max_skew: u64,
    /// Longest request lifetime a client may ask for.
    pub max_ttl: u64,
    /// The policies this lender offers; a request for any other is refused
    /// (`policy_not_offered`), so a borrower cannot open a request with a laxer policy.
    /// Empty: any policy (tests and tools only).
    pub policies: Vec<Policy>,
}

/// The verifier id kept in `data_dir/verifier-id` (32 bytes), created from OS randomness
/// on first start.
pub fn load_or_create_verifier_id(data_dir: &std::path::Path) -> Result<[u8; 32], ApiError> {
    use rand::RngCore;
    let path = data_dir.join("verifier-id");
    match std::fs::read(&path) {
        Ok(b) => b.try_into().map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("{}: not 32 bytes", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            std::fs::create_dir_all(data_dir).map_err(ApiError::internal)?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, b)
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| {
                    ApiError::new(ErrorCode::BadRequest, format!("{}: {e}", path.display()))
                })?;
            Ok(b)
        }
        Err(e) => Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("{}: {e}", path.display()),
        )),
    }
}

/// The policies of a policy file: one policy object or an array of them .
pub fn parse_policies(text: &str) -> Result<Vec<Policy>, ApiError> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, e.to_string()))?;
    let list = if v.is_array() {
        v
    } else {
        serde_json::Value::Array(vec![v])
    };
    serde_json::from_value(list).map_err(|e| ApiError::new(ErrorCode::InvalidBody, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_file_is_one_policy_or_a_list_and_garbage_is_refused() {
        let one = r#"{"max_active_loans": 2, "max_outstanding": 9, "max_arrears_days": 0,
            "min_score": 700, "max_score_age": 60, "max_root_age": 60}"#;
        let p = parse_policies(one).unwrap();
        assert_eq!(
            (p.len(), p[0].max_active_loans, p[0].min_score),
            (1, 2, 700)
        );
        assert_eq!(parse_policies(&format!("[{one},{one}]")).unwrap().len(), 2);
        assert_eq!(
            parse_policies("{").unwrap_err().code,
            ErrorCode::MalformedJson
        );
        assert_eq!(
            parse_policies(r#"{"max_active_loans": 1}"#)
                .unwrap_err()
                .code,
            ErrorCode::InvalidBody
        );
    }
}
