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
//!   commit. Either way a crash leaves the old tree or the new one.
//! - **At start** the stored root is compared with the published one and a sample of stored
//!   paths is checked; a store that disagrees refuses to start and names `--rebuild-tree`,
//!   which recomputes every node from the leaf table.

use super::store::{fr_blob, rec_blob, rec_bytes, Net};
use super::REBUILD_THRESHOLD;
use crate::store::{Sql, P};
use std::cell::RefCell;
use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::field::{fr_to_be_bytes, fr_to_dec};
use zkcredit_circuits::imt::paged::{
    build_sorted, check_path, hash_leaf_table, root_of, witness, Built, Counts, Delta, Group,
    NodeSource, Overlay,
};
use zkcredit_circuits::imt::{fresh_salt, Leaf, LookupWitness, SaltedRow, ARITY};
use zkcredit_circuits::{CircuitError, Fr};

/// Rows per page when a rebuild reads the old leaves, and per batch when it writes.
const PAGE: i64 = 5_000;
/// Stored paths checked at start.
const SAMPLE: usize = 32;

/// What the operator is told when the node store disagrees with the published root.
pub(super) const REBUILD_HINT: &str = "the tree's node store is corrupt or truncated; start the service once with --rebuild-tree to recompute every node from the leaf table (the leaf table and journal are kept)";

pub(super) fn tree_error(e: CircuitError) -> ApiError {
    match e {
        CircuitError::TreeFull { .. } => ApiError::new(ErrorCode::TreeFull, e.to_string()),
        other => ApiError::internal(other),
    }
}

fn group_bytes(g: &Group) -> Vec<u8> {
    g.iter().flat_map(fr_to_be_bytes).collect()
}

fn group_blob(b: &[u8]) -> Result<Group, ApiError> {
    if b.len() != 32 * ARITY {
        return Err(ApiError::internal("bad node group length in store"));
    }
    let mut g = [Fr::from(0u64); ARITY];
    for (k, x) in g.iter_mut().enumerate() {
        *x = fr_blob(&b[32 * k..32 * (k + 1)])?;
    }
    Ok(g)
}

fn leaf_row(row: Vec<crate::store::Cell>) -> Result<Leaf, ApiError> {
    let [k, n, r, s] = crate::store::cells::<4>(row)?;
    Ok(Leaf {
        key: fr_blob(&k.bytes("key")?)?,
        next_key: fr_blob(&n.bytes("next_key")?)?,
        values: rec_blob(&r.bytes("rec")?)?,
        salt: fr_blob(&s.bytes("salt")?)?,
    })
}

fn int(c: crate::store::Cell, what: &str) -> Result<u64, ApiError> {
    u64::try_from(c.int(what)?).map_err(|_| ApiError::internal(format!("negative {what}")))
}

pub(super) fn meta(s: &mut dyn Sql, k: &str) -> Result<Option<String>, ApiError> {
    s.row("SELECT v FROM meta WHERE k = $1", &[P::T(k)])?
        .and_then(|r| r.into_iter().next())
        .map(|c| c.text(k))
        .transpose()
}

pub(super) fn set_meta(s: &mut dyn Sql, k: &str, v: &str) -> Result<(), ApiError> {
    s.exec(
        "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        &[P::T(k), P::T(v)],
    )
    .map(|_| ())
}

/// A store transaction as a [`NodeSource`]. A store error is kept (with its code, e.g.
/// `database_unavailable`) and given back by [`SqlSource::error`].
pub(super) struct SqlSource<'a> {
    s: &'a mut dyn Sql,
    err: Option<ApiError>,
}

impl<'a> SqlSource<'a> {
    pub(super) fn new(s: &'a mut dyn Sql) -> Self {
        Self { s, err: None }
    }

    fn keep<T>(&mut self, r: Result<T, ApiError>) -> Result<T, CircuitError> {
        r.map_err(|e| {
            let m = e.message.clone();
            self.err = Some(e);
            CircuitError::Storage(m)
        })
    }

    /// The store's own error if there was one, else the tree's.
    pub(super) fn error(&mut self, e: CircuitError) -> ApiError {
        self.err.take().unwrap_or_else(|| tree_error(e))
    }

    fn one_group(
        &mut self,
        row: Option<Vec<crate::store::Cell>>,
    ) -> Result<Option<Group>, ApiError> {
        row.and_then(|r| r.into_iter().next())
            .map(|c| c.bytes("c").and_then(|b| group_blob(&b)))
            .transpose()
    }

    fn keyed_groups(
        &mut self,
        sql: &str,
        params: &[P<'_>],
    ) -> Result<std::collections::HashMap<(u64, u64), Group>, ApiError> {
        let rows = self.s.rows(sql, params)?;
        let mut out = std::collections::HashMap::with_capacity(rows.len());
        for r in rows {
            let [l, p, c] = crate::store::cells::<3>(r)?;
            out.insert(
                (int(l, "level")?, int(p, "parent")?),
                group_blob(&c.bytes("c")?)?,
            );
        }
        Ok(out)
    }
}

impl NodeSource for SqlSource<'_> {
    fn group(&mut self, level: usize, parent: u64) -> Result<Option<Group>, CircuitError> {
        let r = self
            .s
            .row(
                "SELECT c FROM nodes WHERE level = $1 AND parent = $2",
                &[P::I(level as i64), P::I(parent as i64)],
            )
            .and_then(|row| self.one_group(row));
        self.keep(r)
    }

    fn groups(
        &mut self,
        level: usize,
        parents: &[u64],
    ) -> Result<Vec<Option<Group>>, CircuitError> {
        let mut out = Vec::with_capacity(parents.len());
        for chunk in parents.chunks(500) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT level, parent, c FROM nodes WHERE level = $1 AND parent IN ({})",
                list.join(",")
            );
            let mut params = vec![P::I(level as i64)];
            params.extend(chunk.iter().map(|p| P::I(*p as i64)));
            let r = self.keyed_groups(&sql, &params);
            let found = self.keep(r)?;
            out.extend(
                chunk
                    .iter()
                    .map(|p| found.get(&(level as u64, *p)).copied()),
            );
        }
        Ok(out)
    }

    fn path_groups(&mut self, at: &[(usize, u64)]) -> Result<Vec<Option<Group>>, CircuitError> {
        let cond: Vec<String> = (0..at.len())
            .map(|i| format!("(level = ${} AND parent = ${})", 2 * i + 1, 2 * i + 2))
            .collect();
        let sql = format!(
            "SELECT level, parent, c FROM nodes WHERE {}",
            cond.join(" OR ")
        );
        let params: Vec<P<'_>> = at
            .iter()
            .flat_map(|(l, p)| [P::I(*l as i64), P::I(*p as i64)])
            .collect();
        let r = self.keyed_groups(&sql, &params);
        let found = self.keep(r)?;
        Ok(at
            .iter()
            .map(|(l, p)| found.get(&(*l as u64, *p)).copied())
            .collect())
    }

    fn leaf(&mut self, index: u64) -> Result<Option<Leaf>, CircuitError> {
        let r = self
            .s
            .row(
                "SELECT key, next_key, rec, salt FROM leaves WHERE idx = $1",
                &[P::I(index as i64)],
            )
            .and_then(|row| row.map(leaf_row).transpose());
        self.keep(r)
    }

    fn index_of(&mut self, key: &Fr) -> Result<Option<u64>, CircuitError> {
        let k = fr_to_be_bytes(key);
        let r = self
            .s
            .row("SELECT idx FROM leaves WHERE key = $1", &[P::B(Some(&k))])
            .and_then(|row| {
                row.and_then(|r| r.into_iter().next())
                    .map(|c| int(c, "idx"))
                    .transpose()
            });
        self.keep(r)
    }

    fn below(&mut self, key: &Fr) -> Result<(Fr, u64), CircuitError> {
        let k = fr_to_be_bytes(key);
        let r = self
            .s
            .row(
                "SELECT key, idx FROM leaves WHERE key < $1 ORDER BY key DESC LIMIT 1",
                &[P::B(Some(&k))],
            )
            .and_then(|row| {
                let row =
                    row.ok_or_else(|| ApiError::internal("the leaf table has no sentinel"))?;
                let [k, i] = crate::store::cells::<2>(row)?;
                Ok((fr_blob(&k.bytes("key")?)?, int(i, "idx")?))
            });
        self.keep(r)
    }

    fn free_from(&mut self, from: u64) -> Result<Option<u64>, CircuitError> {
        let r = self
            .s
            .row(
                "SELECT idx FROM free_slots WHERE idx >= $1 ORDER BY idx LIMIT 1",
                &[P::I(from as i64)],
            )
            .and_then(|row| {
                row.and_then(|r| r.into_iter().next())
                    .map(|c| int(c, "idx"))
                    .transpose()
            });
        self.keep(r)
    }

    fn counts(&mut self) -> Result<Counts, CircuitError> {
        let r = read_counts(self.s);
        self.keep(r)
    }
}

fn read_counts(s: &mut dyn Sql) -> Result<Counts, ApiError> {
    let n = |v: Option<String>, what: &str| -> Result<u64, ApiError> {
        v.ok_or_else(|| ApiError::internal(format!("the tree store records no {what}")))?
            .parse()
            .map_err(|_| ApiError::internal(format!("the tree store's {what} is not a number")))
    };
    Ok(Counts {
        len: n(meta(s, "len")?, "len")?,
        table_len: n(meta(s, "table_len")?, "table_len")?,
    })
}

fn write_counts(s: &mut dyn Sql, c: Counts) -> Result<(), ApiError> {
    set_meta(s, "len", &c.len.to_string())?;
    set_meta(s, "table_len", &c.table_len.to_string())
}

/// Buffered writes of leaves and groups into `leaves_t` / `nodes_t`, several rows per
/// statement.
struct Writer {
    leaves_t: &'static str,
    nodes_t: &'static str,
    upsert: bool,
    leaves: Vec<(u64, Leaf)>,
    groups: Vec<(usize, u64, Group)>,
}

impl Writer {
    fn new(leaves_t: &'static str, nodes_t: &'static str, upsert: bool) -> Self {
        Self {
            leaves_t,
            nodes_t,
            upsert,
            leaves: Vec::new(),
            groups: Vec::new(),
        }
    }

    fn put(&mut self, s: &mut dyn Sql, b: Built<'_>) -> Result<(), ApiError> {
        match b {
            Built::Leaf(i, l) => self.leaves.push((i, *l)),
            Built::Group(l, p, g) => self.groups.push((l, p, *g)),
        }
        if self.leaves.len() + self.groups.len() >= PAGE as usize {
            self.flush(s)?;
        }
        Ok(())
    }

    fn flush(&mut self, s: &mut dyn Sql) -> Result<(), ApiError> {
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
        if let Some(l) = l {
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

/// The DDL of the tables a rebuild writes before they replace `leaves` and `nodes`.
fn next_tables(s: &dyn Sql) -> [&'static str; 2] {
    if s.is_postgres() {
        [
            "CREATE TABLE leaves_next (idx BIGINT PRIMARY KEY, key BYTEA NOT NULL, next_key BYTEA NOT NULL, rec BYTEA NOT NULL, salt BYTEA NOT NULL)",
            "CREATE TABLE nodes_next (level BIGINT NOT NULL, parent BIGINT NOT NULL, c BYTEA NOT NULL, PRIMARY KEY (level, parent))",
        ]
    } else {
        [
            "CREATE TABLE leaves_next (idx INTEGER PRIMARY KEY, key BLOB NOT NULL, next_key BLOB NOT NULL, rec BLOB NOT NULL, salt BLOB NOT NULL)",
            "CREATE TABLE nodes_next (level INTEGER NOT NULL, parent INTEGER NOT NULL, c BLOB NOT NULL, PRIMARY KEY (level, parent)) WITHOUT ROWID",
        ]
    }
}

/// Replaces `leaves` and `nodes` by the `_next` tables and empties the free list.
fn swap_in_next(s: &mut dyn Sql) -> Result<(), ApiError> {
    for q in [
        "DROP TABLE leaves",
        "ALTER TABLE leaves_next RENAME TO leaves",
        "DROP TABLE nodes",
        "ALTER TABLE nodes_next RENAME TO nodes",
    ] {
        s.exec(q, &[])?;
    }
    if s.is_postgres() {
        s.exec("ALTER INDEX leaves_next_pkey RENAME TO leaves_pkey", &[])?;
        s.exec("ALTER INDEX nodes_next_pkey RENAME TO nodes_pkey", &[])?;
    }
    s.exec("CREATE INDEX leaves_key ON leaves (key)", &[])?;
    s.exec("DELETE FROM free_slots", &[])?;
    Ok(())
}

/// The old leaves in key order, the sentinel excluded, read a page at a time.
struct KeyPages {
    after: Vec<u8>,
    page: std::vec::IntoIter<(Fr, Leaf)>,
    done: bool,
}

impl KeyPages {
    fn next(&mut self, s: &mut dyn Sql) -> Result<Option<(Fr, Leaf)>, ApiError> {
        if let Some(x) = self.page.next() {
            return Ok(Some(x));
        }
        if self.done {
            return Ok(None);
        }
        let rows = s.rows(
            "SELECT key, next_key, rec, salt FROM leaves WHERE key > $1 ORDER BY key LIMIT $2",
            &[P::B(Some(&self.after)), P::I(PAGE)],
        )?;
        self.done = (rows.len() as i64) < PAGE;
        let page: Vec<(Fr, Leaf)> = rows
            .into_iter()
            .map(|r| leaf_row(r).map(|l| (l.key, l)))
            .collect::<Result<_, _>>()?;
        if let Some((k, _)) = page.last() {
            self.after = fr_to_be_bytes(k).to_vec();
        }
        self.page = page.into_iter();
        Ok(self.page.next())
    }
}

/// The outcome of applying a journal.
#[derive(Debug)]
pub(super) struct Applied {
    pub(super) root: Fr,
    pub(super) counts: Counts,
    pub(super) rebuilt: bool,
}

/// Applies the net journal `net` to the tree inside the caller's write transaction `s`:
/// row by row through an overlay, or by a rebuild when the journal rewrites more than
/// [`REBUILD_THRESHOLD`] rows and a quarter of the tree. Every upserted row takes a fresh
/// salt (spec §4.1); unchanged rows keep theirs.
pub(super) fn apply(s: &mut dyn Sql, depth: usize, net: &Net) -> Result<Applied, ApiError> {
    let counts = read_counts(s)?;
    if net.len() > REBUILD_THRESHOLD && net.len() as u64 * 4 > counts.len {
        return rebuild(s, depth, net);
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
    Ok(Applied {
        root: delta.root,
        counts: delta.counts,
        rebuilt: false,
    })
}

/// Rebuilds the tree from the old leaves merged with `net`, streaming, into new tables.
fn rebuild(s: &mut dyn Sql, depth: usize, net: &Net) -> Result<Applied, ApiError> {
    for ddl in next_tables(s) {
        s.exec(ddl, &[])?;
    }
    let s = RefCell::new(s);
    let mut old = KeyPages {
        after: vec![0u8; 32],
        page: Vec::new().into_iter(),
        done: false,
    };
    let mut changes = net.iter().peekable();
    let mut head: Option<(Fr, Leaf)> = None;
    let rows = std::iter::from_fn(|| -> Option<Result<SaltedRow, TreeErr>> {
        loop {
            if head.is_none() {
                match old.next(*s.borrow_mut()) {
                    Ok(h) => head = h,
                    Err(e) => return Some(Err(e.into())),
                }
            }
            let take_change = match (&head, changes.peek()) {
                (None, None) => return None,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some((hk, _)), Some((ck, _))) => *ck <= hk,
            };
            if take_change {
                let (k, v) = changes.next().expect("peeked");
                if head.as_ref().is_some_and(|(hk, _)| hk == k) {
                    head = None;
                }
                if let Some(v) = v {
                    return Some(Ok((*k, *v, fresh_salt())));
                }
            } else {
                let (k, l) = head.take().expect("matched");
                return Some(Ok((k, l.values, l.salt)));
            }
        }
    });
    let mut w = Writer::new("leaves_next", "nodes_next", false);
    let built = build_sorted(depth, rows, |b| w.put(*s.borrow_mut(), b).map_err(TreeErr));
    let s = s.into_inner();
    let (root, counts) = built.map_err(|e| e.0)?;
    w.flush(s)?;
    swap_in_next(s)?;
    write_counts(s, counts)?;
    Ok(Applied {
        root,
        counts,
        rebuilt: true,
    })
}

/// A store error inside the tree's streaming builders (which also raise tree errors).
struct TreeErr(ApiError);

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

/// Makes the node store whole: on a store that has none yet (created by an earlier release,
/// or new) or when `rebuild` is asked, recomputes every node and the free list from the
/// leaf table (streaming, in index order); a new store gets its sentinel leaf.
pub(super) fn prepare(s: &mut dyn Sql, depth: usize, rebuild: bool) -> Result<(), ApiError> {
    if meta(s, "tree_format")?.as_deref() == Some("2") && !rebuild {
        return Ok(());
    }
    s.exec("DELETE FROM nodes", &[])?;
    s.exec("DELETE FROM free_slots", &[])?;
    let has_sentinel = s
        .row("SELECT idx FROM leaves WHERE idx = 0", &[])?
        .is_some();
    if !has_sentinel {
        if s.row("SELECT idx FROM leaves LIMIT 1", &[])?.is_some() {
            return Err(ApiError::internal(
                "the leaf table has leaves but no sentinel at index 0",
            ));
        }
        let z = [0u8; 32];
        let zr = [0u8; 96];
        s.exec(
            "INSERT INTO leaves (idx, key, next_key, rec, salt) VALUES (0, $1, $1, $2, $1)",
            &[P::B(Some(&z)), P::B(Some(&zr))],
        )?;
    }
    let s = RefCell::new(s);
    let mut after = -1i64;
    let mut page: std::vec::IntoIter<(u64, Leaf)> = Vec::new().into_iter();
    let mut done = false;
    let mut holes: Vec<u64> = Vec::new();
    let mut last: Option<u64> = None;
    let leaves = std::iter::from_fn(|| -> Option<Result<(u64, Leaf), TreeErr>> {
        if let Some(x) = page.next() {
            return Some(Ok(x));
        }
        if done {
            return None;
        }
        let read = s.borrow_mut().rows(
            "SELECT idx, key, next_key, rec, salt FROM leaves WHERE idx > $1 ORDER BY idx LIMIT $2",
            &[P::I(after), P::I(PAGE)],
        );
        let rows = match read {
            Ok(r) => r,
            Err(e) => return Some(Err(e.into())),
        };
        done = (rows.len() as i64) < PAGE;
        let mut got = Vec::with_capacity(rows.len());
        for mut r in rows {
            let rest = r.split_off(1);
            let i = match r.pop().map(|c| int(c, "idx")) {
                Some(Ok(i)) => i,
                Some(Err(e)) => return Some(Err(e.into())),
                None => return Some(Err(ApiError::internal("empty row").into())),
            };
            match leaf_row(rest) {
                Ok(l) => got.push((i, l)),
                Err(e) => return Some(Err(e.into())),
            }
            let from = last.map_or(0, |l| l + 1);
            holes.extend(from..i);
            last = Some(i);
            after = i as i64;
        }
        page = got.into_iter();
        page.next().map(Ok)
    });
    let mut w = Writer::new("leaves", "nodes", false);
    let (_, counts) = hash_leaf_table(depth, leaves, |b| {
        w.put(*s.borrow_mut(), b).map_err(TreeErr)
    })
    .map_err(|e| e.0)?;
    let s = s.into_inner();
    w.flush(s)?;
    let free: Vec<P<'_>> = holes.iter().map(|i| P::I(*i as i64)).collect();
    s.insert_many("INSERT INTO free_slots (idx)", "", 1, &free)?;
    write_counts(s, counts)?;
    set_meta(s, "tree_format", "2")?;
    tracing::info!(
        rows = counts.len,
        "recomputed the tree's node store from its leaf table"
    );
    Ok(())
}

/// A refusal to start, for the operator's console (never sent over HTTP).
fn refuse_start(message: String) -> ApiError {
    tracing::error!(%message, "the tree store is refused");
    ApiError::new(ErrorCode::Internal, message)
}

/// Checks the stored tree at start: its root against the published one, and the stored
/// paths of a sample of leaves (the first, the last, and random ones) against the root.
/// Returns the root and counts.
pub(super) fn verify(s: &mut dyn Sql, depth: usize) -> Result<(Fr, Counts), ApiError> {
    use rand::Rng;
    let published = meta(s, "published_root")?;
    let mut src = SqlSource::new(s);
    let checked = (|| -> Result<(Fr, Counts), CircuitError> {
        let root = root_of(&mut src, depth)?;
        let counts = src.counts()?;
        let mut at = vec![0, counts.table_len.saturating_sub(1)];
        let mut rng = rand::rngs::OsRng;
        at.extend((0..SAMPLE).map(|_| rng.gen_range(0..counts.table_len.max(1))));
        for i in at {
            check_path(&mut src, depth, i, &root)?;
        }
        Ok((root, counts))
    })();
    let (root, counts) = checked.map_err(|e| match src.err.take() {
        Some(db) => db,
        None => refuse_start(format!("{REBUILD_HINT} ({e})")),
    })?;
    if let Some(p) = published {
        if p != fr_to_dec(&root) {
            return Err(refuse_start(format!(
                "{REBUILD_HINT} (its root {} is not the published root {p}; if it stays so after \
                 a rebuild, the leaf table itself was altered: restore the data directory from a \
                 backup or re-import the rows)",
                fr_to_dec(&root)
            )));
        }
    }
    Ok((root, counts))
}

/// A witness read from one committed state: `(root, published_at, present, witness)`.
pub(super) fn read_witness(
    s: &mut dyn Sql,
    depth: usize,
    key: &Fr,
) -> Result<(Fr, u64, bool, LookupWitness), ApiError> {
    let at = meta(s, "published_at")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut src = SqlSource::new(s);
    let r = (|| {
        let root = root_of(&mut src, depth)?;
        let (present, w) = witness(&mut src, depth, key)?;
        Ok::<_, CircuitError>((root, present, w))
    })();
    match r {
        Ok((root, present, w)) => Ok((root, at, present, w)),
        Err(CircuitError::KeyOutOfRange) => Err(ApiError::new(
            ErrorCode::BadKey,
            CircuitError::KeyOutOfRange.to_string(),
        )
        .field("attestation.subject_key")),
        Err(e) => Err(src.error(e)),
    }
}

/// The published record of `key`.
pub(super) fn published_row(s: &mut dyn Sql, key: &Fr) -> Result<Option<[Fr; 3]>, ApiError> {
    let k = fr_to_be_bytes(key);
    s.row("SELECT rec FROM leaves WHERE key = $1", &[P::B(Some(&k))])?
        .and_then(|r| r.into_iter().next())
        .map(|c| c.bytes("rec").and_then(|b| rec_blob(&b)))
        .transpose()
}

/// The published root, time and counts (after a failed publication, or at start).
pub(super) fn published(s: &mut dyn Sql, depth: usize) -> Result<(Fr, u64, Counts), ApiError> {
    let at = meta(s, "published_at")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut src = SqlSource::new(s);
    let root = root_of(&mut src, depth).map_err(|e| src.error(e))?;
    let counts = read_counts(s)?;
    Ok((root, at, counts))
}
