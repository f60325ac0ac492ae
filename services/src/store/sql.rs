//! One SQL surface over both backends, for services whose rules are a sequence of small
//! queries inside one transaction (the issuer): the rules are written once, as blocking
//! code against [`Sql`], and run on a SQLite connection or on a PostgreSQL transaction
//! driven from a blocking thread.
//!
//! Queries are written in PostgreSQL's spelling (`$1`, `$2`, …; SQLite reads them as
//! `?1`, `?2`, …) using only what both dialects share: `INSERT … ON CONFLICT … DO UPDATE`,
//! `LIMIT`, `COUNT(*)`. Values are text, 64-bit integers or bytes ([`P`], [`Cell`]);
//! integer columns are `INTEGER` on SQLite and `BIGINT` on PostgreSQL.

use super::{bounded, db, pg, write_tx, PgStore, Store, QUERY_TIMEOUT};
use zkcredit_api::{ApiError, ErrorCode};

/// A query parameter.
#[derive(Clone, Copy, Debug)]
pub enum P<'a> {
    /// Text.
    T(&'a str),
    /// A 64-bit integer.
    I(i64),
    /// Bytes (`BLOB` / `BYTEA`); `None` is NULL.
    B(Option<&'a [u8]>),
}

/// A value read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// NULL.
    Null,
    /// Text.
    T(String),
    /// A 64-bit integer.
    I(i64),
    /// Bytes (`BLOB` / `BYTEA`).
    B(Vec<u8>),
}

impl Cell {
    /// The bytes, or an internal error naming the column.
    pub fn bytes(self, what: &str) -> Result<Vec<u8>, ApiError> {
        match self {
            Cell::B(b) => Ok(b),
            other => Err(ApiError::internal(format!(
                "{what}: expected bytes, got {other:?}"
            ))),
        }
    }

    /// The bytes, `None` for NULL.
    pub fn opt_bytes(self, what: &str) -> Result<Option<Vec<u8>>, ApiError> {
        match self {
            Cell::Null => Ok(None),
            c => c.bytes(what).map(Some),
        }
    }

    /// The text, or an internal error naming the column.
    pub fn text(self, what: &str) -> Result<String, ApiError> {
        match self {
            Cell::T(s) => Ok(s),
            other => Err(ApiError::internal(format!(
                "{what}: expected text, got {other:?}"
            ))),
        }
    }

    /// The text, `None` for NULL.
    pub fn opt_text(self, what: &str) -> Result<Option<String>, ApiError> {
        match self {
            Cell::Null => Ok(None),
            c => c.text(what).map(Some),
        }
    }

    /// The integer, or an internal error naming the column.
    pub fn int(self, what: &str) -> Result<i64, ApiError> {
        match self {
            Cell::I(i) => Ok(i),
            other => Err(ApiError::internal(format!(
                "{what}: expected an integer, got {other:?}"
            ))),
        }
    }
}

/// A connection or transaction of either backend, driven from a blocking thread.
pub trait Sql {
    /// Runs a query and returns every row.
    fn rows(&mut self, sql: &str, params: &[P<'_>]) -> Result<Vec<Vec<Cell>>, ApiError>;
    /// Runs a statement and returns the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[P<'_>]) -> Result<u64, ApiError>;
    /// Whether this is PostgreSQL, for what differs between the backends (a schema-qualified
    /// table of another service in the same database; a provider tree's publication).
    fn is_postgres(&self) -> bool;

    /// Commits the work so far and goes on in a new write transaction, where the caller's
    /// transaction is a [`PartedTx`] (a SQLite publication: its rebuild and its clean-up
    /// commit in parts, spec §4.4); elsewhere nothing is committed and `false` is answered.
    fn commit_part(&mut self) -> Result<bool, ApiError> {
        Ok(false)
    }

    /// The first row, if any.
    fn row(&mut self, sql: &str, params: &[P<'_>]) -> Result<Option<Vec<Cell>>, ApiError> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }

    /// Inserts `params.len() / width` rows with `head` (`INSERT INTO t (a, b, …)`), followed
    /// by `tail` (an `ON CONFLICT` clause or nothing), several rows per statement.
    fn insert_many(
        &mut self,
        head: &str,
        tail: &str,
        width: usize,
        params: &[P<'_>],
    ) -> Result<u64, ApiError> {
        const ROWS: usize = 500;
        let mut n = 0;
        for chunk in params.chunks(width * ROWS) {
            let rows = chunk.len() / width;
            let mut q = String::with_capacity(head.len() + tail.len() + rows * width * 6);
            q.push_str(head);
            q.push_str(" VALUES ");
            for r in 0..rows {
                q.push_str(if r == 0 { "(" } else { ",(" });
                for c in 0..width {
                    if c > 0 {
                        q.push(',');
                    }
                    q.push_str(&format!("${}", r * width + c + 1));
                }
                q.push(')');
            }
            q.push(' ');
            q.push_str(tail);
            n += self.exec(&q, chunk)?;
        }
        Ok(n)
    }

    /// The single integer a `COUNT(*)` answers.
    fn count(&mut self, sql: &str, params: &[P<'_>]) -> Result<u64, ApiError> {
        let n = self
            .row(sql, params)?
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| ApiError::internal("COUNT(*) answered no row"))?
            .int("count")?;
        Ok(n.max(0) as u64)
    }
}

fn lite(q: &str) -> String {
    q.replace('$', "?")
}

fn lite_param(p: &P<'_>) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match *p {
        P::T(s) => Value::Text(s.to_string()),
        P::I(i) => Value::Integer(i),
        P::B(Some(b)) => Value::Blob(b.to_vec()),
        P::B(None) => Value::Null,
    }
}

/// Runs `f` on a blocking thread inside one SQLite transaction: `BEGIN IMMEDIATE` (the
/// file's write lock) when `write`, committed when `f` succeeds.
pub async fn sqlite_tx<T: Send + 'static>(
    store: &Store,
    write: bool,
    f: impl FnOnce(&mut dyn Sql) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    store
        .with(move |conn| {
            let behavior = if write {
                rusqlite::TransactionBehavior::Immediate
            } else {
                rusqlite::TransactionBehavior::Deferred
            };
            let mut tx = conn.transaction_with_behavior(behavior).map_err(db)?;
            let out = f(&mut tx)?;
            tx.commit().map_err(db)?;
            Ok(out)
        })
        .await
}

impl Sql for rusqlite::Transaction<'_> {
    fn rows(&mut self, sql: &str, params: &[P<'_>]) -> Result<Vec<Vec<Cell>>, ApiError> {
        rows_on(self, sql, params)
    }

    fn exec(&mut self, sql: &str, params: &[P<'_>]) -> Result<u64, ApiError> {
        exec_on(self, sql, params)
    }

    fn is_postgres(&self) -> bool {
        false
    }
}

/// A SQLite write transaction that commits in parts ([`Sql::commit_part`]): `BEGIN
/// IMMEDIATE` at the start and again after each part, rolled back if dropped with a part
/// open (an error, or a failed `COMMIT` that SQLite left open). The connection stays
/// locked by its owner throughout, so no other write of this process runs between two
/// parts; the file must have no writer in another process (one process serves a tree).
pub struct PartedTx<'c> {
    conn: &'c mut rusqlite::Connection,
}

impl<'c> PartedTx<'c> {
    /// Begins the first part.
    pub fn begin(conn: &'c mut rusqlite::Connection) -> Result<Self, ApiError> {
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        Ok(Self { conn })
    }

    /// Commits the last part.
    pub fn commit(self) -> Result<(), ApiError> {
        self.conn.execute_batch("COMMIT").map_err(db)
    }
}

impl Drop for PartedTx<'_> {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            // The part in progress is abandoned. Were the rollback to fail, the connection
            // would still be in it: later writes fail with an error rather than commit it.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl Sql for PartedTx<'_> {
    fn rows(&mut self, sql: &str, params: &[P<'_>]) -> Result<Vec<Vec<Cell>>, ApiError> {
        rows_on(self.conn, sql, params)
    }

    fn exec(&mut self, sql: &str, params: &[P<'_>]) -> Result<u64, ApiError> {
        exec_on(self.conn, sql, params)
    }

    fn is_postgres(&self) -> bool {
        false
    }

    fn commit_part(&mut self) -> Result<bool, ApiError> {
        self.conn.execute_batch("COMMIT").map_err(db)?;
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(db)?;
        Ok(true)
    }
}

fn exec_on(conn: &rusqlite::Connection, sql: &str, params: &[P<'_>]) -> Result<u64, ApiError> {
    conn.prepare_cached(&lite(sql))
        .and_then(|mut st| st.execute(rusqlite::params_from_iter(params.iter().map(lite_param))))
        .map(|n| n as u64)
        .map_err(db)
}

fn rows_on(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[P<'_>],
) -> Result<Vec<Vec<Cell>>, ApiError> {
    let mut st = conn.prepare_cached(&lite(sql)).map_err(db)?;
    let n = st.column_count();
    let mut rows = st
        .query(rusqlite::params_from_iter(params.iter().map(lite_param)))
        .map_err(db)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let mut row = Vec::with_capacity(n);
        for i in 0..n {
            use rusqlite::types::ValueRef;
            row.push(match r.get_ref(i).map_err(db)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::I(v),
                ValueRef::Text(t) => Cell::T(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Cell::B(b.to_vec()),
                other => {
                    return Err(ApiError::internal(format!(
                        "unexpected column type {:?}",
                        other.data_type()
                    )))
                }
            });
        }
        out.push(row);
    }
    Ok(out)
}

/// A PostgreSQL transaction driven from a blocking thread; every statement is bounded by
/// `timeout` ([`QUERY_TIMEOUT`] unless the transaction raised it).
struct PgSql<'a> {
    rt: tokio::runtime::Handle,
    tx: deadpool_postgres::Transaction<'a>,
    timeout: std::time::Duration,
}

fn pg_params<'a>(params: &'a [P<'a>]) -> Vec<Box<dyn tokio_postgres::types::ToSql + Sync + 'a>> {
    params
        .iter()
        .map(|p| -> Box<dyn tokio_postgres::types::ToSql + Sync + 'a> {
            match *p {
                P::T(s) => Box::new(s),
                P::I(i) => Box::new(i),
                P::B(b) => Box::new(b),
            }
        })
        .collect()
}

impl PgSql<'_> {
    fn block<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, ApiError> {
        self.rt.block_on(async {
            match tokio::time::timeout(self.timeout, op).await {
                Ok(r) => r.map_err(pg),
                Err(_) => Err(ApiError::of(ErrorCode::DatabaseUnavailable)),
            }
        })
    }
}

impl Sql for PgSql<'_> {
    fn rows(&mut self, sql: &str, params: &[P<'_>]) -> Result<Vec<Vec<Cell>>, ApiError> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.block(self.tx.query(sql, &refs))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, col) in r.columns().iter().enumerate() {
                use tokio_postgres::types::Type;
                let t = col.type_();
                row.push(if *t == Type::INT8 || *t == Type::INT4 {
                    let v: Option<i64> = if *t == Type::INT8 {
                        r.try_get(i).map_err(pg)?
                    } else {
                        r.try_get::<_, Option<i32>>(i).map_err(pg)?.map(i64::from)
                    };
                    v.map_or(Cell::Null, Cell::I)
                } else if *t == Type::TEXT || *t == Type::VARCHAR {
                    let v: Option<String> = r.try_get(i).map_err(pg)?;
                    v.map_or(Cell::Null, Cell::T)
                } else if *t == Type::BYTEA {
                    let v: Option<Vec<u8>> = r.try_get(i).map_err(pg)?;
                    v.map_or(Cell::Null, Cell::B)
                } else {
                    return Err(ApiError::internal(format!("unexpected column type {t}")));
                });
            }
            out.push(row);
        }
        Ok(out)
    }

    fn exec(&mut self, sql: &str, params: &[P<'_>]) -> Result<u64, ApiError> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            boxed.iter().map(|b| b.as_ref()).collect();
        self.block(self.tx.execute(sql, &refs))
    }

    fn is_postgres(&self) -> bool {
        true
    }
}

/// Runs `f` on a blocking thread inside one PostgreSQL transaction (READ COMMITTED),
/// committed when `f` succeeds. With `lock`, the transaction first takes the
/// transaction-level advisory lock keyed by `lock` (the writers of one service then run
/// one at a time, as under SQLite's write lock).
pub async fn pg_tx<T: Send + 'static>(
    store: &PgStore,
    lock: Option<String>,
    f: impl FnOnce(&mut dyn Sql) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let mut client = store.client().await?;
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let tx = rt.block_on(bounded(write_tx(&mut client)))?;
        let mut s = PgSql {
            rt: rt.clone(),
            tx,
            timeout: QUERY_TIMEOUT,
        };
        if let Some(key) = lock {
            s.exec("SELECT pg_advisory_xact_lock(hashtext($1))", &[P::T(&key)])?;
        }
        let out = f(&mut s)?;
        let PgSql { rt, tx, .. } = s;
        rt.block_on(bounded(async { tx.commit().await.map_err(pg) }))?;
        Ok(out)
    })
    .await
    .map_err(ApiError::internal)?
}

/// How a blocking PostgreSQL transaction ([`pg_blocking_tx`]) runs.
#[derive(Clone, Copy, Debug)]
pub struct PgTx<'a> {
    /// A snapshot for reading (`REPEATABLE READ, READ ONLY`): every query of the
    /// transaction sees one committed state. Otherwise `READ COMMITTED` read-write.
    pub snapshot: bool,
    /// Run first (`SET LOCAL …`), or empty.
    pub setup: &'a str,
    /// The client-side bound on each statement (and on the commit).
    pub timeout: std::time::Duration,
}

/// Runs `f` inside one PostgreSQL transaction **on the calling (blocking) thread**, its I/O
/// driven by the runtime `rt` (a runtime other than the caller's own workers'), committed
/// when `f` succeeds.
pub fn pg_blocking_tx<T>(
    rt: &tokio::runtime::Handle,
    store: &PgStore,
    how: PgTx<'_>,
    f: impl FnOnce(&mut dyn Sql) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut client = rt.block_on(bounded(store.client()))?;
    let tx = rt.block_on(bounded(async {
        let b = client.build_transaction();
        let b = if how.snapshot {
            b.isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
        } else {
            b.isolation_level(tokio_postgres::IsolationLevel::ReadCommitted)
        };
        b.start().await.map_err(pg)
    }))?;
    let mut s = PgSql {
        rt: rt.clone(),
        tx,
        timeout: how.timeout,
    };
    if !how.setup.is_empty() {
        let setup = how.setup;
        s.block(s.tx.batch_execute(setup))?;
    }
    let out = f(&mut s)?;
    let PgSql { rt, tx, timeout } = s;
    rt.block_on(async {
        match tokio::time::timeout(timeout, tx.commit()).await {
            Ok(r) => r.map_err(pg),
            Err(_) => Err(ApiError::of(ErrorCode::DatabaseUnavailable)),
        }
    })?;
    Ok(out)
}

/// The `N` cells of a row, or an internal error when the query answered another width.
pub fn cells<const N: usize>(row: Vec<Cell>) -> Result<[Cell; N], ApiError> {
    let n = row.len();
    row.try_into()
        .map_err(|_| ApiError::internal(format!("expected {N} columns, got {n}")))
}
