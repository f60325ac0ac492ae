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
//! Every run lies wholly on one side of the `journal_applied` mark: a stage is one
//! transaction; stages and a publication take turns on the store's one writer connection
//! (its mutex is held for the whole publication, parts included); the merge fixes its runs
//! when it starts; and the mark is the largest `seq` it read. So the readers skip the runs
//! that start at or below the mark.
//!
//! Small stages (a single row) are merged into few runs as they come ([`append`]): at most
//! [`MAX_SMALL_RUNS`] runs shorter than [`SMALL_RUN`] entries follow each big run (small
//! runs older than a big run are never merged: they would pass its entries), and big runs
//! number at most one per [`SMALL_RUN`] entries, so the runs are at most 33 × (big + 1). A merge holds at most
//! max([`MERGE_BUDGET`], 16 × runs) entries in memory, and a lookup reads about
//! log2(length) entries per run. PostgreSQL keeps its `(key, seq)` index
//! (`pages::JournalPages`), where concurrent stages may interleave their `seq`s.

use super::cleanup::JOURNAL_APPLIED;
use crate::store::{db, Sql, P};
use rusqlite::OptionalExtension;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use zkcredit_api::ApiError;

/// Journal entries a merge holds in memory over all its runs' pages (at least
/// [`MIN_RUN_PAGE`] per run).
const MERGE_BUDGET: usize = 200_000;
/// Rows per page of one run: at most the rebuild's page, at least this.
const MIN_RUN_PAGE: usize = 16;

/// The entries of the runs above the mark `$1`, counted from their spans.
const PENDING: &str =
    "SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM runs WHERE first_seq > $1";

/// One journal entry as stored: `seq`, the 32-byte key, the record (`None`: a delete).
pub(super) type Entry = (i64, [u8; 32], Option<Vec<u8>>);

/// Damage to the journal, named for the operator (the journal's readers are the
/// publication and the admin's row lookup; the message holds `seq`s, never a key).
pub(super) fn damaged(what: String) -> ApiError {
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

/// Runs shorter than this are small: a small stage merges the newest small runs into its
/// own once there are [`MAX_SMALL_RUNS`] of them after the newest big run, so single-row
/// stages (an admin's upsert, a KYC approval) leave a bounded number of runs, and no entry
/// of a bulk import (parts of 50,000 rows) is ever rewritten. The price: with single-row
/// stages every 32nd rewrites the newest small runs (≈ 64 entries a stage on average, at
/// most ≈ 4,100 in one); with stages just under this size, one stage may read and rewrite
/// ≈ 135,000 entries (≈ 20 MB) in its transaction.
pub(super) const SMALL_RUN: usize = 4_096;
/// The most small runs after a big run (or at the journal's start) once a stage is done.
pub(super) const MAX_SMALL_RUNS: usize = 32;

/// The compaction of [`append`]: when `batch` is small and [`MAX_SMALL_RUNS`] small runs
/// follow the newest big run, their entries are read (each checked to lie in one of them),
/// deleted with their runs, and put before `batch`'s in one stable sort by key.
fn take_in_small_runs(
    tx: &rusqlite::Transaction<'_>,
    batch: &mut Vec<([u8; 32], Option<Vec<u8>>)>,
) -> Result<(), ApiError> {
    if batch.len() >= SMALL_RUN {
        return Ok(());
    }
    let mark = sqlite_mark(tx)?;
    let newest: Vec<(i64, i64)> = tx
        .prepare_cached(
            "SELECT first_seq, last_seq FROM runs WHERE first_seq > ?1 ORDER BY first_seq DESC LIMIT ?2",
        )
        .map_err(db)?
        .query_map(rusqlite::params![mark, MAX_SMALL_RUNS as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(db)?
        .collect::<Result<_, _>>()
        .map_err(db)?;
    let small: Vec<(i64, i64)> = newest
        .into_iter()
        .take_while(|(f, l)| l - f + 1 < SMALL_RUN as i64)
        .collect();
    let Some(&(from, _)) = small.last().filter(|_| small.len() >= MAX_SMALL_RUNS) else {
        return Ok(());
    };
    let want: i64 = small.iter().map(|(f, l)| l - f + 1).sum();
    // The run before them ends before `from` (else the deletion would cut it).
    let before: Option<i64> = tx
        .query_row(
            "SELECT MAX(last_seq) FROM runs WHERE first_seq < ?1",
            [from],
            |r| r.get(0),
        )
        .map_err(db)?;
    if before.is_some_and(|b| b >= from) {
        return Err(damaged(format!(
            "a run ending at entry {} overlaps the run from entry {from}",
            before.unwrap_or_default()
        )));
    }
    let mut spans = small.iter().rev().peekable();
    let mut merged: Vec<([u8; 32], Option<Vec<u8>>)> = Vec::new();
    {
        let mut st = tx
            .prepare_cached("SELECT seq, key, rec FROM changes WHERE seq >= ?1 ORDER BY seq")
            .map_err(db)?;
        let mut rows = st.query([from]).map_err(db)?;
        while let Some(r) = rows.next().map_err(db)? {
            let seq: i64 = r.get(0).map_err(db)?;
            // Every entry read lies in one of the runs merged (ascending spans).
            while spans.peek().is_some_and(|(_, l)| seq > *l) {
                spans.next();
            }
            if spans.peek().is_none_or(|(f, _)| seq < *f) {
                return Err(damaged(format!("entry {seq} lies in no recorded run")));
            }
            merged.push((key32(r.get(1).map_err(db)?, seq)?, r.get(2).map_err(db)?));
        }
    }
    if merged.len() as i64 != want {
        return Err(damaged(format!(
            "the {} newest runs from entry {from} span {want} entries, the journal holds {} from there",
            small.len(),
            merged.len()
        )));
    }
    tx.execute("DELETE FROM changes WHERE seq >= ?1", [from])
        .map_err(db)?;
    tx.execute("DELETE FROM runs WHERE first_seq >= ?1", [from])
        .map_err(db)?;
    merged.append(batch);
    merged.sort_by_key(|r| r.0);
    *batch = merged;
    Ok(())
}

/// Appends `batch` (in key order, a stable sort of what the stage was given) to the
/// journal as one run inside the stage's transaction `tx` (SQLite): consecutive `seq`s,
/// the span recorded in `runs`. A small batch that would leave more than
/// [`MAX_SMALL_RUNS`] small runs first takes in the newest small runs: their entries are
/// merged with it by a stable sort on the key (older entries first, so the last one still
/// wins), deleted, and appended with it, all in `tx`. Only the newest runs are merged, so no
/// entry moves past another run's entry for the same key.
pub(super) fn append(
    tx: &rusqlite::Transaction<'_>,
    mut batch: Vec<([u8; 32], Option<Vec<u8>>)>,
) -> Result<(), ApiError> {
    if batch.is_empty() {
        return Ok(());
    }
    take_in_small_runs(tx, &mut batch)?;
    let n = batch.len();
    let mut first = 0;
    {
        let mut st = tx
            .prepare_cached("INSERT INTO changes (key, rec) VALUES (?1, ?2)")
            .map_err(db)?;
        for (i, (k, rec)) in batch.iter().enumerate() {
            if i == n / 2 && i > 0 {
                crate::tree::crash_point("stage:middle");
            }
            st.execute(rusqlite::params![&k[..], rec]).map_err(db)?;
            if i == 0 {
                first = tx.last_insert_rowid();
            }
        }
    }
    let last = tx.last_insert_rowid();
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
    conn.query_row(&PENDING.replace('$', "?"), [sqlite_mark(conn)?], |r| {
        r.get(0)
    })
    .map_err(db)
}

/// [`pending`] inside the caller's transaction.
pub(super) fn entries(s: &mut dyn Sql) -> Result<u64, ApiError> {
    let mark = mark_of(super::source::meta(s, JOURNAL_APPLIED)?)?;
    s.count(PENDING, &[P::I(mark)])
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
        // The last entry whose key is at most `key`.
        let (mut lo, mut hi, mut found) = (first, last, None);
        while lo <= hi {
            let mid = lo + (hi - lo) / 2;
            let (k, rec) = entry(mid)?;
            if k.as_slice() <= key {
                found = Some((k, rec));
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        if let Some((k, rec)) = found {
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
            let after = self.cursors.last().map_or(mark, |c| c.last);
            if first > last || first <= after {
                return Err(damaged(format!(
                    "the run {first}..={last} is empty or overlaps the run or mark before it ({after})"
                )));
            }
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
