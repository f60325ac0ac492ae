//! The tree on disk (spec §4.4), written once against [`Sql`] for both backends: the leaf
//! table, every inner node (`nodes`: one row of four children per parent), the free list
//! and the counts live in the store, so a tree opens without rehashing and a process holds
//! only what one operation touches.
//!
//! - **Witnesses** are read inside one read transaction (a SQLite read on its own
//!   connection, a PostgreSQL `REPEATABLE READ` snapshot): leaf, path and root all come
//!   from one committed publication, while the next one is being written.
//! - **A publication** is one write transaction: the journal is applied through an
//!   [`Overlay`] (only the changed paths are rehashed), or — for a journal that rewrites a
//!   large part of the tree — the tree is rebuilt by merging the old leaves (in key order,
//!   page by page) with the journal into new tables that replace the old ones at the
//!   commit. Either way a crash leaves the old tree or the new one. On SQLite a rebuild
//!   commits its new tables in parts before that transaction, and what the publication
//!   replaced (the applied journal, the old tables) is removed in parts after it
//!   ([`super::cleanup`]): nothing the tree or the journal is read from changes in those
//!   parts.
//! - **At start** the stored root is compared with the published one and a sample of stored
//!   paths is checked; a store that disagrees refuses to start and names `--rebuild-tree`,
//!   which recomputes every node from the leaf table.

use super::cleanup::JOURNAL_APPLIED;
use super::pages::{JournalPages, KeyPages, PAGE};
use super::seqs::SeqSet;
use super::source::{
    group_bytes, meta, read_counts, set_meta, tree_error, write_counts, SqlSource,
};
use super::store::{fr_blob, rec_blob, rec_bytes, Net};
use super::REBUILD_THRESHOLD;
use crate::store::{Cell, Sql, P};
use std::cell::RefCell;
use zkcredit_api::{unix_now, ApiError};
use zkcredit_circuits::field::{fr_to_be_bytes, fr_to_dec};
use zkcredit_circuits::imt::paged::{build_sorted, Built, Counts, Delta, Group, Overlay};
use zkcredit_circuits::imt::{fresh_salt, Leaf, SaltedRow};
use zkcredit_circuits::{CircuitError, Fr};

/// A SQLite rebuild commits its new tables every this many flushes (`PAGE` rows each, so
/// 20,000 rows a part): a rebuild in one transaction kept the whole new tree in the WAL
/// until it committed (10.15 GB of data directory for the 5.06 GB kept at 10^7 rows), and
/// every page SQLite wrote was looked up in a WAL index that grew with it.
const PART_FLUSHES: usize = 4;

/// Buffered writes of leaves and groups into `leaves_t` / `nodes_t`, several rows per
/// statement.
pub(super) struct Writer {
    flushes: usize,
    /// Committing a part every [`PART_FLUSHES`] flushes (SQLite: tables no reader reads).
    pub(super) parted: bool,
    /// Writing a rebuild (the `rebuild:middle` crash point).
    rebuilding: bool,
    leaves_t: &'static str,
    nodes_t: &'static str,
    upsert: bool,
    leaves: Vec<(u64, Leaf)>,
    groups: Vec<(usize, u64, Group)>,
}

impl Writer {
    pub(super) fn new(leaves_t: &'static str, nodes_t: &'static str, upsert: bool) -> Self {
        Self {
            flushes: 0,
            parted: false,
            rebuilding: false,
            leaves_t,
            nodes_t,
            upsert,
            leaves: Vec::new(),
            groups: Vec::new(),
        }
    }

    pub(super) fn put(&mut self, s: &mut dyn Sql, b: Built<'_>) -> Result<(), ApiError> {
        match b {
            Built::Leaf(i, l) => self.leaves.push((i, *l)),
            Built::Group(l, p, g) => self.groups.push((l, p, *g)),
        }
        if self.leaves.len() + self.groups.len() >= PAGE as usize {
            self.flush(s)?;
        }
        Ok(())
    }

    pub(super) fn flush(&mut self, s: &mut dyn Sql) -> Result<(), ApiError> {
        self.flushes += 1;
        if self.rebuilding && self.flushes == PART_FLUSHES + 1 {
            super::crash_point("rebuild:middle");
        }
        if !self.leaves.is_empty() {
            let cols: Vec<[Vec<u8>; 4]> = self
                .leaves
                .iter()
                .map(|(_, l)| {
                    [
                        fr_to_be_bytes(&l.key).to_vec(),
                        fr_to_be_bytes(&l.next_key).to_vec(),
                        rec_bytes(&l.values),
                        fr_to_be_bytes(&l.salt).to_vec(),
                    ]
                })
                .collect();
            let mut params = Vec::with_capacity(5 * cols.len());
            for ((i, _), c) in self.leaves.iter().zip(&cols) {
                params.push(P::I(*i as i64));
                params.extend(c.iter().map(|b| P::B(Some(b))));
            }
            s.insert_many(
                &format!("INSERT INTO {} (idx, key, next_key, rec, salt)", self.leaves_t),
                if self.upsert {
                    "ON CONFLICT (idx) DO UPDATE SET key = excluded.key, next_key = excluded.next_key, rec = excluded.rec, salt = excluded.salt"
                } else {
                    ""
                },
                5,
                &params,
            )?;
            self.leaves.clear();
        }
        if !self.groups.is_empty() {
            let blobs: Vec<Vec<u8>> = self.groups.iter().map(|(_, _, g)| group_bytes(g)).collect();
            let mut params = Vec::with_capacity(3 * blobs.len());
            for ((l, p, _), b) in self.groups.iter().zip(&blobs) {
                params.extend([P::I(*l as i64), P::I(*p as i64), P::B(Some(b))]);
            }
            s.insert_many(
                &format!("INSERT INTO {} (level, parent, c)", self.nodes_t),
                if self.upsert {
                    "ON CONFLICT (level, parent) DO UPDATE SET c = excluded.c"
                } else {
                    ""
                },
                3,
                &params,
            )?;
            self.groups.clear();
        }
        if self.parted && self.flushes.is_multiple_of(PART_FLUSHES) {
            s.commit_part()?;
        }
        Ok(())
    }
}

/// Writes an overlay's delta.
fn write_delta(s: &mut dyn Sql, d: &Delta) -> Result<(), ApiError> {
    for (i, l) in &d.leaves {
        if l.is_none() {
            s.exec("DELETE FROM leaves WHERE idx = $1", &[P::I(*i as i64)])?;
        }
    }
    let mut w = Writer::new("leaves", "nodes", true);
    for (i, l) in &d.leaves {
        let Some(l) = l else { continue };
        // On SQLite a leaf that keeps its key (an updated row, or a low leaf whose next key
        // moved) is rewritten without naming `key`: an upsert that sets it, even to itself,
        // rewrites the key index's entry too, one more page written per leaf (2,000 updates
        // wrote 3,049 WAL frames so, 1,737 without). A new leaf, or one whose index now
        // holds another key, is upserted. (PostgreSQL compares the indexed values itself,
        // and a statement per row would cost a round trip each.)
        if s.is_postgres() {
            w.put(s, Built::Leaf(*i, l))?;
            continue;
        }
        let (next, rec, salt) = (
            fr_to_be_bytes(&l.next_key),
            rec_bytes(&l.values),
            fr_to_be_bytes(&l.salt),
        );
        let key = fr_to_be_bytes(&l.key);
        let kept = s.exec(
            "UPDATE leaves SET next_key = $1, rec = $2, salt = $3 WHERE idx = $4 AND key = $5",
            &[
                P::B(Some(&next)),
                P::B(Some(&rec)),
                P::B(Some(&salt)),
                P::I(*i as i64),
                P::B(Some(&key)),
            ],
        )?;
        if kept == 0 {
            w.put(s, Built::Leaf(*i, l))?;
        }
    }
    for (l, p, g) in &d.groups {
        w.put(s, Built::Group(*l, *p, g))?;
    }
    w.flush(s)?;
    for i in &d.reused {
        s.exec("DELETE FROM free_slots WHERE idx = $1", &[P::I(*i as i64)])?;
    }
    let freed: Vec<P<'_>> = d.freed.iter().map(|i| P::I(*i as i64)).collect();
    s.insert_many("INSERT INTO free_slots (idx)", "", 1, &freed)?;
    write_counts(s, d.counts)
}

/// Creates the tables a rebuild writes on SQLite before they replace `leaves` and `nodes`,
/// with the key index on the new leaves (filled as they are written, in key order). Index
/// names are one namespace in SQLite and the old leaves keep theirs until they are removed
/// in parts after the swap, so the new index takes the name the old one does not have.
fn create_next_tables(s: &mut dyn Sql) -> Result<(), ApiError> {
    let old = s
        .row(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leaves' AND sql IS NOT NULL",
            &[],
        )?
        .and_then(|r| r.into_iter().next())
        .map(|c| c.text("index name"))
        .transpose()?;
    let index = if old.as_deref() == Some("leaves_key") {
        "leaves_key_b"
    } else {
        "leaves_key"
    };
    for q in [
        "CREATE TABLE leaves_next (idx INTEGER PRIMARY KEY, key BLOB NOT NULL, next_key BLOB NOT NULL, rec BLOB NOT NULL, salt BLOB NOT NULL)",
        &format!("CREATE INDEX {index} ON leaves_next (key)"),
        NODES_NEXT,
    ] {
        s.exec(q, &[])?;
    }
    Ok(())
}

/// The table a SQLite rebuild (of the tree, or of the node store alone) writes its groups into.
pub(super) const NODES_NEXT: &str = "CREATE TABLE nodes_next (level INTEGER NOT NULL, parent INTEGER NOT NULL, c BLOB NOT NULL, PRIMARY KEY (level, parent)) WITHOUT ROWID";

/// Puts the `_next` tables in place of `leaves` and `nodes`, which become `_old` (removed in
/// parts after the commit, [`super::cleanup`]), and empties the free list (SQLite).
fn swap_in_next(s: &mut dyn Sql) -> Result<(), ApiError> {
    for q in [
        "ALTER TABLE leaves RENAME TO leaves_old",
        "ALTER TABLE leaves_next RENAME TO leaves",
        "ALTER TABLE nodes RENAME TO nodes_old",
        "ALTER TABLE nodes_next RENAME TO nodes",
        "DELETE FROM free_slots",
    ] {
        s.exec(q, &[])?;
    }
    Ok(())
}

/// The outcome of applying a journal.
#[derive(Debug)]
pub(super) struct Applied {
    pub(super) root: Fr,
    pub(super) counts: Counts,
    pub(super) rebuilt: bool,
}

/// Applies the net journal `net` to the tree inside the caller's write transaction `s`, row
/// by row through an overlay. Every upserted row takes a fresh salt (spec §4.1); unchanged
/// rows keep theirs.
fn apply(s: &mut dyn Sql, depth: usize, net: &Net, warm: Warm<'_>) -> Result<Applied, ApiError> {
    if let Some(warm) = warm {
        let keys: Vec<Fr> = net.keys().copied().collect();
        warm(&keys);
    }
    let mut src = SqlSource::new(s);
    let delta = {
        let run = |src: &mut SqlSource<'_>| -> Result<Delta, CircuitError> {
            let mut ov = Overlay::new(src, depth)?;
            for (k, v) in net {
                match v {
                    Some(v) => ov.upsert_salted(*k, *v, fresh_salt())?,
                    None => match ov.delete(k) {
                        Err(CircuitError::KeyNotFound) => {}
                        r => r?,
                    },
                }
            }
            ov.finish()
        };
        match run(&mut src) {
            Ok(d) => d,
            Err(e) => return Err(src.error(e)),
        }
    };
    write_delta(s, &delta)?;
    super::crash_point("overlay:written");
    Ok(Applied {
        root: delta.root,
        counts: delta.counts,
        rebuilt: false,
    })
}

/// Rebuilds the tree from the old leaves merged with the journal (both read in key order,
/// a page at a time), streaming. On SQLite the new tree is written into new tables,
/// committed in parts of 20,000 rows (no reader reads them; a crash leaves parts that
/// [`super::cleanup`] removes), which replace the old ones in the publication's last part
/// (a WAL reader keeps its snapshot of the old ones). On PostgreSQL no
/// shared table is dropped or renamed (a reader's snapshot would find the new, to it empty,
/// tables, and the locks would queue every witness behind the rebuild): the old leaves are
/// copied into a temporary table, the tables emptied and refilled in the same transaction —
/// older snapshots keep seeing the old rows.
fn rebuild(s: &mut dyn Sql, depth: usize, journal: &mut JournalPages) -> Result<Applied, ApiError> {
    let pg = s.is_postgres();
    let (old_table, mut w) = if pg {
        for q in [
            "CREATE TEMP TABLE rebuild_old ON COMMIT DROP AS SELECT key, next_key, rec, salt FROM leaves WHERE idx > 0",
            "CREATE INDEX ON rebuild_old (key)",
            "DELETE FROM leaves",
            "DELETE FROM nodes",
            "DELETE FROM free_slots",
        ] {
            s.exec(q, &[])?;
        }
        ("rebuild_old", Writer::new("leaves", "nodes", false))
    } else {
        create_next_tables(s)?;
        let mut w = Writer::new("leaves_next", "nodes_next", false);
        w.parted = true;
        ("leaves", w)
    };
    w.rebuilding = true;
    let s = RefCell::new(s);
    let mut old = KeyPages {
        table: old_table,
        after: vec![0u8; 32],
        page: Vec::new().into_iter(),
        done: false,
    };
    let mut head: Option<(Fr, Leaf)> = None;
    let rows = std::iter::from_fn(|| -> Option<Result<SaltedRow, TreeErr>> {
        loop {
            if head.is_none() {
                match old.next(*s.borrow_mut()) {
                    Ok(h) => head = h,
                    Err(e) => return Some(Err(e.into())),
                }
            }
            let change = match journal.peek(*s.borrow_mut()) {
                Ok(c) => c.map(|(k, _)| k),
                Err(e) => return Some(Err(e.into())),
            };
            let take_change = match (&head, change) {
                (None, None) => return None,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some((hk, _)), Some(ck)) => ck <= *hk,
            };
            if take_change {
                let (k, v) = match journal.next(*s.borrow_mut()) {
                    Ok(Some(c)) => c,
                    Ok(None) => return None,
                    Err(e) => return Some(Err(e.into())),
                };
                if head.as_ref().is_some_and(|(hk, _)| *hk == k) {
                    head = None;
                }
                if let Some(v) = v {
                    return Some(Ok((k, v, fresh_salt())));
                }
            } else {
                let (k, l) = head.take().expect("matched");
                return Some(Ok((k, l.values, l.salt)));
            }
        }
    });
    let built = build_sorted(depth, rows, |b| w.put(*s.borrow_mut(), b).map_err(TreeErr));
    let s = s.into_inner();
    let (root, counts) = built.map_err(|e| e.0)?;
    w.flush(s)?;
    if !pg {
        swap_in_next(s)?;
    }
    super::crash_point("rebuild:swapped");
    write_counts(s, counts)?;
    Ok(Applied {
        root,
        counts,
        rebuilt: true,
    })
}

/// A store error inside the tree's streaming builders (which also raise tree errors).
pub(super) struct TreeErr(pub(super) ApiError);

impl From<CircuitError> for TreeErr {
    fn from(e: CircuitError) -> Self {
        Self(tree_error(e))
    }
}

impl From<ApiError> for TreeErr {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

/// The journal's `(MIN(seq), MAX(seq))` as this transaction sees it (`None` when empty).
fn journal_span(s: &mut dyn Sql) -> Result<Option<(i64, i64)>, ApiError> {
    let Some(row) = s.row("SELECT MIN(seq), MAX(seq) FROM changes", &[])? else {
        return Ok(None);
    };
    let [lo, hi] = crate::store::cells::<2>(row)?;
    Ok(match (lo, hi) {
        (Cell::Null, _) | (_, Cell::Null) => None,
        (lo, hi) => Some((lo.int("min seq")?, hi.int("max seq")?)),
    })
}

/// Reads, on other connections, that bring a row-by-row publication's pages into the page
/// cache before it reads them itself (SQLite: `db::Prefetch`); given the changed keys.
pub(in crate::tree) type Warm<'a> = Option<&'a dyn Fn(&[Fr])>;

/// What one publication did.
#[derive(Debug)]
pub(in crate::tree) struct Outcome {
    pub(in crate::tree) root: Fr,
    pub(in crate::tree) published_at: u64,
    pub(in crate::tree) counts: Counts,
    pub(in crate::tree) changes: usize,
    pub(in crate::tree) rebuilt: bool,
    /// Seconds spent applying the journal to the tree (hashing and writing nodes).
    pub(in crate::tree) apply_seconds: f64,
}

/// One publication inside the caller's write transaction: the journal read (net of
/// overwrites), the writer token checked (PostgreSQL: a process taken over stops there,
/// before the tree is touched), the journal applied, the new root and time recorded with
/// `registry_pending`, and exactly the applied journal entries removed (on SQLite: marked
/// applied, `journal_applied`, and removed after the commit by [`super::cleanup`]). On
/// SQLite a rebuild commits its new tables in parts inside this call.
pub(in crate::tree) fn publish_tx(
    s: &mut dyn Sql,
    depth: usize,
    writer: Option<&str>,
    check_writer: fn(&mut dyn Sql, &str) -> Result<(), ApiError>,
    warm: Warm<'_>,
) -> Result<Outcome, ApiError> {
    // A journal that rewrites more than REBUILD_THRESHOLD rows and a quarter of the tree is
    // merged with the old leaves by a streaming rebuild; a smaller one is read whole and
    // applied row by row.
    // (On SQLite the journal's entries, not its distinct keys: `runs` keeps no key index,
    // and the choice only trades time, never the tree.)
    let entries = if s.is_postgres() {
        s.count("SELECT COUNT(DISTINCT key) FROM changes", &[])?
    } else {
        super::runs::entries(s)?
    };
    let stream = entries > REBUILD_THRESHOLD as u64 && entries * 4 > read_counts(s)?.len;
    let mut seqs = if s.is_postgres() {
        SeqSet::keeping(journal_span(s)?)
    } else {
        SeqSet::max_only()
    };
    let mut net = Net::new();
    if !stream {
        let rows = s.rows("SELECT seq, key, rec FROM changes ORDER BY seq", &[])?;
        if !s.is_postgres() && rows.len() as u64 != entries {
            // Read whole, not through the runs: they must agree (the stream's merge checks
            // its own way).
            return Err(super::runs::damaged(format!(
                "its runs span {entries} entries, the journal holds {}",
                rows.len()
            )));
        }
        for r in rows {
            let [seq, key, rec] = crate::store::cells::<3>(r)?;
            seqs.insert(seq.int("seq")?);
            let rec = rec.opt_bytes("rec")?;
            net.insert(
                fr_blob(&key.bytes("key")?)?,
                rec.as_deref().map(rec_blob).transpose()?,
            );
        }
    }
    if let Some(w) = writer {
        check_writer(s, w)?;
    }
    // Strictly later than the previous publication (the caller waited for the clock to
    // pass it, `TreeService::pace`; this covers a clock stepped back): the registry takes a
    // new root only at a later time (§7.0).
    let previous: u64 = meta(s, "published_at")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let now = unix_now().max(previous.saturating_add(1));
    let t = std::time::Instant::now();
    let (applied, changes) = if stream {
        let mut journal = JournalPages::new(seqs);
        let applied = rebuild(s, depth, &mut journal)?;
        seqs = journal.seqs;
        (applied, journal.keys)
    } else {
        (apply(s, depth, &net, warm)?, net.len())
    };
    let apply_seconds = t.elapsed().as_secs_f64();
    set_meta(s, "published_root", &fr_to_dec(&applied.root))?;
    set_meta(s, "published_at", &now.to_string())?;
    set_meta(s, "registry_pending", "1")?;
    if s.is_postgres() {
        // Concurrent stages may commit entries out of `seq` order: remove exactly these,
        // by runs of consecutive entries.
        for chunk in seqs.runs().chunks(500) {
            let terms: Vec<String> = (0..chunk.len())
                .map(|i| format!("seq BETWEEN ${} AND ${}", 2 * i + 1, 2 * i + 2))
                .collect();
            let params: Vec<P<'_>> = chunk
                .iter()
                .flat_map(|(a, b)| [P::I(*a), P::I(*b)])
                .collect();
            s.exec(
                &format!("DELETE FROM changes WHERE {}", terms.join(" OR ")),
                &params,
            )?;
        }
    } else if let Some(max) = seqs.max() {
        // Writes are serialised by the store's one writer connection (its mutex is held for
        // the whole publication, parts included): every entry up to the last one read is
        // applied. They are marked so here and removed after the commit, in parts
        // (`cleanup`): deleted in this transaction, a journal of 10^8 entries would pass
        // through the WAL whole.
        set_meta(s, JOURNAL_APPLIED, &max.to_string())?;
    }
    super::crash_point("publish:before-commit");
    Ok(Outcome {
        root: applied.root,
        published_at: now,
        counts: applied.counts,
        changes,
        rebuilt: applied.rebuilt,
        apply_seconds,
    })
}
