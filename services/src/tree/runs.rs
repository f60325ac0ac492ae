//! The SQLite journal as sorted runs (spec §4.4 "The journal on SQLite"): each stage appends
//! its batch in key order as one run of consecutive `seq`s and records the run's span in
//! `runs`. No index is kept on the journal's keys: inserting a batch into a `(key, seq)`
//! index lands each entry on a page at random, and every stage then rewrote nearly every
//! page of an index that grows with the journal (staging 10^7 rows: 131.8 s, 41× the
//! 10^6 time, `benches/TREES.md`). Instead:
//! - a publication merges the runs in `(key, seq)` order ([`RunMerge`]), reading each run
//!   forward by `seq`, a page at a time;
//! - the last staged record of one key is found by a binary search in each run, newest run
//!   first ([`staged`]);
//! - the pending count is the runs' lengths ([`pending`]).
//!
//! Every run lies wholly on one side of the `journal_applied` mark (a stage is one
//! transaction and a publication reads under the same write lock), so the readers skip the
//! runs that start at or below it. PostgreSQL keeps its `(key, seq)` index
//! (`pages::JournalPages`), where concurrent stages may interleave their `seq`s.

use super::cleanup::JOURNAL_APPLIED;
use crate::store::{db, Sql, P};
use rusqlite::OptionalExtension;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use zkcredit_api::ApiError;

/// Journal entries a merge holds in memory at most, over all its runs' pages.
const MERGE_BUDGET: usize = 200_000;
/// Rows per page of one run: at most the rebuild's page, at least this.
const MIN_RUN_PAGE: usize = 16;

/// One journal entry as stored: `seq`, the 32-byte key, the record (`None`: a delete).
pub(super) type Entry = (i64, [u8; 32], Option<Vec<u8>>);

/// Damage to the journal, named for the operator (the journal's readers are the
/// publication and the admin's row lookup; the message holds `seq`s, never a key).
fn damaged(what: String) -> ApiError {
    let message =
        format!("the provider store's journal is damaged: {what}; restore the store from a backup");
    tracing::error!(%message, "journal damaged");
    ApiError::new(zkcredit_api::ErrorCode::Internal, message)
}

fn key32(b: Vec<u8>, seq: i64) -> Result<[u8; 32], ApiError> {
    b.try_into()
        .map_err(|_| damaged(format!("entry {seq} has a key that is not 32 bytes")))
}

/// The `journal_applied` mark as a `seq` (0 when none).
fn mark_of(v: Option<String>) -> Result<i64, ApiError> {
    match v {
        None => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| damaged(format!("the mark `{JOURNAL_APPLIED}` is `{v}`"))),
    }
}

/// Records the run `first..=last` that a stage's transaction has just appended (SQLite),
/// after checking that its `seq`s are consecutive (`n` entries).
pub(super) fn record(
    tx: &rusqlite::Transaction<'_>,
    first: i64,
    last: i64,
    n: usize,
) -> Result<(), ApiError> {
    if last - first + 1 != n as i64 {
        return Err(ApiError::internal(format!(
            "provider store: a stage of {n} entries was given seqs {first}..={last}, not consecutive"
        )));
    }
    tx.execute(
        "INSERT INTO runs (first_seq, last_seq) VALUES (?1, ?2)",
        rusqlite::params![first, last],
    )
    .map(|_| ())
    .map_err(db)
}

fn sqlite_mark(conn: &rusqlite::Connection) -> Result<i64, ApiError> {
    mark_of(
        conn.query_row("SELECT v FROM meta WHERE k = ?1", [JOURNAL_APPLIED], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db)?,
    )
}

/// The number of journal entries not yet applied (SQLite): the lengths of the runs above
/// the mark, without reading an entry.
pub(super) fn pending(conn: &rusqlite::Connection) -> Result<i64, ApiError> {
    conn.query_row(
        "SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM runs WHERE first_seq > ?1",
        [sqlite_mark(conn)?],
        |r| r.get(0),
    )
    .map_err(db)
}

/// [`pending`] inside the caller's transaction.
pub(super) fn entries(s: &mut dyn Sql) -> Result<u64, ApiError> {
    let mark = mark_of(super::source::meta(s, JOURNAL_APPLIED)?)?;
    s.count(
        "SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM runs WHERE first_seq > $1",
        &[P::I(mark)],
    )
}

/// The last staged record for `key` (SQLite): `None` nothing staged, `Some(None)` a delete.
/// One binary search per run, newest first; the first run holding the key answers (its
/// last entry for the key, as a run keeps a key's entries in `seq` order).
pub(super) fn staged(
    conn: &rusqlite::Connection,
    key: &[u8],
) -> Result<Option<Option<Vec<u8>>>, ApiError> {
    let mark = sqlite_mark(conn)?;
    let runs: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT first_seq, last_seq FROM runs WHERE first_seq > ?1 ORDER BY first_seq DESC",
        )
        .map_err(db)?
        .query_map([mark], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let mut at = conn
        .prepare_cached("SELECT key, rec FROM changes WHERE seq = ?1")
        .map_err(db)?;
    let mut entry = |seq: i64| -> Result<(Vec<u8>, Option<Vec<u8>>), ApiError> {
        at.query_row([seq], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db)?
            .ok_or_else(|| damaged(format!("entry {seq} of a recorded run is missing")))
    };
    for (first, last) in runs {
        // The last position whose key is at most `key`.
        let (mut lo, mut hi, mut found) = (first, last, None);
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            if entry(mid)?.0.as_slice() <= key {
                found = Some(mid);
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        if let Some(i) = found {
            let (k, rec) = entry(i)?;
            if k == key {
                return Ok(Some(rec));
            }
        }
    }
    Ok(None)
}

/// One run's read position and its current page.
struct Cursor {
    first: i64,
    next: i64,
    last: i64,
    page: VecDeque<Entry>,
    prev: Option<[u8; 32]>,
}

/// The journal's entries above the mark in `(key, seq)` order: a k-way merge of the runs,
/// each read forward a page at a time (the pages sized so that all of them together hold
/// at most [`MERGE_BUDGET`] entries). A run whose keys go down, or whose entries are not
/// all there, is reported as damage, not merged.
pub(super) struct RunMerge {
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<([u8; 32], i64, usize)>>,
    budget: usize,
    page: usize,
    started: bool,
}

impl RunMerge {
    pub(super) fn new() -> Self {
        Self::with_budget(MERGE_BUDGET)
    }

    /// A merge holding at most `budget` entries in memory (pages of at least
    /// [`MIN_RUN_PAGE`] each).
    pub(super) fn with_budget(budget: usize) -> Self {
        Self {
            cursors: Vec::new(),
            heap: BinaryHeap::new(),
            budget,
            page: MIN_RUN_PAGE,
            started: false,
        }
    }

    fn start(&mut self, s: &mut dyn Sql) -> Result<(), ApiError> {
        self.started = true;
        let mark = mark_of(super::source::meta(s, JOURNAL_APPLIED)?)?;
        for r in s.rows(
            "SELECT first_seq, last_seq FROM runs WHERE first_seq > $1 ORDER BY first_seq",
            &[P::I(mark)],
        )? {
            let [first, last] = crate::store::cells::<2>(r)?;
            let (first, last) = (first.int("first")?, last.int("last")?);
            self.cursors.push(Cursor {
                first,
                next: first,
                last,
                page: VecDeque::new(),
                prev: None,
            });
        }
        self.page = (self.budget / self.cursors.len().max(1))
            .clamp(MIN_RUN_PAGE, super::pages::PAGE as usize);
        for i in 0..self.cursors.len() {
            self.advance(s, i)?;
        }
        Ok(())
    }

    /// Puts run `i`'s next entry on the heap, reading its next page when needed.
    fn advance(&mut self, s: &mut dyn Sql, i: usize) -> Result<(), ApiError> {
        let c = &mut self.cursors[i];
        if c.page.is_empty() && c.next <= c.last {
            let want = ((c.last - c.next + 1) as usize).min(self.page);
            let rows = s.rows(
                "SELECT seq, key, rec FROM changes WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                &[P::I(c.next), P::I(c.last), P::I(want as i64)],
            )?;
            for r in rows {
                let [seq, key, rec] = crate::store::cells::<3>(r)?;
                let seq = seq.int("seq")?;
                if seq != c.next {
                    return Err(damaged(format!(
                        "entry {} of the run {}..={} is missing",
                        c.next, c.first, c.last
                    )));
                }
                let key = key32(key.bytes("key")?, seq)?;
                if c.prev.is_some_and(|p| p > key) {
                    return Err(damaged(format!(
                        "the run {}..={} is not in key order at entry {seq}",
                        c.first, c.last
                    )));
                }
                c.prev = Some(key);
                let rec = rec.opt_bytes("rec")?;
                c.page.push_back((seq, key, rec));
                c.next += 1;
            }
            if c.page.len() < want {
                return Err(damaged(format!(
                    "entry {} of the run {}..={} is missing",
                    c.next, c.first, c.last
                )));
            }
        }
        if let Some((seq, key, _)) = c.page.front() {
            self.heap.push(Reverse((*key, *seq, i)));
        }
        Ok(())
    }

    /// The next entry in `(key, seq)` order.
    pub(super) fn next(&mut self, s: &mut dyn Sql) -> Result<Option<Entry>, ApiError> {
        if !self.started {
            self.start(s)?;
        }
        let Some(Reverse((_, _, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let e = self.cursors[i]
            .page
            .pop_front()
            .ok_or_else(|| ApiError::internal("journal merge: a run's head was not in its page"))?;
        self.advance(s, i)?;
        Ok(Some(e))
    }
}
