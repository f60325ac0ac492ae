//! The tree's persistence (spec §4.4): the journal of staged changes, the leaf table as
//! last published, and the publication that applies one to the other in one transaction.

use super::{PublishReport, Published, REBUILD_THRESHOLD};
use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Instant;
use zkcredit_api::{unix_now, ApiError, ErrorCode};
use zkcredit_circuits::field::{fr_from_be_bytes, fr_to_be_bytes, fr_to_dec};
use zkcredit_circuits::imt::{fresh_salt, IndexedMerkleTree, Leaf, SaltedRow};
use zkcredit_circuits::{CircuitError, Fr};

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

/// The journal's net effect: last write per key.
pub(super) type Net = BTreeMap<Fr, Option<[Fr; 3]>>;

/// The journal entries a publication applied: every `seq` up to `max` (SQLite, where writes
/// are serialised) or exactly `seqs` (PostgreSQL, where concurrent stages may commit out of
/// order).
#[derive(Debug, Default)]
pub(super) struct Applied {
    pub(super) max: i64,
    pub(super) seqs: Vec<i64>,
}

/// What a publication needs from the store, on a blocking thread (`db.rs` implements it
/// for each backend).
pub(super) trait Journal {
    /// The staged journal, net of overwrites, and the entries it came from.
    fn read_changes(&mut self) -> Result<(Applied, Net), ApiError>;
    /// One transaction: when `full`, every leaf is replaced by `leaves`, else each of
    /// `leaves` is written (`None`: the index is emptied); then the new root and time,
    /// `registry_pending`, and the removal of the `applied` entries.
    fn commit(
        &mut self,
        full: bool,
        leaves: &mut dyn Iterator<Item = (u64, Option<Leaf>)>,
        root: &Fr,
        now: u64,
        applied: &Applied,
    ) -> Result<(), ApiError>;
    /// The tree as the leaf table holds it, with the published root and time (read
    /// together).
    fn load(&mut self, depth: usize) -> Result<Loaded, ApiError>;
}

/// A store's committed state.
pub(super) struct Loaded {
    pub(super) tree: IndexedMerkleTree,
    pub(super) published_root: Option<String>,
    pub(super) published_at: u64,
}

pub(super) fn tree_error(e: CircuitError) -> ApiError {
    match e {
        CircuitError::TreeFull { .. } => ApiError::new(ErrorCode::TreeFull, e.to_string()),
        other => ApiError::internal(other),
    }
}

/// Applies the journal to the published tree and commits the result (spec §4.4). When the
/// commit fails the in-memory tree is reloaded from the store; when that fails too (the
/// database is gone) the tree is marked stale and answers no witness until a publication
/// reloads it.
pub(super) fn apply_and_persist(
    j: &mut dyn Journal,
    state: &RwLock<Published>,
    depth: usize,
) -> Result<PublishReport, ApiError> {
    {
        let mut g = state.write().unwrap_or_else(|p| p.into_inner());
        if g.stale.is_some() {
            reloaded(&mut g, j.load(depth)?);
        }
    }
    let (applied, changes) = j.read_changes()?;
    // Strictly later than the previous publication (the caller waited for the clock to
    // pass it, `TreeService::pace`; this covers a clock stepped back): the registry takes a
    // new root only at a later time (§7.0).
    let previous = state.read().unwrap_or_else(|p| p.into_inner()).published_at;
    let now = unix_now().max(previous.saturating_add(1));
    let n_changes = changes.len();
    let t_tree = Instant::now();
    let rebuilt = n_changes > REBUILD_THRESHOLD;
    let tree_seconds;
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
        let written = {
            let mut leaves = tree.occupied_leaves().map(|(i, l)| (i, Some(l)));
            j.commit(true, &mut leaves, &root, now, &applied)
        };
        let mut g = state.write().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = written {
            recover(j, &mut g, depth, now);
            return Err(e);
        }
        *g = Published {
            tree,
            root,
            published_at: now,
            stale: None,
        };
    } else {
        let mut g = state.write().unwrap_or_else(|p| p.into_inner());
        let mut applied_to_tree = Ok(());
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
                applied_to_tree = Err(tree_error(e));
                break;
            }
        }
        let touched = g.tree.take_touched();
        let root = g.tree.root();
        tree_seconds = t_tree.elapsed().as_secs_f64();
        t_persist = Instant::now();
        let written = applied_to_tree.and_then(|()| {
            let tree = &g.tree;
            let mut leaves = touched.into_iter().map(|i| (i, tree.leaf(i)));
            j.commit(false, &mut leaves, &root, now, &applied)
        });
        if let Err(e) = written {
            recover(j, &mut g, depth, now);
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

/// After a failed commit: the in-memory tree becomes what the store holds — the commit may
/// have happened even so (its acknowledgement lost with the connection), so root and time
/// are the stored ones. When the store cannot be read either, the tree is marked stale (no
/// witness is answered from it) and the next publication reloads it first.
fn recover(j: &mut dyn Journal, g: &mut Published, depth: usize, now: u64) {
    match j.load(depth) {
        Ok(loaded) => reloaded(g, loaded),
        Err(e) => {
            tracing::error!(error = %e, "cannot reload the tree after a failed publication; witnesses are withheld until a publication reloads it");
            g.stale = Some(now);
        }
    }
}

/// Installs the store's committed state.
fn reloaded(g: &mut Published, loaded: Loaded) {
    let Loaded {
        mut tree,
        published_root,
        published_at,
    } = loaded;
    tree.take_touched();
    let root = tree.root();
    if published_root.is_some_and(|r| r != fr_to_dec(&root)) {
        tracing::error!("the store's leaves do not hash to its published root");
    }
    g.root = root;
    g.published_at = published_at;
    g.tree = tree;
    g.stale = None;
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
