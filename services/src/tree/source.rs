//! Reading the tree on disk (spec §4.4): a store transaction as a [`NodeSource`], the
//! counts and metadata, and what is read from one committed state — the start-up check, a
//! witness, a published record.

use super::store::{fr_blob, rec_blob};
use crate::store::{Cell, Sql, P};
use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::field::{fr_to_be_bytes, fr_to_dec};
use zkcredit_circuits::imt::paged::{check_path, root_of, witness, Counts, Group, NodeSource};
use zkcredit_circuits::imt::{Leaf, LookupWitness, ARITY};
use zkcredit_circuits::{CircuitError, Fr};

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

pub(super) fn group_bytes(g: &Group) -> Vec<u8> {
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

pub(super) fn leaf_row(row: Vec<Cell>) -> Result<Leaf, ApiError> {
    let [k, n, r, s] = crate::store::cells::<4>(row)?;
    Ok(Leaf {
        key: fr_blob(&k.bytes("key")?)?,
        next_key: fr_blob(&n.bytes("next_key")?)?,
        values: rec_blob(&r.bytes("rec")?)?,
        salt: fr_blob(&s.bytes("salt")?)?,
    })
}

pub(super) fn int(c: Cell, what: &str) -> Result<u64, ApiError> {
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

    fn one_group(&mut self, row: Option<Vec<Cell>>) -> Result<Option<Group>, ApiError> {
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

pub(super) fn read_counts(s: &mut dyn Sql) -> Result<Counts, ApiError> {
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

pub(super) fn write_counts(s: &mut dyn Sql, c: Counts) -> Result<(), ApiError> {
    set_meta(s, "len", &c.len.to_string())?;
    set_meta(s, "table_len", &c.table_len.to_string())
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
