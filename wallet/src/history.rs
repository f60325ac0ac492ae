//! The wallet's history of applications (`history.json` in the wallet directory): which
//! lender, when, and what was decided. Kept beside the keystore, on the borrower's machine
//! only; it names lenders and decisions, never the holder secret.

use crate::wallet::{write_private, WalletError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The most entries kept (the oldest are dropped first).
pub const MAX_ENTRIES: usize = 1000;

/// The history file in a wallet directory.
pub fn history_path(dir: &Path) -> PathBuf {
    dir.join("history.json")
}

/// One application. Unknown fields are ignored, so a history written by a newer version
/// still reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When (Unix seconds).
    pub at: u64,
    /// The lender's name as the wallet knows it.
    pub lender: String,
    /// The lender's verifier id (hex).
    pub verifier_id: String,
    /// The lender's product.
    pub product: String,
    /// `accepted`, `refused` (by the lender) or `not_sent` (the wallet found no proof can
    /// exist, or the person stopped).
    pub decision: String,
    /// The reason, in words.
    pub detail: String,
    /// Seconds the proof took, when one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prove_seconds: Option<f64>,
}

/// The history of `dir`, oldest first (empty when there is none yet).
pub fn load(dir: &Path) -> Result<Vec<Entry>, WalletError> {
    let p = history_path(dir);
    match std::fs::read(&p) {
        Ok(b) => {
            serde_json::from_slice(&b).map_err(|e| WalletError::Io(format!("{}: {e}", p.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(WalletError::Io(format!("{}: {e}", p.display()))),
    }
}

/// Serialises every append of this process (read, change, write of one file).
static APPENDS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Appends `entry` to the history of `dir` (written atomically, owner-only; appends of this
/// process are serialised). A history file that does not read is kept aside as
/// `history.json.unreadable-<time>` (nothing is deleted) and a new one is started.
pub fn append(dir: &Path, entry: Entry) -> Result<(), WalletError> {
    let _one = APPENDS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let p = history_path(dir);
    let mut all = match load(dir) {
        Ok(all) => all,
        Err(_) if p.exists() => {
            let aside = dir.join(format!("history.json.unreadable-{}", entry.at));
            std::fs::rename(&p, &aside)
                .map_err(|e| WalletError::Io(format!("{}: {e}", aside.display())))?;
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    all.push(entry);
    if all.len() > MAX_ENTRIES {
        all.drain(..all.len() - MAX_ENTRIES);
    }
    let json = serde_json::to_vec_pretty(&all)
        .map_err(|e| WalletError::Io(format!("{}: {e}", p.display())))?;
    write_private(&p, &json)
}

/// How long this wallet's last proof took, if it made one: the estimate shown next time.
pub fn last_prove_seconds(entries: &[Entry]) -> Option<f64> {
    entries.iter().rev().find_map(|e| e.prove_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_keeps_order_and_bounds_length() {
        let d = tempfile_dir();
        assert!(load(&d).unwrap().is_empty());
        for i in 0..(MAX_ENTRIES + 3) {
            append(
                &d,
                Entry {
                    at: i as u64,
                    lender: "L".into(),
                    verifier_id: "00".into(),
                    product: "p".into(),
                    decision: "accepted".into(),
                    detail: String::new(),
                    prove_seconds: (i % 2 == 0).then_some(i as f64),
                },
            )
            .unwrap();
        }
        let all = load(&d).unwrap();
        assert_eq!(all.len(), MAX_ENTRIES);
        assert_eq!(all[0].at, 3);
        assert_eq!(last_prove_seconds(&all), Some(MAX_ENTRIES as f64 + 2.0));
        std::fs::write(history_path(&d), b"{not json").unwrap();
        assert!(matches!(load(&d), Err(WalletError::Io(_))));
        // An unreadable file is kept aside, and a new history starts.
        let mut e = all[0].clone();
        e.at = 77;
        append(&d, e.clone()).unwrap();
        assert_eq!(load(&d).unwrap(), vec![e]);
        assert_eq!(
            std::fs::read(d.join("history.json.unreadable-77")).unwrap(),
            b"{not json"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "zkcredit-history-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
