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
//!   pool drops broken connections and opens new ones when the server is back.

use super::{check_sequence, too_new, Migration};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;
use tokio_postgres::NoTls;
use zkcredit_api::{ApiError, ErrorCode};

/// Connections a replica keeps open at most.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// How long connecting, or waiting for a free pooled connection, may take before the
/// request is answered `database_unavailable`.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

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

/// A schema name is a plain lower-case SQL identifier (it is spliced into DDL).
fn check_schema_name(s: &str) -> Result<(), ApiError> {
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
        cfg.connect_timeout(POOL_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .options(format!("-c search_path={schema}"))
            .application_name("zkcredit");
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

    /// A pooled connection; `database_unavailable` when none can be had in time.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, ApiError> {
        self.pool.get().await.map_err(|e| {
            tracing::warn!(error = %e, "database unavailable");
            ApiError::of(ErrorCode::DatabaseUnavailable)
        })
    }

    /// `SELECT 1` through the pool: readiness.
    pub async fn ping(&self) -> Result<(), ApiError> {
        let c = self.client().await?;
        c.simple_query("SELECT 1").await.map_err(pg)?;
        Ok(())
    }

    async fn migrate(&self, migrations: &[Migration]) -> Result<(), ApiError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let schema = &self.schema;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&format!("zkcredit-migrate:{schema}")],
        )
        .await
        .map_err(pg)?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
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

/// Maps a PostgreSQL error: a lost or refusing server (connection closed, I/O, SQLSTATE
/// classes 08 connection exception, 53 insufficient resources, 57P operator intervention,
/// and the retryable 40001 / 40P01) is `503 database_unavailable`; anything else a 500.
pub fn pg(e: tokio_postgres::Error) -> ApiError {
    if is_unavailable(&e) {
        tracing::warn!(error = %e, "database unavailable");
        ApiError::of(ErrorCode::DatabaseUnavailable)
    } else {
        ApiError::internal(e)
    }
}

fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let c = code.code();
        return c.starts_with("08")
            || c.starts_with("53")
            || c.starts_with("57P")
            || c == "40001"
            || c == "40P01";
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
