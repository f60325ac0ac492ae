//! The shared backend: a PostgreSQL database several replicas of a service use at once,
//! through `tokio-postgres` and a `deadpool-postgres` pool.
//!
//! - Each service keeps its tables in its own PostgreSQL schema (`--database-schema`), so a
//!   whole alliance can share one database; the pool's connections have `search_path` set
//!   to it.
//! - Migrations run at start in one transaction under a transaction-level advisory lock
//!   keyed by the schema, so replicas starting together apply each version exactly once;
//!   applied versions are rows of `schema_migrations`.
//! - Correctness across replicas rests on the database's own guarantees (unique
//!   constraints, row locks), never on process-local state.
//! - A lost database is `503 database_unavailable` ([`pg`]), never a 500 or a decision: the
//!   pool drops broken connections and opens new ones when the server is back. Nothing waits
//!   forever on a silent one: every operation is bounded ([`bounded`], [`QUERY_TIMEOUT`]),
//!   the server cuts statements, lock waits and idle transactions after bounded times, and
//!   TCP keepalives and a user timeout detect a vanished peer.

use super::{check_sequence, too_new, Migration};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::NoTls;
use zkcredit_api::{ApiError, ErrorCode};

/// Connections a replica keeps open at most.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// How long connecting may take before the request is answered `database_unavailable`, or
/// waiting for a free pooled connection before it is answered `overloaded`.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);
/// The most one store operation (all its statements) may take before it is answered
/// `database_unavailable`; the server's own statement, lock and idle-transaction timeouts
/// are set just under and above it.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Server-side settings of every connection (after `search_path`).
const SESSION_SETTINGS: &str =
    "-c statement_timeout=9000 -c lock_timeout=9000 -c idle_in_transaction_session_timeout=30000";

/// A PostgreSQL connection pool bound to one service's schema.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    schema: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

/// A schema name is a plain lower-case SQL identifier (it is spliced into DDL, always
/// double-quoted, so reserved words are fine too).
pub fn check_schema_name(s: &str) -> Result<(), ApiError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("--database-schema {s:?}: use 1..=63 characters of a-z, 0-9 and _, not starting with a digit or pg_"),
        ))
    }
}

impl PgStore {
    /// Connects to `url`, creates `schema` when missing and applies the `migrations` it
    /// has not seen. Fails (`database_unavailable`) when the server cannot be reached.
    pub async fn connect(
        url: &str,
        schema: &str,
        pool_size: usize,
        migrations: &[Migration],
    ) -> Result<Self, ApiError> {
        check_schema_name(schema)?;
        check_sequence(migrations)?;
        let mut cfg: tokio_postgres::Config = url.parse().map_err(|e| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("--database-url: not a PostgreSQL URL: {e}"),
            )
        })?;
        // Options the URL carries (e.g. `options=-c%20work_mem%3D8MB`) are kept; ours follow.
        let options = format!(
            "{} -c search_path=\"{schema}\" {SESSION_SETTINGS}",
            cfg.get_options().unwrap_or("")
        );
        cfg.connect_timeout(POOL_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3)
            .tcp_user_timeout(QUERY_TIMEOUT)
            .options(options.trim());
        if cfg.get_application_name().is_none() {
            cfg.application_name("zkcredit");
        }
        let mgr = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(ApiError::internal)?;
        let store = Self {
            pool,
            schema: schema.to_string(),
        };
        store.migrate(migrations).await?;
        Ok(store)
    }

    /// The schema the service's tables live in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// A pooled connection: `overloaded` when every pooled connection stays busy,
    /// `database_unavailable` when no new one can be opened.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, ApiError> {
        use deadpool_postgres::{PoolError, TimeoutType};
        self.pool.get().await.map_err(|e| match e {
            PoolError::Timeout(TimeoutType::Wait) => {
                tracing::warn!("every pooled database connection is busy");
                ApiError::of(ErrorCode::Overloaded)
            }
            PoolError::Timeout(_) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::of(ErrorCode::DatabaseUnavailable)
            }
            PoolError::Backend(e) => pg(e),
            other => ApiError::internal(other),
        })
    }

    /// `SELECT 1` through the pool: readiness.
    pub async fn ping(&self) -> Result<(), ApiError> {
        bounded(async {
            let c = self.client().await?;
            c.simple_query("SELECT 1").await.map_err(pg)?;
            Ok(())
        })
        .await
    }

    async fn migrate(&self, migrations: &[Migration]) -> Result<(), ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let schema = &self.schema;
        // Migrations may be long; the lock wait stays bounded.
        tx.batch_execute("SET LOCAL statement_timeout = 0")
            .await
            .map_err(pg)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&format!("zkcredit-migrate:{schema}")],
        )
        .await
        .map_err(pg)?;
        // A role granted only a pre-created schema may lack CREATE on the database: create
        // the schema only when it is missing.
        let exists = tx
            .query_opt("SELECT 1 FROM pg_namespace WHERE nspname = $1", &[schema])
            .await
            .map_err(pg)?
            .is_some();
        if !exists {
            tx.batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
                .await
                .map_err(pg)?;
            tracing::info!(schema = %schema, "postgres schema created");
        }
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS \"{schema}\".schema_migrations (
                 version INTEGER PRIMARY KEY,
                 name TEXT NOT NULL,
                 applied_at BIGINT NOT NULL
             );"
        ))
        .await
        .map_err(pg)?;
        let at: i32 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(pg)?
            .get(0);
        // The versions applied must be this service's: two services given one schema would
        // otherwise skip each other's migrations.
        for row in tx
            .query(
                "SELECT version, name FROM schema_migrations ORDER BY version",
                &[],
            )
            .await
            .map_err(pg)?
        {
            let (v, name): (i32, String) =
                (row.try_get(0).map_err(pg)?, row.try_get(1).map_err(pg)?);
            let Some(i) = usize::try_from(v).ok().and_then(|v| v.checked_sub(1)) else {
                continue;
            };
            // A version past ours is a newer binary's (refused below), not another service's.
            let ours = migrations.get(i);
            if ours.is_some_and(|m| m.name != name) {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!("--database-schema {schema:?} holds another service's tables (its migration {v} is {name:?}): give each service its own schema"),
                ));
            }
        }
        if at as usize > migrations.len() {
            return Err(too_new(at.into(), migrations.len()));
        }
        for m in &migrations[at as usize..] {
            tx.batch_execute(m.postgres).await.map_err(pg)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[
                    &(m.version as i32),
                    &m.name,
                    &(zkcredit_api::unix_now() as i64),
                ],
            )
            .await
            .map_err(pg)?;
            tracing::info!(schema = %schema, version = m.version, name = m.name, "postgres migration applied");
        }
        tx.commit().await.map_err(pg)
    }
}

/// A write transaction: READ COMMITTED whatever the server's or role's default, so the
/// statements after a lock wait see what the previous lock holder committed, and unique
/// constraints and row locks decide between concurrent writers.
pub async fn write_tx(
    c: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>, ApiError> {
    c.build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(pg)
}

/// The service's ed25519 signing key, kept as `signing_key` in the `(k, v)` table
/// `meta_table` of `store`'s schema; the first replica to start creates it from OS
/// randomness (`INSERT … ON CONFLICT DO NOTHING`), every later one reads the same key.
pub async fn pg_load_or_create_signing_key(
    store: &PgStore,
    meta_table: &'static str,
) -> Result<ed25519_dalek::SigningKey, ApiError> {
    use rand::RngCore;
    let mut fresh = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut fresh);
    let candidate = hex::encode(fresh);
    let stored: String = bounded(async {
        let c = store.client().await?;
        c.execute(
            &format!("INSERT INTO {meta_table} (k, v) VALUES ('signing_key', $1) ON CONFLICT (k) DO NOTHING"),
            &[&candidate],
        )
        .await
        .map_err(pg)?;
        Ok(c.query_one(&format!("SELECT v FROM {meta_table} WHERE k = 'signing_key'"), &[])
            .await
            .map_err(pg)?
            .get(0))
    })
    .await?;
    let seed: [u8; 32] = hex::decode(stored)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| ApiError::internal("the signing key in the database is malformed"))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// Runs one store operation within [`QUERY_TIMEOUT`]; past it, `database_unavailable` (the
/// operation is dropped: an open transaction is rolled back, never committed).
pub async fn bounded<T>(
    op: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(QUERY_TIMEOUT, op)
        .await
        .unwrap_or_else(|_| {
            tracing::warn!(timeout = ?QUERY_TIMEOUT, "database operation timed out");
            Err(ApiError::of(ErrorCode::DatabaseUnavailable))
        })
}

/// Maps a PostgreSQL error: a lost, refusing, overloaded or read-only (failed-over) server
/// is `503 database_unavailable` — the connection closed, I/O, and the SQLSTATEs of
/// [`is_transient`]; anything else (a bug, a constraint we did not expect) is a 500.
pub fn pg(e: tokio_postgres::Error) -> ApiError {
    if is_unavailable(&e) {
        tracing::warn!(error = %e, "database unavailable");
        ApiError::of(ErrorCode::DatabaseUnavailable)
    } else {
        ApiError::internal(e)
    }
}

/// The SQLSTATEs after which a retry may succeed: connection exceptions (08, except the
/// protocol violation 08P01, a bug), insufficient resources (53), operator intervention
/// (57P01–57P03) and a cancelled statement (57014: our statement timeout), serialization
/// failure and deadlock (40001, 40P01), lock timeout (55P03), a read-only transaction (25006:
/// a standby after a failover) and the idle-transaction timeout (25P03).
pub fn is_transient(sqlstate: &str) -> bool {
    (sqlstate.starts_with("08") && sqlstate != "08P01")
        || sqlstate.starts_with("53")
        || sqlstate.starts_with("57P")
        || matches!(
            sqlstate,
            "57014" | "40001" | "40P01" | "55P03" | "25006" | "25P03"
        )
}

fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        return is_transient(code.code());
    }
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        if s.is::<std::io::Error>() {
            return true;
        }
        src = s.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_sqlstates_are_unavailable() {
        for t in [
            "08006", "08001", "08007", "53300", "57P01", "57P03", "57014", "40001", "40P01",
            "55P03", "25006", "25P03",
        ] {
            assert!(is_transient(t), "{t}");
        }
        for bug in ["08P01", "23505", "42P01", "42601", "22P02", "42501"] {
            assert!(!is_transient(bug), "{bug}");
        }
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        for ok in ["verifier", "lender_a_verifier", "_x1"] {
            assert!(check_schema_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1x",
            "Verifier",
            "a-b",
            "x; DROP TABLE t",
            "pg_catalog",
            &"a".repeat(64),
        ] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }
}
