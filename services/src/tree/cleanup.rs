//! What a SQLite publication leaves behind to remove after it commits (spec §4.4), removed
//! in parts of [`PART_ROWS`] rows, each its own commit, so that no transaction — and so no
//! stretch of the WAL — grows with the tree:
//! - the applied journal: the entries up to the `journal_applied` mark, which the
//!   publication's own transaction records in place of deleting them;
//! - the tables a rebuild's swap replaced (`leaves_old`, `nodes_old`);
//! - the tables of a rebuild a crash interrupted (`leaves_next`, `nodes_next`: parts of a
//!   tree that was never published).
//!
//! None of these is read as the tree or the journal (the journal's readers skip entries up
//! to the mark), so removing them in parts changes nothing anyone sees. It runs after each
//! publication has committed, at start, at each tick of the provider's scheduler (a removal
//! that failed, e.g. on a full disk, is tried again) and before every publication.

use super::source::meta;
use crate::store::{Sql, P};
use zkcredit_api::ApiError;

/// `meta` key: every journal entry with a `seq` up to this one is applied to the published
/// tree (SQLite; PostgreSQL removes the applied entries in the publication's transaction).
pub(super) const JOURNAL_APPLIED: &str = "journal_applied";

/// Rows removed per committed part.
pub(super) const PART_ROWS: i64 = 20_000;

/// Tables that are never the tree, with the key a part is chosen by.
const LEFTOVERS: [(&str, &str); 4] = [
    ("leaves_next", "idx"),
    ("nodes_next", "level, parent"),
    ("leaves_old", "idx"),
    ("nodes_old", "level, parent"),
];

/// Whether the SQLite table `t` exists.
pub(super) fn table_exists(s: &mut dyn Sql, t: &str) -> Result<bool, ApiError> {
    Ok(s.row(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1",
        &[P::T(t)],
    )?
    .is_some())
}

/// Removes, in committed parts, the applied journal and the tables that are not the tree
/// (SQLite; nothing on PostgreSQL); whether there was anything to remove. The
/// `cleanup:journal` crash point follows the journal's first part.
pub(super) fn clean_up(s: &mut dyn Sql) -> Result<bool, ApiError> {
    if s.is_postgres() {
        return Ok(false);
    }
    let mut removed = false;
    let mark = meta(s, JOURNAL_APPLIED)?.and_then(|v| v.parse::<i64>().ok());
    // Whether any applied entry is left: one look at the `seq` key, not a walk of the
    // journal (this runs at every scheduler tick, also while an import stages millions).
    let left = match mark {
        Some(m) => s
            .row(
                "SELECT seq FROM changes WHERE seq <= $1 LIMIT 1",
                &[P::I(m)],
            )?
            .is_some(),
        None => false,
    };
    if let Some(mark) = mark.filter(|_| left) {
        // In key order, through the `(key, seq)` index: a stage inserts its batch in key
        // order, so a run of keys is a few runs of `seq` and each part rewrites few pages of
        // either tree. (In `seq` order nearly every entry of a part falls on an index page
        // of its own, each rewritten into the WAL.)
        let mut after: (Vec<u8>, i64) = (Vec::new(), 0);
        loop {
            let last = s.row(
                "SELECT key, seq FROM changes WHERE (key, seq) > ($1, $2) AND seq <= $3 ORDER BY key, seq LIMIT 1 OFFSET $4",
                &[P::B(Some(&after.0)), P::I(after.1), P::I(mark), P::I(PART_ROWS - 1)],
            )?;
            let n = match last {
                Some(row) => {
                    let [key, seq] = crate::store::cells::<2>(row)?;
                    let upto = (key.bytes("key")?, seq.int("seq")?);
                    let n = s.exec(
                        "DELETE FROM changes WHERE (key, seq) > ($1, $2) AND (key, seq) <= ($3, $4) AND seq <= $5",
                        &[P::B(Some(&after.0)), P::I(after.1), P::B(Some(&upto.0)), P::I(upto.1), P::I(mark)],
                    )?;
                    after = upto;
                    n
                }
                None => s.exec(
                    "DELETE FROM changes WHERE (key, seq) > ($1, $2) AND seq <= $3",
                    &[P::B(Some(&after.0)), P::I(after.1), P::I(mark)],
                )?,
            };
            if n == 0 {
                break;
            }
            s.commit_part()?;
            if !std::mem::replace(&mut removed, true) {
                super::crash_point("cleanup:journal");
            }
        }
    }
    for (t, key) in LEFTOVERS {
        if !table_exists(s, t)? {
            continue;
        }
        while s.exec(
            &format!("DELETE FROM {t} WHERE ({key}) IN (SELECT {key} FROM {t} LIMIT $1)"),
            &[P::I(PART_ROWS)],
        )? > 0
        {
            s.commit_part()?;
        }
        s.exec(&format!("DROP TABLE {t}"), &[])?;
        removed = true;
    }
    Ok(removed)
}
