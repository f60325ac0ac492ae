//! Where a provider tree keeps its journal, leaf table and metadata (spec §4.4): the
//! embedded SQLite file (the default) or a PostgreSQL schema. Every query of the tree is a
//! method here, written once per backend; the publication's logic (what to apply, when to
//! rebuild, the in-memory rollback) is written once, in `store.rs`, against [`Journal`].
//!
//! **One writer per tree on PostgreSQL.** The in-memory tree equals the leaf table as this
//! process last wrote it, so two processes writing one tree would each publish from a stale
//! copy. The newest process to open a schema takes the tree over: it records a fresh random
//! writer token in `meta` (waiting for the old writer's open transactions), then loads the
//! leaves. Every write transaction locks that row and checks the token first, so the older
//! process's next write is refused with `409 tree_taken_over` and changes nothing (it keeps
//! answering witnesses from its last published tree). A rolling deploy is therefore safe:
//! the new process takes over, the old one is drained.

use super::store::{fr_blob, rec_blob, rec_bytes, Applied, Journal, Net};
use crate::store::{
    bounded, db, load_or_create_signing_key, pg, pg_load_or_create_signing_key, write_tx,
    DatabaseUrl, Migration, PgStore, Sql, Store, DEFAULT_POOL_SIZE, P,
};
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;
use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::field::{fr_to_be_bytes, fr_to_dec};
use zkcredit_circuits::imt::{IndexedMerkleTree, Leaf};
use zkcredit_circuits::Fr;

/// The tree's migrations, in both dialects. Version 1 on SQLite is the schema every earlier
/// release created (`IF NOT EXISTS`, so an existing store is adopted as is).
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "provider tree: leaves, journal, meta",
    sqlite: "
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
",
    postgres: "
CREATE TABLE leaves (
    idx BIGINT PRIMARY KEY,
    key BYTEA NOT NULL,
    next_key BYTEA NOT NULL,
    rec BYTEA NOT NULL,
    salt BYTEA NOT NULL
);
CREATE TABLE changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key BYTEA NOT NULL,
    rec BYTEA
);
CREATE INDEX changes_key ON changes (key, seq);
CREATE TABLE meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
",
}];

/// The PostgreSQL schema a provider uses unless told otherwise (`--database-schema`).
pub const DEFAULT_PG_SCHEMA: &str = "zkcredit_provider";

/// Leaves written per statement on PostgreSQL.
const PG_CHUNK: usize = 10_000;
/// The bound on one statement of a publication or a start-up load on PostgreSQL (a
/// rebuild of millions of leaves takes longer than the request-sized default).
const PG_BULK_TIMEOUT: &str = "SET LOCAL statement_timeout = '300s'";

const META: &str = "SELECT v FROM meta WHERE k = $1";
const SET_META: &str =
    "INSERT INTO meta (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v";
const SELECT_LEAVES: &str = "SELECT idx, key, next_key, rec, salt FROM leaves";
const SELECT_CHANGES: &str = "SELECT seq, key, rec FROM changes ORDER BY seq";
const INSERT_CHANGE: &str = "INSERT INTO changes (key, rec) VALUES ($1, $2)";
const STAGED_ROW: &str = "SELECT rec FROM changes WHERE key = $1 ORDER BY seq DESC LIMIT 1";
const COUNT_CHANGES: &str = "SELECT COUNT(*) FROM changes";
/// The writer-token row, locked by every write transaction on PostgreSQL.
const WRITER_LOCK_SHARED: &str = "SELECT v FROM meta WHERE k = 'writer' FOR SHARE";
const WRITER_LOCK: &str = "SELECT v FROM meta WHERE k = 'writer' FOR UPDATE";

/// SQLite spells positional parameters `?N`.
fn lite(q: &str) -> String {
    q.replace('$', "?")
}

/// What a store holds at start.
pub(super) struct Opened {
    pub(super) tree: IndexedMerkleTree,
    pub(super) published_root: Option<String>,
    pub(super) published_at: u64,
    pub(super) signing_key: ed25519_dalek::SigningKey,
}

/// Where a tree keeps its state.
#[derive(Clone, Debug)]
pub(super) enum TreeDb {
    /// The embedded file of one process.
    Sqlite(Store),
    /// A PostgreSQL schema; `writer` is this process's token (module docs).
    Postgres { store: PgStore, writer: String },
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

fn leaf_of(key: &[u8], next: &[u8], rec: &[u8], salt: &[u8]) -> Result<Leaf, ApiError> {
    Ok(Leaf {
        key: fr_blob(key)?,
        next_key: fr_blob(next)?,
        values: rec_blob(rec)?,
        salt: fr_blob(salt)?,
    })
}

fn build(depth: usize, leaves: Vec<(u64, Leaf)>) -> Result<IndexedMerkleTree, ApiError> {
    if leaves.is_empty() {
        return IndexedMerkleTree::new(depth).map_err(ApiError::internal);
    }
    IndexedMerkleTree::from_leaves(depth, leaves)
        .map_err(|e| ApiError::internal(format!("store holds a malformed tree: {e}")))
}

impl TreeDb {
    /// Opens the store `url` names (creating it and applying migrations), checks its
    /// identity (`role:id:depth`), takes the tree over on PostgreSQL, and loads the tree,
    /// the published root and time, and the signing key.
    pub(super) async fn open(
        url: &DatabaseUrl,
        schema: &str,
        identity: String,
        depth: usize,
    ) -> Result<(Self, Opened), ApiError> {
        match url {
            DatabaseUrl::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || Self::open_sqlite(&path, &identity, depth))
                    .await
                    .map_err(ApiError::internal)?
            }
            DatabaseUrl::Postgres(u) => {
                let store = PgStore::connect(u, schema, DEFAULT_POOL_SIZE, MIGRATIONS).await?;
                let writer = Self::take_over(&store, &identity).await?;
                let tree = pg_load_tree(&store, depth).await?;
                let (root, at) = bounded(async {
                    let c = store.client().await?;
                    Ok((
                        pg_meta(&c, "published_root").await?,
                        pg_meta(&c, "published_at").await?,
                    ))
                })
                .await?;
                let signing_key = pg_load_or_create_signing_key(&store, "meta").await?;
                Ok((
                    Self::Postgres { store, writer },
                    Opened {
                        tree,
                        published_root: root,
                        published_at: at.and_then(|s| s.parse().ok()).unwrap_or(0),
                        signing_key,
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
    ) -> Result<(Self, Opened), ApiError> {
        let store = Store::open_migrated(path, MIGRATIONS)?;
        let (tree, root, at) = store.with_sync(|conn| {
            let stored = sqlite_meta(conn, "identity")?;
            if identity_check(stored, identity)? {
                sqlite_set_meta(conn, "identity", identity)?;
            }
            let tree = sqlite_load_tree(conn, depth)?;
            Ok((
                tree,
                sqlite_meta(conn, "published_root")?,
                sqlite_meta(conn, "published_at")?,
            ))
        })?;
        let signing_key = load_or_create_signing_key(&store, "meta")?;
        Ok((
            Self::Sqlite(store),
            Opened {
                tree,
                published_root: root,
                published_at: at.and_then(|s| s.parse().ok()).unwrap_or(0),
                signing_key,
            },
        ))
    }

    /// Records a fresh writer token (after the identity check), waiting for the previous
    /// writer's open transactions.
    async fn take_over(store: &PgStore, identity: &str) -> Result<String, ApiError> {
        use rand::RngCore;
        let mut b = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let token = hex::encode(b);
        bounded(async {
            let mut c = store.client().await?;
            let tx = write_tx(&mut c).await?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext($1))",
                &[&format!("zkcredit-tree-open:{}", store.schema())],
            )
            .await
            .map_err(pg)?;
            let stored = pg_meta(&tx, "identity").await?;
            if identity_check(stored, identity)? {
                tx.execute(SET_META, &[&"identity", &identity])
                    .await
                    .map_err(pg)?;
            }
            tx.execute(SET_META, &[&"writer", &token])
                .await
                .map_err(pg)?;
            tx.commit().await.map_err(pg)
        })
        .await?;
        tracing::info!(schema = %store.schema(), "this process now writes the tree");
        Ok(token)
    }

    /// Stages `changes` in the journal, in one transaction.
    pub(super) async fn stage(&self, changes: Vec<(Fr, Option<[Fr; 3]>)>) -> Result<(), ApiError> {
        match self {
            Self::Sqlite(s) => s.with(move |conn| sqlite_stage(conn, &changes)).await,
            Self::Postgres { store, writer } => {
                let rows: Vec<(Vec<u8>, Option<Vec<u8>>)> = changes
                    .iter()
                    .map(|(k, v)| (fr_to_be_bytes(k).to_vec(), v.as_ref().map(rec_bytes)))
                    .collect();
                let mut c = store.client().await?;
                let tx = write_tx(&mut c).await?;
                tx.batch_execute(PG_BULK_TIMEOUT).await.map_err(pg)?;
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
            }
        }
    }

    /// [`Self::stage`] on the calling (blocking) thread, SQLite only: the issuer stages a
    /// KYC row inside its own approval transaction.
    pub(super) fn stage_blocking(&self, changes: &[(Fr, Option<[Fr; 3]>)]) -> Result<(), ApiError> {
        match self {
            Self::Sqlite(s) => s.with_sync(|conn| sqlite_stage(conn, changes)),
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
            Self::Sqlite(_) => return self.stage_blocking(changes),
            Self::Postgres { store, writer } => (store, writer),
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

    /// The last staged record for `key`: `None` nothing staged, `Some(None)` a delete.
    pub(super) async fn staged(&self, key: Fr) -> Result<Option<Option<[Fr; 3]>>, ApiError> {
        let k = fr_to_be_bytes(&key).to_vec();
        let rec: Option<Option<Vec<u8>>> = match self {
            Self::Sqlite(s) => {
                s.with(move |conn| {
                    conn.query_row(&lite(STAGED_ROW), [k], |r| r.get(0))
                        .optional()
                        .map_err(db)
                })
                .await?
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
    /// the last publication.
    pub(super) async fn pending(&self) -> Result<(u64, bool), ApiError> {
        let (n, flag) = match self {
            Self::Sqlite(s) => {
                s.with(|conn| {
                    let n: i64 = conn
                        .query_row(COUNT_CHANGES, [], |r| r.get(0))
                        .map_err(db)?;
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
        match self {
            Self::Sqlite(s) => {
                s.with(|conn| sqlite_set_meta(conn, "registry_pending", "0"))
                    .await
            }
            Self::Postgres { store, writer } => {
                bounded(async {
                    let mut c = store.client().await?;
                    let tx = write_tx(&mut c).await?;
                    check_writer(&tx, WRITER_LOCK_SHARED, writer).await?;
                    tx.execute(SET_META, &[&"registry_pending", &"0"])
                        .await
                        .map_err(pg)?;
                    tx.commit().await.map_err(pg)
                })
                .await
            }
        }
    }

    /// Runs `f` on a blocking thread with this store as a [`Journal`].
    pub(super) async fn with_journal<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Journal) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self {
            Self::Sqlite(s) => s.with(move |conn| f(&mut SqliteJournal(conn))).await,
            Self::Postgres { store, writer } => {
                let mut j = PgJournal {
                    rt: tokio::runtime::Handle::current(),
                    store: store.clone(),
                    writer: writer.clone(),
                };
                tokio::task::spawn_blocking(move || f(&mut j))
                    .await
                    .map_err(ApiError::internal)?
            }
        }
    }

    /// After a publication on SQLite: copy the WAL into the database file and truncate it
    /// (erasure, spec §4.4). Nothing to do on PostgreSQL (see §4.4 on what it keeps).
    pub(super) async fn after_publish(&self) -> Result<(), ApiError> {
        match self {
            Self::Sqlite(s) => s.checkpoint_truncate().await,
            Self::Postgres { .. } => Ok(()),
        }
    }
}

fn sqlite_meta(conn: &rusqlite::Connection, k: &str) -> Result<Option<String>, ApiError> {
    conn.query_row(&lite(META), [k], |r| r.get(0))
        .optional()
        .map_err(db)
}

fn sqlite_set_meta(conn: &rusqlite::Connection, k: &str, v: &str) -> Result<(), ApiError> {
    conn.execute(&lite(SET_META), [k, v])
        .map(|_| ())
        .map_err(db)
}

fn sqlite_stage(
    conn: &mut rusqlite::Connection,
    changes: &[(Fr, Option<[Fr; 3]>)],
) -> Result<(), ApiError> {
    let tx = conn.transaction().map_err(db)?;
    {
        let mut st = tx.prepare(&lite(INSERT_CHANGE)).map_err(db)?;
        for (k, v) in changes {
            st.execute(params![
                fr_to_be_bytes(k).to_vec(),
                v.as_ref().map(rec_bytes)
            ])
            .map_err(db)?;
        }
    }
    tx.commit().map_err(db)
}

fn sqlite_load_tree(
    conn: &rusqlite::Connection,
    depth: usize,
) -> Result<IndexedMerkleTree, ApiError> {
    let mut stmt = conn.prepare(SELECT_LEAVES).map_err(|e| {
        ApiError::internal(format!(
            "store's leaf table is unreadable ({e}); a store written before salted leaves \
             (spec §4.4) must be re-imported into a new data directory"
        ))
    })?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut leaves = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let idx: i64 = r.get(0).map_err(db)?;
        let (k, n, v, s): (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) = (
            r.get(1).map_err(db)?,
            r.get(2).map_err(db)?,
            r.get(3).map_err(db)?,
            r.get(4).map_err(db)?,
        );
        leaves.push((idx as u64, leaf_of(&k, &n, &v, &s)?));
    }
    build(depth, leaves)
}

/// The SQLite connection as a [`Journal`]: writes are serialised by the file's lock, so
/// the applied entries are "every entry up to the last one read".
struct SqliteJournal<'a>(&'a mut rusqlite::Connection);

impl Journal for SqliteJournal<'_> {
    fn read_changes(&mut self) -> Result<(Applied, Net), ApiError> {
        let mut stmt = self.0.prepare(SELECT_CHANGES).map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        let (mut applied, mut out) = (Applied::default(), BTreeMap::new());
        while let Some(r) = rows.next().map_err(db)? {
            applied.max = r.get(0).map_err(db)?;
            let key: Vec<u8> = r.get(1).map_err(db)?;
            let rec: Option<Vec<u8>> = r.get(2).map_err(db)?;
            out.insert(fr_blob(&key)?, rec.as_deref().map(rec_blob).transpose()?);
        }
        Ok((applied, out))
    }

    fn commit(
        &mut self,
        full: bool,
        leaves: &mut dyn Iterator<Item = (u64, Option<Leaf>)>,
        root: &Fr,
        now: u64,
        applied: &Applied,
    ) -> Result<(), ApiError> {
        let tx = self.0.transaction().map_err(db)?;
        if full {
            tx.execute("DELETE FROM leaves", []).map_err(db)?;
        }
        for (i, leaf) in leaves {
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
                    .map_err(db)?,
                None => tx
                    .prepare_cached("DELETE FROM leaves WHERE idx = ?1")
                    .and_then(|mut st| st.execute([i as i64]))
                    .map_err(db)?,
            };
        }
        sqlite_set_meta(&tx, "published_root", &fr_to_dec(root))?;
        sqlite_set_meta(&tx, "published_at", &now.to_string())?;
        sqlite_set_meta(&tx, "registry_pending", "1")?;
        tx.execute("DELETE FROM changes WHERE seq <= ?1", [applied.max])
            .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn load_tree(&mut self, depth: usize) -> Result<IndexedMerkleTree, ApiError> {
        sqlite_load_tree(self.0, depth)
    }
}

async fn pg_meta(
    c: &impl deadpool_postgres::GenericClient,
    k: &str,
) -> Result<Option<String>, ApiError> {
    c.query_opt(META, &[&k])
        .await
        .map_err(pg)?
        .map(|r| r.try_get(0).map_err(pg))
        .transpose()
}

/// Locks the writer-token row (`lock`: shared or exclusive) and checks it is ours.
async fn check_writer(
    tx: &deadpool_postgres::Transaction<'_>,
    lock: &str,
    writer: &str,
) -> Result<(), ApiError> {
    let row = tx.query_opt(lock, &[]).await.map_err(pg)?;
    let stored: Option<String> = row.map(|r| r.try_get(0).map_err(pg)).transpose()?;
    if stored.as_deref() == Some(writer) {
        Ok(())
    } else {
        Err(taken_over())
    }
}

async fn pg_load_tree(store: &PgStore, depth: usize) -> Result<IndexedMerkleTree, ApiError> {
    use futures_util::TryStreamExt;
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(pg)?;
    tx.batch_execute(PG_BULK_TIMEOUT).await.map_err(pg)?;
    let rows = tx
        .query_raw(SELECT_LEAVES, std::iter::empty::<i32>())
        .await
        .map_err(pg)?;
    let mut rows = std::pin::pin!(rows);
    let mut leaves = Vec::new();
    while let Some(r) = rows.try_next().await.map_err(pg)? {
        let idx: i64 = r.try_get(0).map_err(pg)?;
        let (k, n, v, s): (&[u8], &[u8], &[u8], &[u8]) = (
            r.try_get(1).map_err(pg)?,
            r.try_get(2).map_err(pg)?,
            r.try_get(3).map_err(pg)?,
            r.try_get(4).map_err(pg)?,
        );
        leaves.push((idx as u64, leaf_of(k, n, v, s)?));
    }
    tx.commit().await.map_err(pg)?;
    build(depth, leaves)
}

/// The PostgreSQL store as a [`Journal`], driven from a blocking thread. Concurrent stages
/// may commit journal entries out of `seq` order, so the applied entries are exactly the
/// ones read, and only those are removed.
struct PgJournal {
    rt: tokio::runtime::Handle,
    store: PgStore,
    writer: String,
}

impl Journal for PgJournal {
    fn read_changes(&mut self) -> Result<(Applied, Net), ApiError> {
        self.rt.block_on(async {
            let c = self.store.client().await?;
            let rows = c.query(SELECT_CHANGES, &[]).await.map_err(pg)?;
            let (mut applied, mut out) = (Applied::default(), BTreeMap::new());
            for r in rows {
                let seq: i64 = r.try_get(0).map_err(pg)?;
                applied.max = seq;
                applied.seqs.push(seq);
                let key: &[u8] = r.try_get(1).map_err(pg)?;
                let rec: Option<&[u8]> = r.try_get(2).map_err(pg)?;
                out.insert(fr_blob(key)?, rec.map(rec_blob).transpose()?);
            }
            Ok((applied, out))
        })
    }

    fn commit(
        &mut self,
        full: bool,
        leaves: &mut dyn Iterator<Item = (u64, Option<Leaf>)>,
        root: &Fr,
        now: u64,
        applied: &Applied,
    ) -> Result<(), ApiError> {
        let (store, writer) = (&self.store, &self.writer);
        self.rt.block_on(async {
            let mut c = store.client().await?;
            let tx = write_tx(&mut c).await?;
            tx.batch_execute(PG_BULK_TIMEOUT).await.map_err(pg)?;
            check_writer(&tx, WRITER_LOCK, writer).await?;
            if full {
                tx.batch_execute("DELETE FROM leaves").await.map_err(pg)?;
            }
            let upsert = tx
                .prepare(
                    "INSERT INTO leaves (idx, key, next_key, rec, salt)
                     SELECT * FROM UNNEST($1::bigint[], $2::bytea[], $3::bytea[], $4::bytea[], $5::bytea[])
                     ON CONFLICT (idx) DO UPDATE SET key = excluded.key, next_key = excluded.next_key,
                         rec = excluded.rec, salt = excluded.salt",
                )
                .await
                .map_err(pg)?;
            let mut gone: Vec<i64> = Vec::new();
            loop {
                let (mut idx, mut key, mut next, mut rec, mut salt) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for (i, leaf) in &mut *leaves {
                    match leaf {
                        Some(l) => {
                            idx.push(i as i64);
                            key.push(fr_to_be_bytes(&l.key).to_vec());
                            next.push(fr_to_be_bytes(&l.next_key).to_vec());
                            rec.push(rec_bytes(&l.values));
                            salt.push(fr_to_be_bytes(&l.salt).to_vec());
                            if idx.len() == PG_CHUNK {
                                break;
                            }
                        }
                        None => gone.push(i as i64),
                    }
                }
                if idx.is_empty() {
                    break;
                }
                tx.execute(&upsert, &[&idx, &key, &next, &rec, &salt])
                    .await
                    .map_err(pg)?;
            }
            if !gone.is_empty() {
                tx.execute("DELETE FROM leaves WHERE idx = ANY($1)", &[&gone])
                    .await
                    .map_err(pg)?;
            }
            tx.execute(SET_META, &[&"published_root", &fr_to_dec(root)])
                .await
                .map_err(pg)?;
            tx.execute(SET_META, &[&"published_at", &now.to_string()])
                .await
                .map_err(pg)?;
            tx.execute(SET_META, &[&"registry_pending", &"1"])
                .await
                .map_err(pg)?;
            tx.execute("DELETE FROM changes WHERE seq = ANY($1)", &[&applied.seqs])
                .await
                .map_err(pg)?;
            tx.commit().await.map_err(pg)
        })
    }

    fn load_tree(&mut self, depth: usize) -> Result<IndexedMerkleTree, ApiError> {
        self.rt.block_on(pg_load_tree(&self.store, depth))
    }
}
