//! The tree's queries on the embedded SQLite file.

use super::*;

pub(super) fn sqlite_meta(
    conn: &rusqlite::Connection,
    k: &str,
) -> Result<Option<String>, ApiError> {
    conn.query_row(&lite(META), [k], |r| r.get(0))
        .optional()
        .map_err(db)
}

pub(super) fn sqlite_set_meta(
    conn: &rusqlite::Connection,
    k: &str,
    v: &str,
) -> Result<(), ApiError> {
    conn.execute(&lite(SET_META), [k, v])
        .map(|_| ())
        .map_err(db)
}

pub(super) fn sqlite_stage(
    conn: &mut rusqlite::Connection,
    changes: &[(Fr, Option<[Fr; 3]>)],
) -> Result<(), ApiError> {
    if changes.is_empty() {
        return Ok(());
    }
    // One sorted run (`runs`): in key order by a stable sort, so a key's entries keep their
    // order, their `seq`s still rise in the order they were given and the last one wins.
    let mut batch: Vec<([u8; 32], Option<Vec<u8>>)> = changes
        .iter()
        .map(|(k, v)| (fr_to_be_bytes(k), v.as_ref().map(rec_bytes)))
        .collect();
    batch.sort_by_key(|r| r.0);
    let tx = conn.transaction().map_err(db)?;
    runs::append(&tx, batch)?;
    tx.commit().map_err(db)
}

/// A process's exclusive hold on a SQLite tree (spec §4.4, "one writer"): an advisory lock
/// (`flock`) on the file `<tree file>.lock` beside it (the tree file's path resolved, so a
/// symbolic link to it takes the same lock), taken before the store is opened and held by
/// the writer's [`Store`] — every clone, and every closure running on its connection — or
/// until the process ends (a kill included: the kernel releases it). The journal's `journal_applied` mark, the compaction of small runs and a rebuild's
/// parts all assume that one process writes the file: a second one could delete runs a
/// merge of the first is reading, or move the mark past entries it never applied. A second
/// open — from another process, or from this one while the first tree is alive — is
/// refused with [`ErrorCode::TreeInUse`](zkcredit_api::ErrorCode::TreeInUse).
#[derive(Debug)]
pub(in crate::tree) struct WriterLock {
    _file: std::fs::File,
}

impl WriterLock {
    /// Takes the lock for the tree file `path` (creating `<path>.lock`), or refuses.
    pub(in crate::tree) fn take(path: &std::path::Path) -> Result<Self, ApiError> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir)
                .map_err(|e| ApiError::internal(format!("cannot create {}: {e}", dir.display())))?;
        }
        // The file itself if it exists, else its directory, resolved.
        let resolved = std::fs::canonicalize(path).ok().or_else(|| {
            let dir = std::fs::canonicalize(dir.unwrap_or(std::path::Path::new("."))).ok()?;
            Some(dir.join(path.file_name()?))
        });
        let path = resolved.as_deref().unwrap_or(path);
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let at = std::path::PathBuf::from(name);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&at)
            .map_err(|e| ApiError::internal(format!("cannot open {}: {e}", at.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(ApiError::new(
                zkcredit_api::ErrorCode::TreeInUse,
                format!(
                    "the tree {} is open in another process (it holds {}): one process writes a SQLite tree; stop the other one, or give this one its own --data-dir",
                    path.display(),
                    at.display()
                ),
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(ApiError::internal(format!(
                "cannot lock {}: {e}",
                at.display()
            ))),
        }
    }
}

/// The read-only connections of a SQLite tree (WAL: each reads its own committed snapshot
/// while the writer works).
#[derive(Debug)]
pub(in crate::tree) struct Readers {
    conns: Vec<Store>,
    next: std::sync::atomic::AtomicUsize,
}

impl Readers {
    /// One per core, at least 2 and at most 8.
    pub(in crate::tree) fn default_count() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8)
    }

    /// Opens `n` (≥ 1) connections to the file at `path`.
    pub(in crate::tree) fn open(path: &std::path::Path, n: usize) -> Result<Self, ApiError> {
        let conns = (0..n.max(1))
            .map(|_| Store::open(path, "").map_err(db))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            conns,
            next: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A connection for the next read: the first idle one, else the next in turn.
    pub(in crate::tree) fn pick(&self) -> &Store {
        if let Some(idle) = self.conns.iter().find(|c| !c.is_busy()) {
            return idle;
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.conns[i % self.conns.len()]
    }

    /// The connections (tests).
    #[cfg(test)]
    pub(in crate::tree) fn conns(&self) -> &[Store] {
        &self.conns
    }
}

/// Reads that bring the pages a row-by-row publication will touch into the operating
/// system's page cache ahead of it, many at once (spec §4.4). On a store much larger than
/// memory the publication's own reads — a key lookup, a leaf and one group per level for
/// each changed row — miss the cache, and one connection waits for each in turn; these
/// reads, on connections of their own, let the disk serve [`WARM_THREADS`] at a time. Their
/// results are dropped: they change nothing, and a failure (a connection or a thread that
/// cannot be had, a read error) only costs the head start and is logged.
#[derive(Debug)]
pub(in crate::tree) struct Prefetch {
    path: std::path::PathBuf,
    conns: std::sync::OnceLock<Vec<Store>>,
    /// Keys whose leaf and path were read, and parts that stopped on an error (tests).
    warmed: std::sync::atomic::AtomicUsize,
    failed: std::sync::atomic::AtomicUsize,
}

/// Connections (and threads) a [`Prefetch`] reads on.
pub(in crate::tree) const WARM_THREADS: usize = 8;

/// Publications of fewer changed rows are not prefetched (the threads would cost more).
pub(in crate::tree) const WARM_MIN_ROWS: usize = 256;

/// At most this many keys (the first, in the order the publication applies them) are
/// prefetched: ≈ 18 pages each, ≈ 7 GB at most, so that on a machine whose memory is smaller
/// than the store the first pages read are still cached when the publication reaches them.
/// (A row-by-row publication may reach a quarter of the tree.)
pub(in crate::tree) const WARM_MAX_ROWS: usize = 100_000;

impl Prefetch {
    /// For the tree file `path`; its connections are opened at the first use.
    pub(in crate::tree) fn new(path: &std::path::Path) -> Self {
        Self {
            path: path.to_path_buf(),
            conns: std::sync::OnceLock::new(),
            warmed: std::sync::atomic::AtomicUsize::new(0),
            failed: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Keys warmed and parts failed so far (tests).
    #[cfg(test)]
    pub(in crate::tree) fn counts(&self) -> (usize, usize) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.warmed.load(Relaxed), self.failed.load(Relaxed))
    }

    /// The connections opened so far (tests).
    #[cfg(test)]
    pub(in crate::tree) fn opened(&self) -> usize {
        self.conns.get().map_or(0, Vec::len)
    }

    /// Reads, for each of `keys`, its leaf (or, for a key not in the tree, the leaf below
    /// it) and the groups of that leaf's path in a tree of `depth`.
    pub(in crate::tree) fn warm(&self, depth: usize, keys: &[Fr]) {
        use std::sync::atomic::Ordering::Relaxed;
        if keys.len() < WARM_MIN_ROWS {
            return;
        }
        let keys = &keys[..keys.len().min(WARM_MAX_ROWS)];
        let conns = self.conns.get_or_init(|| {
            let conns: Vec<Store> = (0..WARM_THREADS)
                .filter_map(|_| match Store::open(&self.path, "") {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::warn!(error = %e, "a prefetch connection could not be opened; publications prefetch with fewer");
                        None
                    }
                })
                .collect();
            conns
        });
        if conns.is_empty() {
            return;
        }
        let per = keys.len().div_ceil(conns.len());
        std::thread::scope(|scope| {
            for (conn, part) in conns.iter().zip(keys.chunks(per)) {
                // A thread the system refuses is a part not prefetched, never a panic (it
                // would poison the writer's connection, on whose thread this runs).
                let started = std::thread::Builder::new().spawn_scoped(scope, move || {
                    match conn.with_sync(|c| warm_part(c, depth, part).map_err(db)) {
                        Ok(()) => {
                            self.warmed.fetch_add(part.len(), Relaxed);
                        }
                        Err(e) => {
                            self.failed.fetch_add(1, Relaxed);
                            tracing::warn!(error = %e, "prefetch of a publication's pages stopped");
                        }
                    }
                });
                if let Err(e) = started {
                    self.failed.fetch_add(1, Relaxed);
                    tracing::warn!(error = %e, "a prefetch thread could not be started");
                }
            }
        });
    }
}

/// [`Prefetch::warm`] for one part of the keys (in key order), in one read transaction.
fn warm_part(c: &mut rusqlite::Connection, depth: usize, keys: &[Fr]) -> rusqlite::Result<()> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)?;
    {
        let mut by_key = tx.prepare_cached("SELECT idx FROM leaves WHERE key = ?1")?;
        let mut below =
            tx.prepare_cached("SELECT idx FROM leaves WHERE key < ?1 ORDER BY key DESC LIMIT 1")?;
        let mut leaf = tx.prepare_cached("SELECT rec, salt FROM leaves WHERE idx = ?1")?;
        let mut group =
            tx.prepare_cached("SELECT c FROM nodes WHERE level = ?1 AND parent = ?2")?;
        for k in keys {
            let kb = fr_to_be_bytes(k);
            let idx: Option<i64> = match by_key.query_row([&kb[..]], |r| r.get(0)).optional()? {
                Some(i) => Some(i),
                None => below.query_row([&kb[..]], |r| r.get(0)).optional()?,
            };
            let Some(idx) = idx else { continue };
            leaf.query_row([idx], |_| Ok(())).optional()?;
            for l in 0..zkcredit_circuits::imt::levels(depth) {
                let parent = (idx as u64).checked_shr(2 * (l as u32 + 1)).unwrap_or(0);
                group
                    .query_row([l as i64, parent as i64], |_| Ok(()))
                    .optional()?;
            }
        }
    }
    tx.commit()
}

/// Runs `f` in one read transaction on a read connection: one committed snapshot, so a
/// lookup of the runs never sees a publication's mark move and its clean-up remove entries
/// halfway through (spec §4.4), and never waits for the writer.
pub(super) async fn sqlite_read<T: Send + 'static>(
    readers: &Readers,
    f: impl FnOnce(&rusqlite::Connection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    readers
        .pick()
        .with(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)
                .map_err(db)?;
            let out = f(&tx)?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
}

/// Removes, in committed parts, what publications left behind ([`cleanup`]); whether there
/// was anything.
pub(super) fn sqlite_clean_up(conn: &mut rusqlite::Connection) -> Result<bool, ApiError> {
    let mut tx = PartedTx::begin(conn)?;
    let removed = cleanup::clean_up(&mut tx)?;
    tx.commit()?;
    Ok(removed)
}

/// [`sqlite_clean_up`], then, if anything was removed, the WAL copied into the file and
/// truncated (the removed rows' page images were in it: spec §4.4's erasure).
pub(super) fn sqlite_clean_up_and_truncate(
    conn: &mut rusqlite::Connection,
) -> Result<(), ApiError> {
    if sqlite_clean_up(conn)? {
        crate::store::checkpoint_truncate(conn).map_err(db)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second open of a SQLite tree while the first is alive is refused, naming the file
    /// and its lock, and changes nothing; once the first is dropped the tree opens again
    /// (spec §4.4, one writer process per file; the cross-process case, a killed holder
    /// included, is `cli/tests/crash_points.rs`).
    #[test]
    fn a_second_open_of_a_held_tree_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("t.sqlite");
        let (first, opened) = TreeDb::open_sqlite(&path, "fraud_list:7:8", 8, false).unwrap();
        let refused =
            |path: &std::path::Path| match TreeDb::open_sqlite(path, "fraud_list:7:8", 8, false) {
                Ok(_) => panic!("a second open of a held tree was allowed"),
                Err(e) => e,
            };
        let e = refused(&path);
        assert_eq!(e.code, zkcredit_api::ErrorCode::TreeInUse, "{e:?}");
        assert!(e.message.contains("is open in another process"), "{e:?}");
        assert!(e.message.contains("t.sqlite.lock"), "{e:?}");
        // A symbolic link to the file takes the same lock.
        let link = dir.path().join("link.sqlite");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(refused(&link).code, zkcredit_api::ErrorCode::TreeInUse);
        let held = first.clone();
        drop(first);
        assert_eq!(
            refused(&path).code,
            zkcredit_api::ErrorCode::TreeInUse,
            "a clone still holds it"
        );
        drop(held);
        let (_again, reopened) = TreeDb::open_sqlite(&path, "fraud_list:7:8", 8, false).unwrap();
        assert_eq!(reopened.root, opened.root);
    }

    /// A read is never queued behind a busy reader while another is idle (issue 13: the
    /// witnesses of a SQLite tree used to share one connection).
    #[test]
    fn a_read_goes_to_an_idle_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        Store::open(&path, "CREATE TABLE t (x INTEGER);").unwrap();
        let readers = Readers::open(&path, 2).unwrap();
        let held = crate::store::HeldBusy::hold(&readers.conns()[0]);
        assert!(readers.conns()[0].is_busy());
        for _ in 0..4 {
            let picked = readers.pick();
            assert!(
                std::ptr::eq(picked, &readers.conns()[1]),
                "picked the busy one"
            );
            picked
                .with_sync(|c| {
                    c.query_row("SELECT COUNT(*) FROM t", [], |_| Ok(()))
                        .map_err(db)
                })
                .unwrap();
        }
        drop(held);
        assert_eq!(Readers::open(&path, 0).unwrap().conns().len(), 1);
        assert!((2..=8).contains(&Readers::default_count()));
    }
}
