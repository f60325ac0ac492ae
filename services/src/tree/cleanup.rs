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
        // In `seq` order, a `seq` range a part: the journal has no key index on SQLite
        // (`runs`), so a part rewrites only the table's pages that hold it.
        while s.exec(
            "DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE seq <= $1 ORDER BY seq LIMIT $2)",
            &[P::I(mark), P::I(PART_ROWS)],
        )? > 0
        {
            s.commit_part()?;
            if !std::mem::replace(&mut removed, true) {
                super::crash_point("cleanup:journal");
            }
        }
    }
    if let Some(mark) = mark {
        // The spans of the removed runs (no key in them; harmless if left: every reader
        // skips the runs at or below the mark).
        s.exec("DELETE FROM runs WHERE first_seq <= $1", &[P::I(mark)])?;
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
