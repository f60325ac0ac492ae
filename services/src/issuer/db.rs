//! The issuer's store (spec §7.2, §4.4): applications, bindings, clients, lookups,
//! revocations, rebinds and its two secrets, in the embedded SQLite file or in a PostgreSQL
//! schema. The issuer's rules are written once against [`Sql`] (`applications.rs`,
//! `lookup.rs`, `revocation.rs`); every write runs in one transaction holding the issuer's
//! write lock — `BEGIN IMMEDIATE` on SQLite, a transaction-level advisory lock keyed by the
//! schema on PostgreSQL — so two approvals never bind one identifier twice, on one process
//! or several.
//!
//! On PostgreSQL the KYC tree lives in the schema `<schema>_tree` of the same database, so
//! an approval's binding and its staged KYC row commit in **one** transaction (on SQLite
//! they are two files: the row is staged just before the binding commits).

use crate::store::{pg_tx, sqlite_tx, DatabaseUrl, Migration, PgStore, Sql, Store};
use zkcredit_api::ApiError;

/// The issuer's migrations, in both dialects. Version 1 on SQLite is the schema every
/// earlier release created (`IF NOT EXISTS`, so an existing store is adopted as is).
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "issuer: secrets, applications, holders, clients, lookups, revocations, rebinds",
    sqlite: "
CREATE TABLE IF NOT EXISTS secrets (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applications (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    holder_commitment TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_at INTEGER,
    attestation TEXT
);
CREATE TABLE IF NOT EXISTS holders (
    subject_key TEXT PRIMARY KEY,
    holder_commitment TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    application TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS clients (name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lookups (client TEXT NOT NULL, at INTEGER NOT NULL, subject_key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS applications_holder_key ON applications(holder_key);
CREATE INDEX IF NOT EXISTS applications_status ON applications(status);
CREATE TABLE IF NOT EXISTS revocations (
    subject_key TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    revoked_at INTEGER NOT NULL,
    application TEXT NOT NULL,
    PRIMARY KEY (subject_key, holder_key)
);
CREATE TABLE IF NOT EXISTS rebinds (subject_key TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS rebinds_subject ON rebinds(subject_key, at);
",
    postgres: "
CREATE TABLE secrets (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL,
    holder_commitment TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    attestation TEXT
);
CREATE TABLE holders (
    subject_key TEXT PRIMARY KEY,
    holder_commitment TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    application TEXT NOT NULL
);
CREATE TABLE clients (name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL);
CREATE INDEX clients_token ON clients (token_sha256);
CREATE TABLE lookups (client TEXT NOT NULL, at BIGINT NOT NULL, subject_key TEXT NOT NULL);
CREATE INDEX applications_holder_key ON applications (holder_key);
CREATE INDEX applications_status ON applications (status);
CREATE TABLE revocations (
    subject_key TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    revoked_at BIGINT NOT NULL,
    application TEXT NOT NULL,
    PRIMARY KEY (subject_key, holder_key)
);
CREATE TABLE rebinds (subject_key TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX rebinds_subject ON rebinds (subject_key, at);
",
}, Migration {
    version: 2,
    name: "issuer: lookups counted per client and minute in the store",
    sqlite: "CREATE INDEX IF NOT EXISTS lookups_client_at ON lookups(client, at);",
    postgres: "CREATE INDEX lookups_client_at ON lookups (client, at);",
}];

/// The PostgreSQL schema the issuer uses unless told otherwise (`--database-schema`); its
/// KYC tree uses this name followed by `_tree`.
pub const DEFAULT_PG_SCHEMA: &str = "zkcredit_issuer";

/// Where the issuer keeps its state.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum IssuerDb {
    /// The embedded file of one process.
    Sqlite(Store),
    /// A PostgreSQL schema.
    Postgres(PgStore),
}

impl IssuerDb {
    /// Opens (creating, migrating) the SQLite store at `path`.
    pub fn open_sqlite(path: &std::path::Path) -> Result<Self, ApiError> {
        Ok(Self::Sqlite(Store::open_migrated(path, MIGRATIONS)?))
    }

    /// Opens the store `url` names (PostgreSQL tables in `schema`), applying migrations.
    pub async fn open(url: &DatabaseUrl, schema: &str) -> Result<Self, ApiError> {
        match url {
            DatabaseUrl::Sqlite(path) => Self::open_sqlite(path),
            DatabaseUrl::Postgres(u) => Ok(Self::Postgres(
                PgStore::connect(u, schema, crate::store::DEFAULT_POOL_SIZE, MIGRATIONS).await?,
            )),
            #[allow(unreachable_patterns)]
            _ => Err(ApiError::bad_request("unsupported database URL")),
        }
    }

    /// Runs `f` in one transaction holding the issuer's write lock (module docs).
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self {
            Self::Sqlite(s) => sqlite_tx(s, true, f).await,
            Self::Postgres(s) => pg_tx(s, Some(format!("zkcredit-issuer:{}", s.schema())), f).await,
        }
    }

    /// Runs `f` in one transaction holding a lock of its own named `name` (on SQLite the
    /// one write lock): for writes that must be serialised among themselves but not with
    /// approvals, such as one client's lookups and their count.
    pub async fn write_as<T: Send + 'static>(
        &self,
        name: &str,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self {
            Self::Sqlite(s) => sqlite_tx(s, true, f).await,
            Self::Postgres(s) => {
                pg_tx(s, Some(format!("zkcredit-issuer:{}:{name}", s.schema())), f).await
            }
        }
    }

    /// Runs `f` in one read transaction.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self {
            Self::Sqlite(s) => sqlite_tx(s, false, f).await,
            Self::Postgres(s) => pg_tx(s, None, f).await,
        }
    }

    /// [`Self::write`] on the calling thread, SQLite only (start-up before a runtime).
    pub(super) fn write_sqlite_now<T>(
        store: &Store,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        store.with_sync(|conn| {
            let mut tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(crate::store::db)?;
            let out = f(&mut tx)?;
            tx.commit().map_err(crate::store::db)?;
            Ok(out)
        })
    }

    /// Readiness: the store answers a query.
    pub async fn ping(&self) -> Result<(), ApiError> {
        match self {
            Self::Sqlite(s) => s.ping().await,
            Self::Postgres(s) => s.ping().await,
        }
    }
}
