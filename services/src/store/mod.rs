//! Where a service keeps its state (spec §4.4): the embedded SQLite store ([`Store`], the
//! default: one file per service under `--data-dir`) or a PostgreSQL database shared by
//! several replicas ([`PgStore`]), chosen by `--database-url` ([`DatabaseUrl`]). Each
//! backend applies a service's versioned migrations ([`Migration`]) when it opens.

mod postgres;
mod sql;
mod sqlite;

pub use postgres::{
    bounded, check_schema_name, is_transient, pg, pg_load_or_create_signing_key, write_tx, PgStore,
    DEFAULT_POOL_SIZE, QUERY_TIMEOUT,
};
pub use sql::{cells, pg_blocking_tx, pg_tx, sqlite_tx, Cell, PartedTx, PgTx, Sql, P};
#[cfg(test)]
pub(crate) use sqlite::HeldBusy;
pub use sqlite::{checkpoint_truncate, db, load_or_create_signing_key, Held, Store};

use zkcredit_api::{ApiError, ErrorCode};

/// Where a service's state lives, as `--database-url` names it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatabaseUrl {
    /// `sqlite://PATH`: an embedded SQLite file (created when missing).
    Sqlite(std::path::PathBuf),
    /// `postgres://…` or `postgresql://…`: a PostgreSQL database (libpq URL syntax).
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(p) => write!(f, "sqlite://{}", p.display()),
            // The URL may carry a password.
            Self::Postgres(_) => f.write_str("postgres://<redacted>"),
        }
    }
}

impl DatabaseUrl {
    /// Parses `sqlite://PATH` or `postgres://…` / `postgresql://…`; anything else is a
    /// `bad_request` naming the accepted forms.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        if let Some(path) = s.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(bad_url(
                    "sqlite:// needs a file path, e.g. sqlite:///var/lib/zkcredit/verifier.sqlite",
                ));
            }
            return Ok(Self::Sqlite(path.into()));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            s.parse::<tokio_postgres::Config>()
                .map_err(|e| bad_url(&format!("not a PostgreSQL URL: {e}")))?;
            return Ok(Self::Postgres(s.to_string()));
        }
        Err(bad_url(
            "the database URL must start with sqlite:// or postgres:// (postgresql://)",
        ))
    }

    /// Whether several processes may share it (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

fn bad_url(msg: &str) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, format!("--database-url: {msg}"))
}

/// One versioned schema change of a service, in both dialects. Versions start at 1 and
/// are consecutive; a released migration is never edited, a change is a new version.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Its version.
    pub version: u32,
    /// What it does, in a few words (recorded with it).
    pub name: &'static str,
    /// The SQL for SQLite (one batch).
    pub sqlite: &'static str,
    /// The SQL for PostgreSQL (one batch, run inside the migration transaction).
    pub postgres: &'static str,
}

/// Checks that `migrations` are numbered 1, 2, 3, … (a programming error otherwise).
fn check_sequence(migrations: &[Migration]) -> Result<(), ApiError> {
    for (i, m) in migrations.iter().enumerate() {
        if m.version as usize != i + 1 {
            return Err(ApiError::internal(format!(
                "migration {} is numbered {}",
                i + 1,
                m.version
            )));
        }
    }
    Ok(())
}

/// The error when a database was migrated by a newer binary.
fn too_new(found: i64, known: usize) -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        format!("the database schema is at version {found}, this binary knows versions up to {known}: run the newer binary (or restore a backup)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_sqlite_or_postgres_and_the_password_is_not_printed() {
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.sqlite").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.sqlite".into())
        );
        let pg = DatabaseUrl::parse("postgres://app:s3cret@127.0.0.1:5432/zk").unwrap();
        assert!(pg.is_shared());
        assert!(!format!("{pg:?}").contains("s3cret"));
        assert!(DatabaseUrl::parse("postgresql://h/db").is_ok());
        for bad in [
            "",
            "sqlite://",
            "mysql://h/db",
            "/tmp/x.sqlite",
            "postgres://h:notaport/db",
        ] {
            let e = DatabaseUrl::parse(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::BadRequest, "{bad}");
            assert!(e.message.contains("--database-url"), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn migrations_must_be_numbered_from_one() {
        let m = |version| Migration {
            version,
            name: "x",
            sqlite: "",
            postgres: "",
        };
        assert!(check_sequence(&[m(1), m(2)]).is_ok());
        assert!(check_sequence(&[m(2)]).is_err());
        assert!(check_sequence(&[m(1), m(3)]).is_err());
    }
}
