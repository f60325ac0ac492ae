//! Where a provider tree is kept (spec §4.4): the embedded SQLite file (the default) or a
//! PostgreSQL schema. The journal's queries are methods here, once per backend; the tree's
//! reads and writes are written once against [`Sql`] (`source.rs`, `nodes.rs`) and run in
//! a transaction of either backend opened here.
//!
//! **One writer per tree on PostgreSQL.** The newest process to open a schema takes the
//! tree over: it records a fresh random writer token in `meta` (waiting for the old
//! writer's open transactions). Every write transaction locks that row and checks the token
//! before it writes, so the older process's next write is refused with `409
//! tree_taken_over` and changes nothing (it keeps answering witnesses from the published
//! tree). A rolling deploy is therefore safe: the new process takes over, the old one is
//! drained.

mod migrations;
mod postgres;
mod sqlite;

pub use migrations::MIGRATIONS;

use super::store::{rec_blob, rec_bytes};
use super::{cleanup, nodes, prepare, runs, source};
use crate::store::{
    bounded, db, load_or_create_signing_key, pg, pg_blocking_tx, pg_load_or_create_signing_key,
    write_tx, DatabaseUrl, PartedTx, PgStore, PgTx, Sql, Store, DEFAULT_POOL_SIZE, P,
    QUERY_TIMEOUT,
};
use postgres::*;
use rusqlite::OptionalExtension;
use sqlite::*;
#[cfg(test)]
pub(super) use sqlite::{WARM_MIN_ROWS, WARM_THREADS};
use std::sync::Arc;
use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::field::fr_to_be_bytes;
use zkcredit_circuits::imt::paged::Counts;
use zkcredit_circuits::imt::LookupWitness;
use zkcredit_circuits::Fr;

/// The PostgreSQL schema a provider uses unless told otherwise (`--database-schema`).
pub const DEFAULT_PG_SCHEMA: &str = "zkcredit_provider";

const META: &str = "SELECT v FROM meta WHERE k = $1";
const SET_META: &str =
    "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v";
// PostgreSQL's journal reads, through its `(key, seq)` index; SQLite's are `runs`.
const STAGED_ROW: &str = "SELECT rec FROM changes WHERE key = $1 ORDER BY seq DESC LIMIT 1";
const COUNT_CHANGES: &str = "SELECT COUNT(*) FROM changes";
/// SQLite spells positional parameters `?N`.
fn lite(q: &str) -> String {
    q.replace('$', "?")
}

/// What a store holds at start (checked: `source::verify`).
pub(super) struct Opened {
    pub(super) root: Fr,
    pub(super) published_at: u64,
    pub(super) counts: Counts,
    pub(super) signing_key: ed25519_dalek::SigningKey,
    /// Scheduled publications held until then (an import in parts, across a restart).
    pub(super) held_until: u64,
}

/// Where a tree keeps its state.
#[derive(Clone, Debug)]
pub(super) enum TreeDb {
    /// The embedded file of one process: `store` writes, `readers` answer witnesses (their
    /// own connections, so a publication's write transaction never holds them up, and
    /// concurrent witness requests do not queue behind one connection). `store` holds the
    /// process's exclusive lock on the file ([`WriterLock`]) until its last clone is dropped
    /// and its last closure has returned.
    /// `prefetch` warms a row-by-row publication's pages.
    Sqlite {
        store: Store,
        readers: Arc<Readers>,
        prefetch: Arc<Prefetch>,
    },
    /// A PostgreSQL schema; `writer` is this process's token (module docs); `journal` the
    /// connections a publication uses.
    Postgres {
        store: PgStore,
        writer: String,
        journal: Arc<JournalPool>,
    },
}

fn identity_check(stored: Option<String>, identity: &str) -> Result<bool, ApiError> {
    match stored {
        None => Ok(true),
        Some(s) if s == identity => Ok(false),
        Some(s) => Err(ApiError::bad_request(format!(
            "store belongs to role:id:depth {s}, not {identity}"
        ))),
    }
}

fn taken_over() -> ApiError {
    ApiError::new(
        ErrorCode::TreeTakenOver,
        "another process has taken this tree over (it opened the same database schema after this one); this process no longer writes it",
    )
}

impl TreeDb {
    /// Opens the store `url` names (creating it and applying migrations), checks its
    /// identity (`role:id:depth`), takes the tree over on PostgreSQL, makes the node store
    /// whole (`rebuild`: recomputed from the leaf table) and checks it against the
    /// published root, and loads the signing key.
    pub(super) async fn open(
        url: &DatabaseUrl,
        schema: &str,
        identity: String,
        depth: usize,
        rebuild: bool,
    ) -> Result<(Self, Opened), ApiError> {
        match url {
            DatabaseUrl::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    Self::open_sqlite(&path, &identity, depth, rebuild)
                })
                .await
                .map_err(ApiError::internal)?
            }
            DatabaseUrl::Postgres(u) => {
                let store = PgStore::connect(u, schema, DEFAULT_POOL_SIZE, MIGRATIONS).await?;
                let writer = Self::take_over(&store, &identity).await?;
                let journal = Arc::new(JournalPool::connect(u, schema).await?);
                let (rt, st, w) = (journal.handle()?, journal.store.clone(), writer.clone());
                let checked = tokio::task::spawn_blocking(move || {
                    pg_blocking_tx(&rt, &st, bulk_tx(), |s| {
                        check_writer_sql(s, &w)?;
                        open_checked(s, depth, rebuild)
                    })
                })
                .await
                .map_err(ApiError::internal)??;
                let signing_key = pg_load_or_create_signing_key(&store, "meta").await?;
                Ok((
                    Self::Postgres {
                        store,
                        writer,
                        journal,
                    },
                    Opened {
                        root: checked.root,
                        published_at: checked.published_at,
                        counts: checked.counts,
                        signing_key,
                        held_until: checked.held_until,
                    },
                ))
            }
            #[allow(unreachable_patterns)]
            _ => Err(ApiError::bad_request("unsupported database URL")),
        }
    }

    /// [`Self::open`] for the SQLite file `path`, on the calling thread.
    pub(super) fn open_sqlite(
        path: &std::path::Path,
        identity: &str,
        depth: usize,
        rebuild: bool,
    ) -> Result<(Self, Opened), ApiError> {
        let lock: crate::store::Held = Arc::new(WriterLock::take(path)?);
        let store = Store::open_migrated(path, MIGRATIONS)?.holding(lock);
        let checked = store.with_sync(|conn| {
            let mut tx = PartedTx::begin(conn)?;
            let stored = source::meta(&mut tx, "identity")?;
            if identity_check(stored, identity)? {
                source::set_meta(&mut tx, "identity", identity)?;
            }
            let out = open_checked(&mut tx, depth, rebuild);
            match out {
                Ok(_) => tx.commit()?,
                Err(_) => drop(tx),
            }
            // What a crash left: parts of a rebuild never published (of the tree, or of the
            // node store by `--rebuild-tree`), or the applied journal and replaced tables of
            // one that was (spec §4.4's crash rule) — also when the start is refused, so a
            // damaged store does not keep them until it is rebuilt. Nothing reads them, so
            // a failure (a full disk) does not stop the start; the scheduler and the next
            // publication try again.
            if let Err(e) = sqlite_clean_up_and_truncate(conn) {
                tracing::warn!(error = %e, "removing what an interrupted publication left failed; retried later");
            }
            out
        })?;
        let signing_key = load_or_create_signing_key(&store, "meta")?;
        let readers = Arc::new(Readers::open(path, Readers::default_count())?);
        Ok((
            Self::Sqlite {
                store,
                readers,
                prefetch: Arc::new(Prefetch::new(path)),
            },
            Opened {
                root: checked.root,
                published_at: checked.published_at,
                counts: checked.counts,
                signing_key,
                held_until: checked.held_until,
            },
        ))
    }

    /// Stages `changes` in the journal, in one transaction.
    pub(super) async fn stage(&self, changes: Vec<(Fr, Option<[Fr; 3]>)>) -> Result<(), ApiError> {
        match self {
            Self::Sqlite { store: s, .. } => s.with(move |conn| sqlite_stage(conn, &changes)).await,
            Self::Postgres { store, writer, .. } => {
                let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = changes
                    .iter()
                    .map(|(k, v)| (fr_to_be_bytes(k).to_vec(), v.as_ref().map(rec_bytes)))
                    .collect();
                let big = rows.len() > PG_CHUNK;
                let op = async {
                    let mut c = store.client().await?;
                    let tx = write_tx(&mut c).await?;
                    if big {
                        tx.batch_execute(PG_BULK_TIMEOUT).await.map_err(pg)?;
                    }
                    check_writer(&tx, WRITER_LOCK_SHARED, writer).await?;
                    for chunk in rows.chunks(PG_CHUNK) {
                        let (keys, recs): (Vec<_>, Vec<_>) = chunk.iter().cloned().unzip();
                        tx.execute(
                            "INSERT INTO changes (key, rec) SELECT * FROM UNNEST($1::bytea[], $2::bytea[])",
                            &[&keys, &recs],
                        )
                        .await
                        .map_err(pg)?;
                    }
                    tx.commit().await.map_err(pg)
                };
                if big {
                    bulk(op).await
                } else {
                    bounded(op).await
                }
            }
        }
    }

    /// [`Self::stage`] on the calling (blocking) thread, SQLite only: the issuer stages a
    /// KYC row inside its own approval transaction.
    pub(super) fn stage_blocking(&self, changes: &[(Fr, Option<[Fr; 3]>)]) -> Result<(), ApiError> {
        match self {
            Self::Sqlite { store: s, .. } => s.with_sync(|conn| sqlite_stage(conn, changes)),
            Self::Postgres { .. } => Err(ApiError::internal(
                "a blocking stage on PostgreSQL (the issuer keeps SQLite)",
            )),
        }
    }

    /// Stages `changes` inside the caller's transaction `s` of another service on the same
    /// database (the issuer's approval): on PostgreSQL in this tree's schema, after the
    /// writer check, committed with the caller's transaction; on SQLite the tree is its own
    /// file, staged now in its own transaction ([`Self::stage_blocking`]).
    pub(super) fn stage_in(
        &self,
        s: &mut dyn Sql,
        changes: &[(Fr, Option<[Fr; 3]>)],
    ) -> Result<(), ApiError> {
        let (store, writer) = match self {
            Self::Sqlite { .. } => return self.stage_blocking(changes),
            Self::Postgres { store, writer, .. } => (store, writer),
        };
        if !s.is_postgres() {
            return Err(ApiError::internal(
                "the tree is on PostgreSQL but the caller's transaction is not",
            ));
        }
        let schema = store.schema();
        let stored = s
            .row(
                &format!("SELECT v FROM \"{schema}\".meta WHERE k = 'writer' FOR SHARE"),
                &[],
            )?
            .and_then(|r| r.into_iter().next());
        if stored.map(|c| c.text("writer")).transpose()?.as_deref() != Some(writer.as_str()) {
            return Err(taken_over());
        }
        for (k, v) in changes {
            let (key, rec) = (fr_to_be_bytes(k), v.as_ref().map(rec_bytes));
            s.exec(
                &format!("INSERT INTO \"{schema}\".changes (key, rec) VALUES ($1, $2)"),
                &[P::B(Some(&key)), P::B(rec.as_deref())],
            )?;
        }
        Ok(())
    }

    /// The last staged record for `key`: `None` nothing staged, `Some(None)` a delete. On
    /// SQLite read in one read transaction on a read connection ([`sqlite_read`]), so an
    /// operator's lookup does not wait for a publication holding the writer.
    pub(super) async fn staged(&self, key: Fr) -> Result<Option<Option<[Fr; 3]>>, ApiError> {
        let k = fr_to_be_bytes(&key).to_vec();
        let rec: Option<Option<Vec<u8>>> = match self {
            Self::Sqlite { readers, .. } => {
                sqlite_read(readers, move |conn| runs::staged(conn, &k)).await?
            }
            Self::Postgres { store, .. } => {
                bounded(async {
                    let c = store.client().await?;
                    c.query_opt(STAGED_ROW, &[&k])
                        .await
                        .map_err(pg)?
                        .map(|r| r.try_get(0).map_err(pg))
                        .transpose()
                })
                .await?
            }
        };
        rec.map(|r| r.as_deref().map(rec_blob).transpose())
            .transpose()
    }

    /// The number of staged journal entries, and whether the registry has not acknowledged
    /// the last publication (on SQLite on a read connection, as [`Self::staged`]).
    pub(super) async fn pending(&self) -> Result<(u64, bool), ApiError> {
        let (n, flag) = match self {
            Self::Sqlite { readers, .. } => {
                sqlite_read(readers, |conn| {
                    let n = runs::pending(conn)?;
                    Ok((n, sqlite_meta(conn, "registry_pending")?))
                })
                .await?
            }
            Self::Postgres { store, .. } => {
                bounded(async {
                    let c = store.client().await?;
                    let n: i64 = c
                        .query_one(COUNT_CHANGES, &[])
                        .await
                        .map_err(pg)?
                        .try_get(0)
                        .map_err(pg)?;
                    Ok((n, pg_meta(&c, "registry_pending").await?))
                })
                .await?
            }
        };
        Ok((n.max(0) as u64, flag.as_deref() == Some("1")))
    }

    /// Records that the registry acknowledged the last publication.
    pub(super) async fn clear_registry_pending(&self) -> Result<(), ApiError> {
        self.set_meta("registry_pending", "0".into()).await
    }

    /// Records `v` under `k` in the tree's `meta` (a writer's write on PostgreSQL).
    pub(super) async fn set_meta(&self, k: &'static str, v: String) -> Result<(), ApiError> {
        match self {
            Self::Sqlite { store: s, .. } => s.with(move |conn| sqlite_set_meta(conn, k, &v)).await,
            Self::Postgres { store, writer, .. } => {
                bounded(async {
                    let mut c = store.client().await?;
                    let tx = write_tx(&mut c).await?;
                    check_writer(&tx, WRITER_LOCK_SHARED, writer).await?;
                    tx.execute(SET_META, &[&k, &v]).await.map_err(pg)?;
                    tx.commit().await.map_err(pg)
                })
                .await
            }
        }
    }

    /// Publishes: applies the journal to the tree and records the new root and time, in
    /// one write transaction (spec §4.4); on SQLite a rebuild's new tables are committed in
    /// parts before it, and what it replaced is removed in parts after it.
    pub(super) async fn publish(&self, depth: usize) -> Result<nodes::Outcome, ApiError> {
        match self {
            Self::Sqlite {
                store, prefetch, ..
            } => {
                let prefetch = prefetch.clone();
                store
                    .with(move |conn| {
                        let mut tx = PartedTx::begin(conn)?;
                        // What an interrupted publication left, first (its journal entries
                        // would otherwise be read again).
                        cleanup::clean_up(&mut tx)?;
                        let warm = |keys: &[Fr]| prefetch.warm(depth, keys);
                        let out =
                            nodes::publish_tx(&mut tx, depth, None, check_writer_sql, Some(&warm))?;
                        tx.commit()?;
                        // Published: the rest is removal, in parts. A failure here leaves
                        // it to the scheduler's next tick, the next publication or the next
                        // start; the publication stands. (The WAL is truncated after it,
                        // `TreeService::publish`.)
                        if let Err(e) = sqlite_clean_up(conn) {
                            tracing::warn!(error = %e, "removing what the publication replaced failed; retried later");
                        }
                        Ok(out)
                    })
                    .await
            }
            Self::Postgres {
                writer, journal, ..
            } => {
                let (rt, st, w) = (journal.handle()?, journal.store.clone(), writer.clone());
                tokio::task::spawn_blocking(move || {
                    pg_blocking_tx(&rt, &st, bulk_tx(), |s| {
                        nodes::publish_tx(s, depth, Some(&w), check_writer_sql, None)
                    })
                })
                .await
                .map_err(ApiError::internal)?
            }
        }
    }

    /// Removes what publications left behind (SQLite, [`cleanup`]); whether there was
    /// anything (the WAL then holds the removed rows' page images: the caller truncates
    /// it, [`Self::after_publish`]). Nothing on PostgreSQL.
    pub(super) async fn clean_up(&self) -> Result<bool, ApiError> {
        match self {
            Self::Sqlite { store, .. } => store.with(sqlite_clean_up).await,
            Self::Postgres { .. } => Ok(false),
        }
    }

    /// Runs `f` on one committed state of the tree (a read transaction).
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self {
            Self::Sqlite { readers, .. } => crate::store::sqlite_tx(readers.pick(), false, f).await,
            Self::Postgres { store, .. } => {
                let (rt, st) = (tokio::runtime::Handle::current(), store.clone());
                tokio::task::spawn_blocking(move || {
                    pg_blocking_tx(
                        &rt,
                        &st,
                        PgTx {
                            snapshot: true,
                            setup: "",
                            timeout: QUERY_TIMEOUT,
                        },
                        f,
                    )
                })
                .await
                .map_err(ApiError::internal)?
            }
        }
    }

    /// The witness for `key` with the root and time of the publication it was read from.
    pub(super) async fn witness(
        &self,
        depth: usize,
        key: Fr,
    ) -> Result<(Fr, u64, bool, LookupWitness), ApiError> {
        self.read(move |s| source::read_witness(s, depth, &key))
            .await
    }

    /// The published record of `key`.
    pub(super) async fn published_row(&self, key: Fr) -> Result<Option<[Fr; 3]>, ApiError> {
        self.read(move |s| source::published_row(s, &key)).await
    }

    /// The published root, time and counts.
    pub(super) async fn published(&self, depth: usize) -> Result<(Fr, u64, Counts), ApiError> {
        self.read(move |s| source::published(s, depth)).await
    }

    /// After a publication on SQLite: copy the WAL into the database file and truncate it
    /// (erasure, spec §4.4). Nothing to do on PostgreSQL (see §4.4 on what it keeps).
    pub(super) async fn after_publish(&self) -> Result<(), ApiError> {
        match self {
            Self::Sqlite { store, .. } => store.checkpoint_truncate().await,
            Self::Postgres { .. } => Ok(()),
        }
    }
}

/// A publication's, takeover's or start-up's transaction on PostgreSQL: long statements and
/// lock waits allowed.
fn bulk_tx() -> PgTx<'static> {
    PgTx {
        snapshot: false,
        setup: PG_BULK_TIMEOUT,
        timeout: BULK,
    }
}

/// Share-locks the writer-token row and checks it is ours (PostgreSQL).
fn check_writer_sql(s: &mut dyn Sql, writer: &str) -> Result<(), ApiError> {
    let stored = s
        .row(WRITER_LOCK_SHARED, &[])?
        .and_then(|r| r.into_iter().next())
        .map(|c| c.text("writer"))
        .transpose()?;
    if stored.as_deref() == Some(writer) {
        Ok(())
    } else {
        Err(taken_over())
    }
}

/// Start-up inside the caller's transaction: the node store made whole, then checked.
fn open_checked(s: &mut dyn Sql, depth: usize, rebuild: bool) -> Result<Checked, ApiError> {
    prepare::prepare(s, depth, rebuild)?;
    let (root, counts) = source::verify(s, depth)?;
    let n = |v: Option<String>| v.and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(Checked {
        root,
        counts,
        published_at: n(source::meta(s, "published_at")?),
        // A hold further ahead than one request may ask (a clock stepped back) is dropped.
        held_until: Some(n(source::meta(s, "held_until")?))
            .filter(|u| {
                *u <= zkcredit_api::unix_now()
                    .saturating_add(zkcredit_api::provider::MAX_IMPORT_HOLD)
            })
            .unwrap_or(0),
    })
}

/// What start-up found.
struct Checked {
    root: Fr,
    counts: Counts,
    published_at: u64,
    held_until: u64,
}
