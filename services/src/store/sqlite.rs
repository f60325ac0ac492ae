//! The embedded durable store (the default backend): one SQLite file per service under
//! `--data-dir`, WAL journal,
//! `synchronous=FULL` (a committed transaction survives a kill -9 or power loss), accessed
//! from a blocking thread so the async runtime is never stalled.
//!
//! **Erasure (spec §4.4).** Every store runs with `secure_delete = ON`: SQLite overwrites
//! the content of a deleted or rewritten row, and every page it frees, with zeros instead
//! of leaving it in free space or on the free list. The old page images still sit in the
//! WAL until it is checkpointed; [`Store::checkpoint_truncate`] copies the WAL into the
//! database file and truncates it to zero bytes (a provider tree does so after every
//! publication), and the last connection's close checkpoints and removes the WAL. So once
//! a row is deleted and checkpointed, its bytes are in no file of the data directory.

use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};
use zkcredit_api::ApiError;

/// What a [`Store`] keeps alive with its connection: every clone holds it, and so does every
/// closure [`Store::with`] runs, to its end.
pub type Held = Arc<dyn std::any::Any + Send + Sync>;

/// A shared SQLite connection.
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    held: Option<Held>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating) `path` and applies `schema` (idempotent `CREATE … IF NOT EXISTS`).
    pub fn open(path: &Path, schema: &str) -> Result<Self, rusqlite::Error> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Deleted content is overwritten with zeros, not left in free space (erasure).
        let secure: i64 =
            conn.pragma_update_and_check(None, "secure_delete", true, |r| r.get(0))?;
        if secure != 1 {
            return Err(failure(
                rusqlite::ffi::SQLITE_MISUSE,
                format!("PRAGMA secure_delete = ON answered {secure}"),
            ));
        }
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(schema)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            held: None,
        })
    }

    /// This store, keeping `held` alive as long as the connection is in use: while any
    /// clone exists and while any closure given to [`Self::with`] runs (a provider tree's
    /// writer lock, which must outlive a publication still running when the service is
    /// dropped).
    pub fn holding(self, held: Held) -> Self {
        Self {
            held: Some(held),
            ..self
        }
    }

    /// Opens (creating) `path` and applies the `migrations` it has not seen yet, in one
    /// transaction; the version reached is kept in `PRAGMA user_version`. A store migrated
    /// by a newer binary is refused.
    pub fn open_migrated(path: &Path, migrations: &[super::Migration]) -> Result<Self, ApiError> {
        super::check_sequence(migrations)?;
        let store = Self::open(path, "").map_err(db)?;
        store.with_sync(|conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db)?;
            let at: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(db)?;
            if at as usize > migrations.len() {
                return Err(super::too_new(at, migrations.len()));
            }
            for m in &migrations[at as usize..] {
                tx.execute_batch(m.sqlite).map_err(db)?;
                tx.pragma_update(None, "user_version", m.version)
                    .map_err(db)?;
                tracing::info!(
                    version = m.version,
                    name = m.name,
                    "sqlite migration applied"
                );
            }
            tx.commit().map_err(db)
        })?;
        Ok(store)
    }

    /// Copies the WAL into the database file and truncates it to zero bytes
    /// (`PRAGMA wal_checkpoint(TRUNCATE)`), so no old page image — a deleted row's included
    /// — stays in the WAL. An error if the checkpoint could not complete (busy: another
    /// connection reading or writing).
    pub async fn checkpoint_truncate(&self) -> Result<(), ApiError> {
        self.with(|conn| checkpoint_truncate(conn).map_err(db))
            .await
    }

    /// Readiness: the file answers a query.
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.with(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db))
            .await
    }

    /// Whether another caller holds the connection right now (a hint for choosing among
    /// several connections; it may change at once).
    pub fn is_busy(&self) -> bool {
        self.conn.try_lock().is_err()
    }

    /// Runs `f` with the connection on the calling thread (start-up, before serving).
    pub fn with_sync<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut guard = self
            .conn
            .lock()
            .map_err(|_| ApiError::internal("store mutex poisoned"))?;
        f(&mut guard)
    }

    /// Runs `f` with the connection on a blocking thread.
    pub async fn with<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ApiError> + Send + 'static,
    {
        let conn = self.conn.clone();
        let held = self.held.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| ApiError::internal("store mutex poisoned"))?;
            let out = f(&mut guard);
            drop(guard);
            drop(held);
            out
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// A [`Store`]'s connection held by another thread until this is dropped (tests: a
/// publication, or a busy reader, that does not end).
#[cfg(test)]
pub(crate) struct HeldBusy {
    release: Option<std::sync::mpsc::Sender<()>>,
    holder: Option<std::thread::JoinHandle<()>>,
}

#[cfg(test)]
impl HeldBusy {
    /// Holds `store`'s connection from a thread of its own; returns once it is held.
    pub(crate) fn hold(store: &Store) -> Self {
        let held = store.clone();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            held.with_sync(|_| {
                let _ = locked_tx.send(());
                let _ = release_rx.recv();
                Ok(())
            })
            .expect("the connection was held");
        });
        locked_rx.recv().expect("the holder took the connection");
        Self {
            release: Some(release_tx),
            holder: Some(holder),
        }
    }
}

#[cfg(test)]
impl Drop for HeldBusy {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(h) = self.holder.take() {
            let _ = h.join();
        }
    }
}

/// `PRAGMA wal_checkpoint(TRUNCATE)` on `conn`: an error unless every WAL frame was copied
/// into the database file and the WAL truncated (the `busy` column must be 0).
pub fn checkpoint_truncate(conn: &Connection) -> Result<(), rusqlite::Error> {
    let (busy, log, done): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    if busy != 0 || log != done {
        return Err(failure(
            rusqlite::ffi::SQLITE_BUSY,
            format!("WAL checkpoint incomplete: busy {busy}, {done} of {log} frames copied"),
        ));
    }
    Ok(())
}

fn failure(code: std::os::raw::c_int, msg: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(msg))
}

/// Maps a SQLite error: another process holding the file's write lock past the busy
/// timeout (`SQLITE_BUSY`, `SQLITE_LOCKED`) is `503 overloaded` (retry); anything else a
/// 500 (logged).
pub fn db(e: rusqlite::Error) -> ApiError {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::DatabaseBusy | C::DatabaseLocked) => {
            tracing::warn!(error = %e, "sqlite store busy");
            ApiError::of(zkcredit_api::ErrorCode::Overloaded)
        }
        _ => ApiError::internal(e),
    }
}

/// The service's ed25519 signing key, kept as `signing_key` in the `(k, v)` table
/// `meta_table` of `store` and created from OS randomness on first start.
pub fn load_or_create_signing_key(
    store: &Store,
    meta_table: &'static str,
) -> Result<ed25519_dalek::SigningKey, ApiError> {
    use rand::RngCore;
    store.with_sync(|conn| {
        // Insert-if-absent then read: two processes opening one file at once agree on one key.
        let mut fresh = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        conn.execute(
            &format!("INSERT INTO {meta_table} (k, v) VALUES ('signing_key', ?1) ON CONFLICT (k) DO NOTHING"),
            [hex::encode(fresh)],
        )
        .map_err(db)?;
        let stored: String = conn
            .query_row(
                &format!("SELECT v FROM {meta_table} WHERE k = 'signing_key'"),
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        let seed: [u8; 32] = hex::decode(stored)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ApiError::internal("the signing key in the store is malformed"))?;
        Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
    })
}
