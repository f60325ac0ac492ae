//! What the app holds between requests: the unlocked wallet (the holder secret never leaves
//! this process), the lender request being answered, and the proof being made.

use crate::job::Job;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use zkcredit_api::verifier::ProofRequest;
use zkcredit_wallet::Wallet;

/// A lender the wallet trusts: a name for people and the verifier id the lender publishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KnownLender {
    /// The lender's name as shown on the page.
    pub name: String,
    /// Its verifier id (64 hex digits, lower case).
    pub verifier_id: String,
}

impl KnownLender {
    /// Parses `NAME=VERIFIER_ID_HEX` (the name 1..=64 printable characters, the id 32 bytes).
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, id) = s
            .rsplit_once('=')
            .ok_or_else(|| format!("{s:?}: expected NAME=VERIFIER_ID (64 hex digits)"))?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(format!(
                "{s:?}: the lender's name must be 1 to 64 printable characters"
            ));
        }
        let id = id.trim().to_ascii_lowercase();
        match hex::decode(&id) {
            Ok(b) if b.len() == 32 => Ok(Self {
                name: name.to_string(),
                verifier_id: id,
            }),
            _ => Err(format!(
                "{s:?}: the verifier id must be 64 hex digits (the lender's `GET /v1/verifier`)"
            )),
        }
    }
}

/// The request being answered, once the wallet has checked it comes from a known lender.
#[derive(Clone, Debug)]
pub(crate) struct Opened {
    pub req: ProofRequest,
    /// The lender's verifier base URL.
    pub base: String,
    pub lender: KnownLender,
}

/// The app's state.
#[derive(Default)]
pub(crate) struct Session {
    pub wallet: Option<Wallet>,
    pub request: Option<Opened>,
    pub job: Option<Arc<Mutex<Job>>>,
}

impl Session {
    /// Whether a proof is being made now.
    pub fn busy(&self) -> bool {
        self.job
            .as_ref()
            .is_some_and(|j| j.lock().map(|j| j.running()).unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lenders() {
        let id = "ab".repeat(32);
        let l = KnownLender::parse(&format!("Acme Bank = {}", id.to_uppercase())).unwrap();
        assert_eq!(l.name, "Acme Bank");
        assert_eq!(l.verifier_id, id);
        assert!(KnownLender::parse("no-id").is_err());
        assert!(KnownLender::parse(&format!("={id}")).is_err());
        assert!(KnownLender::parse("x=abcd").is_err());
        assert!(KnownLender::parse(&format!("{}={id}", "n".repeat(65))).is_err());
    }
}
