//! The verifier's store (spec §7.0, §4.4): proof requests and recorded nullifiers, on the
//! embedded SQLite file (one process) or on PostgreSQL (a fleet of replicas). Every query
//! the verifier makes is a method here, written once per backend.
//!
//! **No double acceptance.** [`VerifierDb::record`] inserts the nullifier and consumes
//! the request in one transaction. Which of two concurrent submissions wins is decided by
//! the database: the `(scope, nullifier)` primary key (the loser's `INSERT … ON CONFLICT DO
//! NOTHING` inserts nothing once the winner commits) and the request row's lock (the
//! loser's `UPDATE … WHERE used_at IS NULL` finds it used). Nothing is cached in the
//! process, so replicas on one PostgreSQL never disagree.
//!
//! **Origination tags** (spec §6.10). A proof under a policy with a new-loan limit carries a
//! non-zero tag; [`VerifierDb::record`] inserts it in the same transaction as the
//! nullifier, and a tag already present refuses the proof (`origination_limit_reached`).
//! On SQLite the tags are this verifier's own (the limit holds across its products and
//! scopes); on PostgreSQL they live in the one schema [`ORIGINATION_PG_SCHEMA`] that every
//! lender's verifier on the alliance's shared database uses, beside each verifier's own
//! schema, so the limit holds across lenders. The table keeps the tag and its epoch only:
//! not which lender recorded it, nor when.

mod record;

use crate::store::{bounded, db, pg, DatabaseUrl, Migration, PgStore, Store, DEFAULT_POOL_SIZE};
pub use record::TagRecord;
use rusqlite::OptionalExtension;
use zkcredit_api::{ApiError, ErrorCode};

/// The verifier's migrations, in both dialects.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "requests, nullifiers and the verifier id",
        sqlite: "
CREATE TABLE IF NOT EXISTS requests (
    nonce TEXT PRIMARY KEY,
    context TEXT NOT NULL UNIQUE,
    policy_json TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    scope TEXT NOT NULL,
    expiry INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    product TEXT NOT NULL DEFAULT '',
    period INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_expiry ON requests (expiry);
CREATE TABLE IF NOT EXISTS nullifiers (
    scope TEXT NOT NULL,
    nullifier TEXT NOT NULL,
    request_nonce TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (scope, nullifier)
);
",
        postgres: "
CREATE TABLE requests (
    nonce TEXT PRIMARY KEY,
    context TEXT NOT NULL UNIQUE,
    policy_json TEXT NOT NULL,
    policy_hash TEXT NOT NULL,
    scope TEXT NOT NULL,
    expiry BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT,
    product TEXT NOT NULL,
    period BIGINT NOT NULL
);
CREATE INDEX requests_expiry ON requests (expiry);
CREATE TABLE nullifiers (
    scope TEXT NOT NULL,
    nullifier TEXT NOT NULL,
    request_nonce TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (scope, nullifier)
);
CREATE TABLE verifier_meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
",
    },
    Migration {
        version: 2,
        name: "origination tags (spec 6.10)",
        sqlite: "
CREATE TABLE IF NOT EXISTS origination_tags (
    tag TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL
);
",
        // The alliance-wide table, created by whichever verifier migrates first when it
        // does not exist yet; the lock serialises verifiers of different schemas (their
        // migration locks differ). When it exists (e.g. created once by the alliance's
        // database owner, who grants each lender's role USAGE and SELECT, INSERT only: SPEC
        // §6.10) no DDL runs, so a lender's role needs no CREATE right on the database.
        postgres: "
SELECT pg_advisory_xact_lock(hashtext('zkcredit-originations'));
DO $$
BEGIN
    IF to_regclass('zkcredit_originations.origination_tags') IS NULL THEN
        CREATE SCHEMA IF NOT EXISTS zkcredit_originations;
        CREATE TABLE zkcredit_originations.origination_tags (
            tag TEXT PRIMARY KEY,
            epoch BIGINT NOT NULL
        );
    END IF;
END
$$;
",
    },
];

/// The PostgreSQL schema of the alliance's origination tags, shared by every lender's
/// verifier on one database (spec §6.10; module docs).
pub const ORIGINATION_PG_SCHEMA: &str = "zkcredit_originations";

/// The PostgreSQL schema a verifier uses unless told otherwise (`--database-schema`):
/// replicas of one verifier share it; another verifier on the same database needs its own.
pub const DEFAULT_PG_SCHEMA: &str = "zkcredit_verifier";

/// A proof request as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRow {
    /// 32 bytes, hex.
    pub nonce: String,
    /// The context the proof binds (decimal).
    pub context: String,
    /// The policy (JSON).
    pub policy_json: String,
    /// Its hash (decimal).
    pub policy_hash: String,
    /// The nullifier scope (decimal).
    pub scope: String,
    /// Unix seconds.
    pub expiry: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// The product.
    pub product: String,
    /// The scope period.
    pub period: i64,
}

/// Where the verifier keeps its state.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum VerifierDb {
    /// The embedded file of one process.
    Sqlite(Store),
    /// A database shared by replicas.
    Postgres(PgStore),
}

impl VerifierDb {
    /// Opens (creating, migrating) the SQLite store at `path`.
    pub fn open_sqlite(path: &std::path::Path) -> Result<Self, ApiError> {
        let store = Store::open_migrated(path, MIGRATIONS)?;
        store.with_sync(|conn| {
            // Stores created before `product`/`period` existed gain the columns.
            for col in [
                "product TEXT NOT NULL DEFAULT ''",
                "period INTEGER NOT NULL DEFAULT 0",
            ] {
                let _ = conn.execute(&format!("ALTER TABLE requests ADD COLUMN {col}"), []);
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

    /// PostgreSQL only: the verifier id every replica shares, kept in the database. The
    /// first replica stores `seed` (an existing verifier's id, so wallets keep their pin)
    /// or a random one; a `seed` that differs from the stored id is refused.
    pub async fn shared_verifier_id(
        &self,
        seed: Option<[u8; 32]>,
    ) -> Result<Option<[u8; 32]>, ApiError> {
        use rand::RngCore;
        let Self::Postgres(p) = self else {
            return Ok(None);
        };
        let candidate = seed.unwrap_or_else(|| {
            let mut b = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut b);
            b
        });
        let (v, created): (String, bool) = bounded(async {
            let c = p.client().await?;
            let created = c
                .execute(
                    "INSERT INTO verifier_meta (k, v) VALUES ('verifier_id', $1) ON CONFLICT (k) DO NOTHING",
                    &[&hex::encode(candidate)],
                )
                .await
                .map_err(pg)?;
            let v = c
                .query_one("SELECT v FROM verifier_meta WHERE k = 'verifier_id'", &[])
                .await
                .map_err(pg)?
                .try_get(0)
                .map_err(pg)?;
            Ok((v, created == 1))
        })
        .await?;
        if created {
            // A mistyped --database-schema makes a new verifier: say so loudly.
            tracing::warn!(schema = %p.schema(), verifier_id = %v, "a NEW verifier id was created in this database schema: wallets pin it anew; if this replica should join an existing fleet, check --database-schema");
        }
        let id: [u8; 32] = hex::decode(&v)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ApiError::internal("the verifier id in the database is malformed"))?;
        if let Some(s) = seed {
            if s != id {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "the database holds verifier id {v}, the data directory {}: one verifier, one id",
                        hex::encode(s)
                    ),
                ));
            }
        }
        Ok(Some(id))
    }

    /// How many nullifiers are recorded (all scopes).
    pub async fn nullifier_count(&self) -> Result<u64, ApiError> {
        const Q: &str = "SELECT COUNT(*) FROM nullifiers";
        match self {
            Self::Sqlite(s) => s
                .with(|c| c.query_row(Q, [], |r| r.get::<_, i64>(0)).map_err(db))
                .await
                .map(|n| n as u64),
            Self::Postgres(p) => {
                bounded(async move {
                    let c = p.client().await?;
                    let n: i64 = c
                        .query_one(Q, &[])
                        .await
                        .map_err(pg)?
                        .try_get(0)
                        .map_err(pg)?;
                    Ok(n as u64)
                })
                .await
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

    /// The request whose context is `ctx`: `(nonce, policy_hash, scope, expiry)`.
    pub async fn request_by_context(
        &self,
        ctx: String,
    ) -> Result<Option<(String, String, String, i64)>, ApiError> {
        const Q: &str = "SELECT nonce, policy_hash, scope, expiry FROM requests WHERE context = $1";
        match self {
            Self::Sqlite(s) => {
                s.with(move |conn| {
                    conn.query_row(&Q.replace('$', "?"), [ctx], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .optional()
                    .map_err(db)
                })
                .await
            }
            Self::Postgres(p) => {
                bounded(async move {
                    let c = p.client().await?;
                    let st = c.prepare_cached(Q).await.map_err(pg)?;
                    let row = c.query_opt(&st, &[&ctx]).await.map_err(pg)?;
                    row.map(|r| {
                        Ok((
                            r.try_get(0).map_err(pg)?,
                            r.try_get(1).map_err(pg)?,
                            r.try_get(2).map_err(pg)?,
                            r.try_get(3).map_err(pg)?,
                        ))
                    })
                    .transpose()
                })
                .await
            }
        }
    }

    /// The request `nonce`.
    pub async fn request_by_nonce(&self, nonce: String) -> Result<Option<RequestRow>, ApiError> {
        const Q: &str = "SELECT nonce, context, policy_json, policy_hash, scope, expiry, created_at, product, period FROM requests WHERE nonce = $1";
        match self {
            Self::Sqlite(s) => {
                s.with(move |conn| {
                    conn.query_row(&Q.replace('$', "?"), [nonce], |r| {
                        Ok(RequestRow {
                            nonce: r.get(0)?,
                            context: r.get(1)?,
                            policy_json: r.get(2)?,
                            policy_hash: r.get(3)?,
                            scope: r.get(4)?,
                            expiry: r.get(5)?,
                            created_at: r.get(6)?,
                            product: r.get(7)?,
                            period: r.get(8)?,
                        })
                    })
                    .optional()
                    .map_err(db)
                })
                .await
            }
            Self::Postgres(p) => {
                bounded(async move {
                    let c = p.client().await?;
                    let row = c.query_opt(Q, &[&nonce]).await.map_err(pg)?;
                    row.map(|r| {
                        Ok(RequestRow {
                            nonce: r.try_get(0).map_err(pg)?,
                            context: r.try_get(1).map_err(pg)?,
                            policy_json: r.try_get(2).map_err(pg)?,
                            policy_hash: r.try_get(3).map_err(pg)?,
                            scope: r.try_get(4).map_err(pg)?,
                            expiry: r.try_get(5).map_err(pg)?,
                            created_at: r.try_get(6).map_err(pg)?,
                            product: r.try_get(7).map_err(pg)?,
                            period: r.try_get(8).map_err(pg)?,
                        })
                    })
                    .transpose()
                })
                .await
            }
        }
    }

    /// Deletes the requests that expired before `before`; how many.
    pub async fn prune(&self, before: i64) -> Result<usize, ApiError> {
        const Q: &str = "DELETE FROM requests WHERE expiry < $1";
        match self {
            Self::Sqlite(s) => {
                s.with(move |conn| conn.execute(&Q.replace('$', "?"), [before]).map_err(db))
                    .await
            }
            Self::Postgres(p) => {
                bounded(async move {
                    let c = p.client().await?;
                    Ok(c.execute(Q, &[&before]).await.map_err(pg)? as usize)
                })
                .await
            }
        }
    }

    /// Stores `r` after pruning the requests expired before `prune_before`, unless `cap`
    /// requests are open at `now` (`store_full`). On PostgreSQL the count and the insert
    /// are serialised across replicas by an advisory lock, so the cap holds fleet-wide.
    pub async fn insert_request(
        &self,
        r: RequestRow,
        now: i64,
        prune_before: i64,
        cap: u64,
    ) -> Result<(), ApiError> {
        const PRUNE: &str = "DELETE FROM requests WHERE expiry < $1";
        const OPEN: &str = "SELECT COUNT(*) FROM requests WHERE used_at IS NULL AND expiry >= $1";
        const INSERT: &str = "INSERT INTO requests (nonce, context, policy_json, policy_hash, scope, expiry, created_at, product, period) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        let full = move || {
            ApiError::new(
                ErrorCode::StoreFull,
                format!("{cap} requests are open; retry when some are answered or expired"),
            )
        };
        match self {
            Self::Sqlite(s) => {
                s.with(move |conn| {
                    let tx = conn.transaction().map_err(db)?;
                    tx.execute(&PRUNE.replace('$', "?"), [prune_before])
                        .map_err(db)?;
                    let open: i64 = tx
                        .query_row(&OPEN.replace('$', "?"), [now], |r| r.get(0))
                        .map_err(db)?;
                    if open as u64 >= cap {
                        return Err(full());
                    }
                    tx.execute(
                        &INSERT.replace('$', "?"),
                        rusqlite::params![
                            r.nonce,
                            r.context,
                            r.policy_json,
                            r.policy_hash,
                            r.scope,
                            r.expiry,
                            r.created_at,
                            r.product,
                            r.period
                        ],
                    )
                    .map_err(db)?;
                    tx.commit().map_err(db)
                })
                .await
            }
            Self::Postgres(p) => {
                bounded(async move {
                    let mut c = p.client().await?;
                    let tx = crate::store::write_tx(&mut c).await?;
                    tx.execute(
                        "SELECT pg_advisory_xact_lock(hashtext($1))",
                        &[&format!("zkcredit-requests:{}", p.schema())],
                    )
                    .await
                    .map_err(pg)?;
                    tx.execute(PRUNE, &[&prune_before]).await.map_err(pg)?;
                    let open: i64 = tx
                        .query_one(OPEN, &[&now])
                        .await
                        .map_err(pg)?
                        .try_get(0)
                        .map_err(pg)?;
                    if open as u64 >= cap {
                        return Err(full());
                    }
                    tx.execute(
                        INSERT,
                        &[
                            &r.nonce,
                            &r.context,
                            &r.policy_json,
                            &r.policy_hash,
                            &r.scope,
                            &r.expiry,
                            &r.created_at,
                            &r.product,
                            &r.period,
                        ],
                    )
                    .await
                    .map_err(pg)?;
                    tx.commit().await.map_err(pg)
                })
                .await
            }
        }
    }
}
