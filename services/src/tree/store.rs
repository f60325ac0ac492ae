//! The tree's persistence (spec §4.4): the journal of staged changes, the leaf table as
//! last published, and the publication that applies one to the other in one transaction.

use super::{PublishReport, Published, REBUILD_THRESHOLD};
use crate::store::db;
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Instant;
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::{fr_from_be_bytes, fr_to_be_bytes, fr_to_dec};
use zkcredit_circuits::imt::{fresh_salt, IndexedMerkleTree, Leaf, SaltedRow};
use zkcredit_circuits::{CircuitError, Fr};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS leaves (
    idx INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    next_key BLOB NOT NULL,
    rec BLOB NOT NULL,
    salt BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key BLOB NOT NULL,
    rec BLOB
);
CREATE TABLE IF NOT EXISTS meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
";

pub(super) fn rec_bytes(v: &[Fr; 3]) -> Vec<u8> {
    v.iter().flat_map(fr_to_be_bytes).collect()
}

pub(super) fn fr_blob(b: &[u8]) -> Result<Fr, ApiError> {
    let a: [u8; 32] = b
        .try_into()
        .map_err(|_| ApiError::internal("bad blob length in store"))?;
    fr_from_be_bytes(&a).map_err(ApiError::internal)
}

pub(super) fn rec_blob(b: &[u8]) -> Result<[Fr; 3], ApiError> {
    if b.len() != 96 {
        return Err(ApiError::internal("bad record length in store"));
    }
    Ok([fr_blob(&b[..32])?, fr_blob(&b[32..64])?, fr_blob(&b[64..])?])
}

pub(super) fn meta(conn: &rusqlite::Connection, k: &str) -> Result<Option<String>, ApiError> {
    conn.query_row("SELECT v FROM meta WHERE k = ?1", [k], |r| r.get(0))
        .optional()
        .map_err(db)
}

pub(super) fn set_meta(conn: &rusqlite::Connection, k: &str, v: &str) -> Result<(), ApiError> {
    conn.execute(
        "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = ?2",
        [k, v],
    )
    .map(|_| ())
    .map_err(db)
}

pub(super) fn load_tree(
    conn: &rusqlite::Connection,
    depth: usize,
) -> Result<IndexedMerkleTree, ApiError> {
    let mut stmt = conn
        .prepare("SELECT idx, key, next_key, rec, salt FROM leaves")
        .map_err(|e| {
            ApiError::internal(format!(
                "store's leaf table is unreadable ({e}); a store written before salted leaves \
                 (spec §4.4) must be re-imported into a new data directory"
            ))
        })?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut leaves = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let idx: i64 = r.get(0).map_err(db)?;
        let key: Vec<u8> = r.get(1).map_err(db)?;
        let next: Vec<u8> = r.get(2).map_err(db)?;
        let rec: Vec<u8> = r.get(3).map_err(db)?;
        let salt: Vec<u8> = r.get(4).map_err(db)?;
        leaves.push((
            idx as u64,
            Leaf {
                key: fr_blob(&key)?,
                next_key: fr_blob(&next)?,
                values: rec_blob(&rec)?,
                salt: fr_blob(&salt)?,
            },
        ));
    }
    if leaves.is_empty() {
        return IndexedMerkleTree::new(depth).map_err(ApiError::internal);
    }
    IndexedMerkleTree::from_leaves(depth, leaves)
        .map_err(|e| ApiError::internal(format!("store holds a malformed tree: {e}")))
}

pub(super) fn write_leaf(
    tx: &rusqlite::Transaction<'_>,
    i: u64,
    leaf: Option<Leaf>,
) -> Result<(), ApiError> {
    match leaf {
        Some(l) => tx
            .prepare_cached(
                "INSERT INTO leaves (idx, key, next_key, rec, salt) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(idx) DO UPDATE SET key = ?2, next_key = ?3, rec = ?4, salt = ?5",
            )
            .and_then(|mut st| {
                st.execute(params![
                    i as i64,
                    fr_to_be_bytes(&l.key).to_vec(),
                    fr_to_be_bytes(&l.next_key).to_vec(),
                    rec_bytes(&l.values),
                    fr_to_be_bytes(&l.salt).to_vec()
                ])
            })
            .map(|_| ())
            .map_err(db),
        None => tx
            .prepare_cached("DELETE FROM leaves WHERE idx = ?1")
            .and_then(|mut st| st.execute([i as i64]))
            .map(|_| ())
            .map_err(db),
    }
}

/// The journal's net effect: last write per key.
type Net = BTreeMap<Fr, Option<[Fr; 3]>>;

/// Staged journal entries up to the last one: last write per key wins.
pub(super) fn read_changes(conn: &rusqlite::Connection) -> Result<(i64, Net), ApiError> {
    let mut stmt = conn
        .prepare("SELECT seq, key, rec FROM changes ORDER BY seq")
        .map_err(db)?;
    let mut rows = stmt.query([]).map_err(db)?;
    let (mut max, mut out) = (0i64, BTreeMap::new());
    while let Some(r) = rows.next().map_err(db)? {
        max = r.get(0).map_err(db)?;
        let key: Vec<u8> = r.get(1).map_err(db)?;
        let rec: Option<Vec<u8>> = r.get(2).map_err(db)?;
        out.insert(fr_blob(&key)?, rec.as_deref().map(rec_blob).transpose()?);
    }
    Ok((max, out))
}

pub(super) fn tree_error(e: CircuitError) -> ApiError {
    match e {
        CircuitError::TreeFull { .. } => ApiError::new(ErrorCode::TreeFull, e.to_string()),
        other => ApiError::internal(other),
    }
}

pub(super) fn apply_and_persist(
    conn: &mut rusqlite::Connection,
    state: &RwLock<Published>,
    depth: usize,
) -> Result<PublishReport, ApiError> {
    let (max_seq, changes) = read_changes(conn)?;
    let now = unix_now();
    let n_changes = changes.len();
    let t_tree = Instant::now();
    let rebuilt = n_changes > REBUILD_THRESHOLD;
    let tree_seconds;
    let persist = |tx: &rusqlite::Transaction<'_>, root: &Fr| -> Result<(), ApiError> {
        set_meta(tx, "published_root", &fr_to_dec(root))?;
        set_meta(tx, "published_at", &now.to_string())?;
        set_meta(tx, "registry_pending", "1")?;
        tx.execute("DELETE FROM changes WHERE seq <= ?1", [max_seq])
            .map_err(db)?;
        Ok(())
    };
    let t_persist;
    if rebuilt {
        // Parallel rebuild from the merged rows; the live tree keeps serving meanwhile.
        // Unchanged rows keep their salts; every upserted row takes a fresh one (§4.1).
        let rows: Vec<SaltedRow> = {
            let g = state.read().unwrap_or_else(|p| p.into_inner());
            let mut merged: BTreeMap<Fr, ([Fr; 3], Fr)> = g
                .tree
                .keys()
                .filter_map(|k| g.tree.leaf_of(k).map(|l| (*k, (l.values, l.salt))))
                .collect();
            drop(g);
            for (k, v) in &changes {
                match v {
                    Some(v) => merged.insert(*k, (*v, fresh_salt())),
                    None => merged.remove(k),
                };
            }
            merged.into_iter().map(|(k, (v, s))| (k, v, s)).collect()
        };
        let tree = IndexedMerkleTree::from_salted_rows(depth, &rows).map_err(tree_error)?;
        let root = tree.root();
        tree_seconds = t_tree.elapsed().as_secs_f64();
        t_persist = Instant::now();
        let tx = conn.transaction().map_err(db)?;
        tx.execute("DELETE FROM leaves", []).map_err(db)?;
        for (i, l) in tree.occupied_leaves() {
            write_leaf(&tx, i, Some(l))?;
        }
        persist(&tx, &root)?;
        tx.commit().map_err(db)?;
        let mut g = state.write().unwrap_or_else(|p| p.into_inner());
        *g = Published {
            tree,
            root,
            published_at: now,
        };
    } else {
        let mut g = state.write().unwrap_or_else(|p| p.into_inner());
        let mut applied = Ok(());
        for (k, v) in &changes {
            let r = match v {
                // A fresh salt from OS randomness on every value change (§4.1).
                Some(v) => g.tree.upsert(*k, *v),
                None => match g.tree.delete(k) {
                    Err(CircuitError::KeyNotFound) => Ok(()),
                    r => r,
                },
            };
            if let Err(e) = r {
                applied = Err(tree_error(e));
                break;
            }
        }
        let touched = g.tree.take_touched();
        let root = g.tree.root();
        tree_seconds = t_tree.elapsed().as_secs_f64();
        t_persist = Instant::now();
        let written = applied.and_then(|()| {
            let tx = conn.transaction().map_err(db)?;
            for i in touched {
                write_leaf(&tx, i, g.tree.leaf(i))?;
            }
            persist(&tx, &root)?;
            tx.commit().map_err(db)
        });
        if let Err(e) = written {
            // Roll the in-memory tree back to what the store holds.
            g.tree = load_tree(conn, depth)?;
            g.tree.take_touched();
            return Err(e);
        }
        g.root = root;
        g.published_at = now;
    }
    let g = state.read().unwrap_or_else(|p| p.into_inner());
    Ok(PublishReport {
        root: fr_to_dec(&g.root),
        published_at: now,
        rows: g.tree.len(),
        changes_applied: n_changes,
        rebuilt,
        tree_seconds,
        persist_seconds: t_persist.elapsed().as_secs_f64(),
        registry: String::new(),
    })
}
