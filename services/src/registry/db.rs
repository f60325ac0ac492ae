//! The registry's store (spec §5, §4.4): provider slots, the history of registry roots and
//! the slot leaves each root was computed from, on the embedded SQLite file (one process)
//! or on PostgreSQL (replicas behind a load balancer). Every query the registry makes is a
//! method here, written once per backend; the rules (who owns a slot, `published_at` never
//! going back, when a root becomes current) are written once, in `registry/slots.rs`.
//!
//! **One linear history across replicas.** Every write — a registration or a publication —
//! reads the slots, applies the change and records the resulting root in one transaction
//! that holds the registry's write lock: `BEGIN IMMEDIATE` on SQLite, a transaction-level
//! advisory lock keyed by the schema on PostgreSQL. Two replicas publishing at once are
//! therefore applied one after the other, each on the other's result: no publication is
//! lost, and exactly one root is current at any time (a unique partial index on both
//! backends). Roots are ordered by `seq`, taken under the lock, not by time; on PostgreSQL
//! the time a root becomes current is the database's clock, which every replica shares.

use super::slots::{apply, next_root, SlotRow, Write};
use crate::store::{
    bounded, db, load_or_create_signing_key, pg, pg_load_or_create_signing_key, write_tx,
    DatabaseUrl, Migration, PgStore, Store, DEFAULT_POOL_SIZE,
};
use rusqlite::OptionalExtension;
use zkcredit_api::registry::RootView;
use zkcredit_api::ApiError;

/// The registry's migrations, in both dialects. Version 1 on SQLite is the schema every
/// earlier release created (`IF NOT EXISTS`, so an existing store is adopted as is).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
    version: 1,
    name: "slots, roots, root slots and the registry key",
    sqlite: "
CREATE TABLE IF NOT EXISTS slots (
    slot INTEGER PRIMARY KEY,
    role INTEGER NOT NULL,
    provider_id TEXT NOT NULL,
    provider_root TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    token_sha256 TEXT,
    endpoint TEXT,
    signature TEXT
);
CREATE TABLE IF NOT EXISTS roots (
    root TEXT PRIMARY KEY,
    current_since INTEGER NOT NULL,
    retired_at INTEGER
);
CREATE TABLE IF NOT EXISTS root_slots (
    root TEXT PRIMARY KEY,
    slots_json TEXT NOT NULL,
    signatures_json TEXT
);
CREATE TABLE IF NOT EXISTS registry_meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
",
    postgres: "
CREATE TABLE slots (
    slot BIGINT PRIMARY KEY,
    role BIGINT NOT NULL,
    provider_id TEXT NOT NULL,
    provider_root TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    token_sha256 TEXT,
    endpoint TEXT,
    signature TEXT
);
CREATE TABLE roots (
    root TEXT PRIMARY KEY,
    current_since BIGINT NOT NULL,
    retired_at BIGINT
);
CREATE UNIQUE INDEX roots_one_current ON roots ((retired_at IS NULL)) WHERE retired_at IS NULL;
CREATE TABLE root_slots (
    root TEXT PRIMARY KEY,
    slots_json TEXT NOT NULL,
    signatures_json TEXT
);
CREATE TABLE registry_meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
",
    },
    Migration {
        version: 2,
        name: "roots in write order, at most one current root",
        sqlite: "
ALTER TABLE roots ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE roots SET seq = (
    SELECT COUNT(*) FROM roots AS o
    WHERE o.current_since < roots.current_since
       OR (o.current_since = roots.current_since
           AND ((o.retired_at IS NULL) < (roots.retired_at IS NULL)
                OR ((o.retired_at IS NULL) = (roots.retired_at IS NULL) AND o.rowid <= roots.rowid)))
);
CREATE INDEX roots_seq ON roots (seq);
CREATE UNIQUE INDEX roots_one_current ON roots ((retired_at IS NULL)) WHERE retired_at IS NULL;
",
        postgres: "
ALTER TABLE roots ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX roots_seq ON roots (seq);
",
    },
];

/// The PostgreSQL schema the registry uses unless told otherwise (`--database-schema`).
pub const DEFAULT_PG_SCHEMA: &str = "zkcredit_registry";

const SELECT_SLOTS: &str = "SELECT slot, role, provider_id, provider_root, published_at, token_sha256, endpoint, signature FROM slots ORDER BY slot";
const UPSERT_SLOT: &str = "INSERT INTO slots (slot, role, provider_id, provider_root, published_at, token_sha256, endpoint, signature) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
 ON CONFLICT (slot) DO UPDATE SET role = excluded.role, provider_id = excluded.provider_id, provider_root = excluded.provider_root, published_at = excluded.published_at, token_sha256 = excluded.token_sha256, endpoint = excluded.endpoint, signature = excluded.signature";
const DELETE_SLOT: &str = "DELETE FROM slots WHERE slot = $1";
const CURRENT: &str = "SELECT root FROM roots WHERE retired_at IS NULL";
const LAST_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM roots";
const UPSERT_ROOT_SLOTS: &str =
    "INSERT INTO root_slots (root, slots_json, signatures_json) VALUES ($1, $2, $3)
 ON CONFLICT (root) DO UPDATE SET signatures_json = excluded.signatures_json";
const RETIRE: &str = "UPDATE roots SET retired_at = $1 WHERE retired_at IS NULL";
const MAKE_CURRENT: &str = "INSERT INTO roots (root, current_since, retired_at, seq) VALUES ($1, $2, NULL, $3)
 ON CONFLICT (root) DO UPDATE SET current_since = excluded.current_since, retired_at = NULL, seq = excluded.seq";
const HISTORY: &str =
    "SELECT root, current_since, retired_at FROM roots ORDER BY seq DESC LIMIT 64";
/// The database's clock, in whole seconds.
const DB_NOW: &str = "SELECT EXTRACT(EPOCH FROM clock_timestamp())::bigint";
const ROOT_RETIRED_AT: &str = "SELECT retired_at FROM roots WHERE root = $1";
const ROOT_SLOTS: &str = "SELECT slots_json, signatures_json FROM root_slots WHERE root = $1";

/// SQLite spells positional parameters `?N`.
fn lite(q: &str) -> String {
    q.replace('$', "?")
}

fn lite_slot(r: &rusqlite::Row<'_>) -> rusqlite::Result<SlotRow> {
    Ok(SlotRow {
        slot: r.get(0)?,
        role: r.get(1)?,
        provider_id: r.get(2)?,
        provider_root: r.get(3)?,
        published_at: r.get(4)?,
        token_sha256: r.get(5)?,
        endpoint: r.get(6)?,
        signature: r.get(7)?,
    })
}

fn pg_slot(r: &tokio_postgres::Row) -> Result<SlotRow, ApiError> {
    Ok(SlotRow {
        slot: r.try_get(0).map_err(pg)?,
        role: r.try_get(1).map_err(pg)?,
        provider_id: r.try_get(2).map_err(pg)?,
        provider_root: r.try_get(3).map_err(pg)?,
        published_at: r.try_get(4).map_err(pg)?,
        token_sha256: r.try_get(5).map_err(pg)?,
        endpoint: r.try_get(6).map_err(pg)?,
        signature: r.try_get(7).map_err(pg)?,
    })
}

fn pg_slots(rows: &[tokio_postgres::Row]) -> Result<Vec<SlotRow>, ApiError> {
    rows.iter().map(pg_slot).collect()
}

fn lite_slots(conn: &rusqlite::Connection) -> Result<Vec<SlotRow>, ApiError> {
    let mut st = conn.prepare(SELECT_SLOTS).map_err(db)?;
    let rows = st.query_map([], lite_slot).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

const SLOTS_INSERT: &str =
    "INSERT INTO registry_meta (k, v) VALUES ('slots', $1) ON CONFLICT (k) DO NOTHING";
const SLOTS_SELECT: &str = "SELECT v FROM registry_meta WHERE k = 'slots'";

/// [`RegistryDb::check_slots`] on a SQLite connection (also used at start, before serving).
pub(super) fn check_slots_sqlite(conn: &rusqlite::Connection, n: usize) -> Result<(), ApiError> {
    conn.execute(&lite(SLOTS_INSERT), [n.to_string()])
        .map_err(db)?;
    let stored: String = conn.query_row(SLOTS_SELECT, [], |r| r.get(0)).map_err(db)?;
    same_slots(&stored, n)
}

fn same_slots(stored: &str, n: usize) -> Result<(), ApiError> {
    if stored != n.to_string() {
        return Err(ApiError::new(
            zkcredit_api::ErrorCode::BadRequest,
            format!("this registry store has {stored} slots, not {n}: start with --slots {stored} (every replica the same)"),
        ));
    }
    Ok(())
}

/// A root's status as stored: `None` unknown, `Some(None)` current, `Some(Some(t))`
/// retired at `t`; and its slot leaves and signatures (JSON) when recorded.
pub type StoredRootStatus = (Option<Option<i64>>, Option<(String, Option<String>)>);

/// Where the registry keeps its state.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RegistryDb {
    /// The embedded file of one process.
    Sqlite(Store),
    /// A database shared by replicas.
    Postgres(PgStore),
}

impl RegistryDb {
    /// Opens (creating, migrating) the SQLite store at `path`.
    pub fn open_sqlite(path: &std::path::Path) -> Result<Self, ApiError> {
        let store = Store::open_migrated(path, MIGRATIONS)?;
        // Stores created before provider signatures gain the columns.
        store.with_sync(|conn| {
            for (table, column) in [("slots", "signature"), ("root_slots", "signatures_json")] {
                let has: bool = conn
                    .prepare(&format!(
                        "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
                    ))
                    .and_then(|mut s| s.exists([column]))
                    .map_err(db)?;
                if !has {
                    conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT"))
                        .map_err(db)?;
                }
            }
            Ok(())
        })?;
        Ok(Self::Sqlite(store))
    }

    /// Opens the store `url` names (PostgreSQL tables in `schema`), applying migrations.
    pub async fn open(url: &DatabaseUrl, schema: &str) -> Result<Self, ApiError> {
        match url {
            DatabaseUrl::Sqlite(path) => Self::open_sqlite(path),
            DatabaseUrl::Postgres(u) => Ok(Self::Postgres(
                PgStore::connect(u, schema, DEFAULT_POOL_SIZE, MIGRATIONS).await?,
            )),
        }
    }

    /// The registry's answer-signing key, created by the first process to open the store.
    pub async fn signing_key(&self) -> Result<ed25519_dalek::SigningKey, ApiError> {
        match self {
            Self::Sqlite(s) => load_or_create_signing_key(s, "registry_meta"),
            Self::Postgres(p) => pg_load_or_create_signing_key(p, "registry_meta").await,
        }
    }

    /// Records the slot count at first start and refuses another one later: replicas, and
    /// restarts, must agree on the registry's shape.
    pub async fn check_slots(&self, n: usize) -> Result<(), ApiError> {
        match self {
            Self::Sqlite(s) => s.with(move |conn| check_slots_sqlite(conn, n)).await,
            Self::Postgres(p) => {
                let stored: String = bounded(async {
                    let c = p.client().await?;
                    c.execute(SLOTS_INSERT, &[&n.to_string()])
                        .await
                        .map_err(pg)?;
                    c.query_one(SLOTS_SELECT, &[])
                        .await
                        .and_then(|r| r.try_get(0))
                        .map_err(pg)
                })
                .await?;
                same_slots(&stored, n)
            }
        }
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> Result<(), ApiError> {
        match self {
            Self::Sqlite(s) => s.ping().await,
            Self::Postgres(p) => p.ping().await,
        }
    }

    /// The slots and the recent root history (newest first), read together.
    pub async fn snapshot(&self) -> Result<(Vec<SlotRow>, Vec<RootView>), ApiError> {
        fn view(root: String, since: i64, retired: Option<i64>) -> RootView {
            RootView {
                root,
                current_since: since as u64,
                retired_at: retired.map(|t| t as u64),
            }
        }
        match self {
            Self::Sqlite(s) => {
                s.with(|conn| {
                    let tx = conn.transaction().map_err(db)?;
                    let rows = lite_slots(&tx)?;
                    let mut st = tx.prepare(HISTORY).map_err(db)?;
                    let history = st
                        .query_map([], |r| Ok(view(r.get(0)?, r.get(1)?, r.get(2)?)))
                        .map_err(db)?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(db)?;
                    Ok((rows, history))
                })
                .await
            }
            Self::Postgres(p) => {
                bounded(async move {
                    let mut c = p.client().await?;
                    let tx = c
                        .build_transaction()
                        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()
                        .await
                        .map_err(pg)?;
                    let rows = tx.query(SELECT_SLOTS, &[]).await.map_err(pg)?;
                    let history = tx.query(HISTORY, &[]).await.map_err(pg)?;
                    tx.commit().await.map_err(pg)?;
                    let history = history
                        .iter()
                        .map(|r| {
                            Ok(view(
                                r.try_get(0).map_err(pg)?,
                                r.try_get(1).map_err(pg)?,
                                r.try_get(2).map_err(pg)?,
                            ))
                        })
                        .collect::<Result<_, ApiError>>()?;
                    Ok((pg_slots(&rows)?, history))
                })
                .await
            }
        }
    }

    /// Applies `w` to the registry of `n` slots and records the root the slots then make, in
    /// one transaction holding the registry's write lock. The root becomes current at `now`
    /// on SQLite, at the database's clock on PostgreSQL (every replica's writes on one
    /// clock; a replica whose own clock differs by more than [`super::FUTURE_SKEW`] is
    /// logged).
    pub async fn write(&self, w: Write, n: usize, now: u64) -> Result<(), ApiError> {
        match self {
            Self::Sqlite(s) => {
                s.with(move |conn| {
                    let tx = conn
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .map_err(db)?;
                    let mut rows = lite_slots(&tx)?;
                    match apply(&mut rows, w)? {
                        (_, Some(r)) => tx.execute(
                            &lite(UPSERT_SLOT),
                            rusqlite::params![
                                r.slot,
                                r.role,
                                r.provider_id,
                                r.provider_root,
                                r.published_at,
                                r.token_sha256,
                                r.endpoint,
                                r.signature
                            ],
                        ),
                        (slot, None) => tx.execute(&lite(DELETE_SLOT), [slot as i64]),
                    }
                    .map_err(db)?;
                    let current: Option<String> = tx
                        .query_row(CURRENT, [], |r| r.get(0))
                        .optional()
                        .map_err(db)?;
                    let seq: i64 = tx.query_row(LAST_SEQ, [], |r| r.get(0)).map_err(db)?;
                    let next = next_root(&rows, n, current, now as i64)?;
                    tx.execute(
                        &lite(UPSERT_ROOT_SLOTS),
                        rusqlite::params![next.root, next.slots_json, next.signatures_json],
                    )
                    .map_err(db)?;
                    if let Some(at) = next.becomes_current_at {
                        tx.execute(&lite(RETIRE), [at]).map_err(db)?;
                        tx.execute(
                            &lite(MAKE_CURRENT),
                            rusqlite::params![next.root, at, seq + 1],
                        )
                        .map_err(db)?;
                    }
                    tx.commit().map_err(db)
                })
                .await
            }
            Self::Postgres(p) => {
                bounded(async move {
                    let mut c = p.client().await?;
                    let tx = write_tx(&mut c).await?;
                    tx.execute(
                        "SELECT pg_advisory_xact_lock(hashtext($1))",
                        &[&format!("zkcredit-registry-write:{}", p.schema())],
                    )
                    .await
                    .map_err(pg)?;
                    let mut rows = pg_slots(&tx.query(SELECT_SLOTS, &[]).await.map_err(pg)?)?;
                    match apply(&mut rows, w)? {
                        (_, Some(r)) => tx
                            .execute(
                                UPSERT_SLOT,
                                &[
                                    &r.slot,
                                    &r.role,
                                    &r.provider_id,
                                    &r.provider_root,
                                    &r.published_at,
                                    &r.token_sha256,
                                    &r.endpoint,
                                    &r.signature,
                                ],
                            )
                            .await
                            .map_err(pg)?,
                        (slot, None) => tx
                            .execute(DELETE_SLOT, &[&(slot as i64)])
                            .await
                            .map_err(pg)?,
                    };
                    let current: Option<String> = match tx.query_opt(CURRENT, &[]).await {
                        Ok(Some(r)) => Some(r.try_get(0).map_err(pg)?),
                        Ok(None) => None,
                        Err(e) => return Err(pg(e)),
                    };
                    let seq: i64 = tx
                        .query_one(LAST_SEQ, &[])
                        .await
                        .and_then(|r| r.try_get(0))
                        .map_err(pg)?;
                    let db_now: i64 = tx
                        .query_one(DB_NOW, &[])
                        .await
                        .and_then(|r| r.try_get(0))
                        .map_err(pg)?;
                    if db_now.abs_diff(now as i64) > super::FUTURE_SKEW {
                        tracing::warn!(database_clock = db_now, replica_clock = now, "this replica's clock differs from the database's by more than {} s: roots are timed by the database", super::FUTURE_SKEW);
                    }
                    let next = next_root(&rows, n, current, db_now)?;
                    tx.execute(
                        UPSERT_ROOT_SLOTS,
                        &[&next.root, &next.slots_json, &next.signatures_json],
                    )
                    .await
                    .map_err(pg)?;
                    if let Some(at) = next.becomes_current_at {
                        tx.execute(RETIRE, &[&at]).await.map_err(pg)?;
                        tx.execute(MAKE_CURRENT, &[&next.root, &at, &(seq + 1)])
                            .await
                            .map_err(pg)?;
                    }
                    tx.commit().await.map_err(pg)
                })
                .await
            }
        }
    }

    /// What the store holds about `root` (decimal).
    pub async fn root_status(&self, root: String) -> Result<StoredRootStatus, ApiError> {
        match self {
            Self::Sqlite(s) => {
                s.with(move |conn| {
                    let retired = conn
                        .query_row(&lite(ROOT_RETIRED_AT), [&root], |r| r.get(0))
                        .optional()
                        .map_err(db)?;
                    let slots = conn
                        .query_row(&lite(ROOT_SLOTS), [&root], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                        .map_err(db)?;
                    Ok((retired, slots))
                })
                .await
            }
            Self::Postgres(p) => {
                bounded(async move {
                    let c = p.client().await?;
                    let retired = match c.query_opt(ROOT_RETIRED_AT, &[&root]).await {
                        Ok(Some(r)) => Some(r.try_get(0).map_err(pg)?),
                        Ok(None) => None,
                        Err(e) => return Err(pg(e)),
                    };
                    let slots = match c.query_opt(ROOT_SLOTS, &[&root]).await {
                        Ok(Some(r)) => Some((r.try_get(0).map_err(pg)?, r.try_get(1).map_err(pg)?)),
                        Ok(None) => None,
                        Err(e) => return Err(pg(e)),
                    };
                    Ok((retired, slots))
                })
                .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store written by the release before versioned migrations (no `user_version`, no
    /// `seq`) is adopted: its roots get their write order back, the current one last.
    #[tokio::test]
    async fn a_store_from_before_migrations_keeps_its_history_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].sqlite).unwrap();
        conn.execute_batch(
            "INSERT INTO roots VALUES ('1', 100, 200);
             INSERT INTO roots VALUES ('3', 200, NULL);
             INSERT INTO roots VALUES ('2', 200, 200);",
        )
        .unwrap();
        drop(conn);
        let db = RegistryDb::open_sqlite(&path).unwrap();
        let (_, history) = db.snapshot().await.unwrap();
        let order: Vec<&str> = history.iter().map(|r| r.root.as_str()).collect();
        assert_eq!(
            order,
            ["3", "2", "1"],
            "newest first, the current root first"
        );
        let RegistryDb::Sqlite(s) = &db else {
            unreachable!()
        };
        let second_current = s
            .with(|c| {
                Ok(
                    c.execute("INSERT INTO roots VALUES ('4', 300, NULL, 9)", [])
                        .is_err(),
                )
            })
            .await
            .unwrap();
        assert!(second_current, "at most one current root");
    }
}
