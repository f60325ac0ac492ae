//! The tree's queries on PostgreSQL.

use super::*;

/// Leaves written per statement on PostgreSQL.
pub(super) const PG_CHUNK: usize = 10_000;
/// The bound on one statement and one lock wait of a publication, a bulk stage, a takeover
/// or a start-up load on PostgreSQL (a rebuild of millions of leaves, or waiting for one
/// to commit, takes longer than the request-sized defaults).
pub(super) const PG_BULK_TIMEOUT: &str =
    "SET LOCAL statement_timeout = '300s'; SET LOCAL lock_timeout = '300s'";
/// The client-side bound on the same operations.
pub(super) const BULK: std::time::Duration = std::time::Duration::from_secs(310);

/// The writer-token row, share-locked by every write transaction on PostgreSQL: writers do
/// not exclude each other (a publication removes exactly the journal entries it read), but a
/// takeover's update of the row waits for all of them and every later one sees it.
pub(super) const WRITER_LOCK_SHARED: &str = "SELECT v FROM meta WHERE k = 'writer' FOR SHARE";

/// A bulk operation bounded by [`BULK`]; past it, `database_unavailable`.
pub(super) async fn bulk<T>(
    op: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(BULK, op)
        .await
        .unwrap_or_else(|_| Err(ApiError::of(ErrorCode::DatabaseUnavailable)))
}

/// The connections a publication uses while it holds the tree's lock, on a runtime of their
/// own: readers of the tree block their (shared) runtime's workers on that lock, so I/O
/// driven by those workers could never complete.
pub(in crate::tree) struct JournalPool {
    rt: Option<tokio::runtime::Runtime>,
    pub(super) store: PgStore,
}

impl std::fmt::Debug for JournalPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalPool")
            .field("store", &self.store)
            .finish()
    }
}

impl Drop for JournalPool {
    fn drop(&mut self) {
        // Dropping a runtime may happen inside another one's task: shut down without
        // blocking.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl JournalPool {
    /// Two connections to `url`/`schema`, driven by a one-thread runtime of their own.
    pub(super) async fn connect(url: &str, schema: &str) -> Result<Self, ApiError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("zkcredit-tree-journal")
            .enable_all()
            .build()
            .map_err(ApiError::internal)?;
        let (u, sc) = (url.to_string(), schema.to_string());
        let store = rt
            .spawn(async move { PgStore::connect(&u, &sc, 2, MIGRATIONS).await })
            .await
            .map_err(ApiError::internal)??;
        Ok(Self {
            rt: Some(rt),
            store,
        })
    }

    /// A handle on its runtime.
    pub(super) fn handle(&self) -> Result<tokio::runtime::Handle, ApiError> {
        self.rt
            .as_ref()
            .map(|r| r.handle().clone())
            .ok_or_else(|| ApiError::internal("the journal runtime is shut down"))
    }
}

impl TreeDb {
    /// Records a fresh writer token (after the identity check), waiting for the previous
    /// writer's open transactions.
    pub(super) async fn take_over(store: &PgStore, identity: &str) -> Result<String, ApiError> {
        use rand::RngCore;
        let mut b = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let token = hex::encode(b);
        bulk(async {
            let mut c = store.client().await?;
            let tx = write_tx(&mut c).await?;
            tx.batch_execute(PG_BULK_TIMEOUT).await.map_err(pg)?;
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
}

pub(super) async fn pg_meta(
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
pub(super) async fn check_writer(
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
