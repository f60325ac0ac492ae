//! What the app holds between requests: the unlocked wallet (the holder secret never leaves
//! this process), the lender request being answered, and the proof being made.

use crate::job::Job;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use zkcredit_api::verifier::ProofRequest;
use zkcredit_wallet::Wallet;

/// A lender the wallet trusts: a name for people, the verifier id the lender publishes and
/// the base URL of its verifier. A request link must be at that URL and its request must
/// name that id, so neither the nullifier check nor the proof ever goes anywhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KnownLender {
    /// The lender's name as shown on the page.
    pub name: String,
    /// Its verifier id (64 hex digits, lower case).
    pub verifier_id: String,
    /// Its verifier's base URL (`http(s)://host[:port][/path]`, no trailing slash).
    pub url: String,
}

impl KnownLender {
    /// Parses `NAME=VERIFIER_ID=URL` (the name 1..=64 printable characters without `=`, the
    /// id 32 bytes of hex, the URL the verifier's `http(s)` base without query or fragment).
    pub fn parse(s: &str) -> Result<Self, String> {
        let form = "expected NAME=VERIFIER_ID=URL (the id: 64 hex digits from the lender's `GET /v1/verifier`; the URL: its verifier's base URL)";
        let mut parts = s.splitn(3, '=');
        let (Some(name), Some(id), Some(url)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("{s:?}: {form}"));
        };
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(format!(
                "{s:?}: the lender's name must be 1 to 64 printable characters"
            ));
        }
        let id = id.trim().to_ascii_lowercase();
        if !matches!(hex::decode(&id), Ok(b) if b.len() == 32) {
            return Err(format!(
                "{s:?}: the verifier id must be 64 hex digits (the lender's `GET /v1/verifier`)"
            ));
        }
        let url = base_url(url.trim()).ok_or_else(|| {
            format!("{s:?}: the URL must be an http(s) base URL without query or fragment")
        })?;
        Ok(Self {
            name: name.to_string(),
            verifier_id: id,
            url,
        })
    }
}

/// `url` as a verifier base URL (scheme http or https, a host, no query, fragment or user
/// info, at most 512 bytes), without its trailing slash.
pub(crate) fn base_url(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let host = rest.split('/').next().unwrap_or("");
    let ok = url.len() <= 512
        && !host.is_empty()
        && !host.contains('@')
        && !url.contains(['?', '#', ' ', '\\'])
        && !url.chars().any(char::is_control);
    ok.then(|| url.trim_end_matches('/').to_string())
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
    /// A proof is being sent to the lender.
    pub submitting: bool,
}

impl Session {
    /// Whether a proof is being made or sent now.
    pub fn busy(&self) -> bool {
        self.submitting
            || self.job.as_ref().is_some_and(|j| {
                j.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .running()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lenders() {
        let id = "ab".repeat(32);
        let l = KnownLender::parse(&format!(
            "Acme Bank = {}=https://api.acme.example/",
            id.to_uppercase()
        ))
        .unwrap();
        assert_eq!(l.name, "Acme Bank");
        assert_eq!(l.verifier_id, id);
        assert_eq!(l.url, "https://api.acme.example");
        for bad in [
            "no-id".to_string(),
            format!("Acme={id}"),
            format!("={id}=http://x"),
            "x=abcd=http://x".into(),
            format!("{}={id}=http://x", "n".repeat(65)),
            format!("A={id}=ftp://x"),
            format!("A={id}=http://"),
            format!("A={id}=http://x/?q=1"),
            format!("A={id}=http://user@x"),
        ] {
            assert!(KnownLender::parse(&bad).is_err(), "{bad}");
        }
    }
}
