//! The verifier's decisions on its store: whether a nullifier or an origination tag is
//! recorded, and [`VerifierDb::record`], which records both and consumes the request in one
//! transaction (the module docs of [`super`]).

use super::VerifierDb;
use super::ORIGINATION_PG_SCHEMA;
use crate::store::{bounded, db, pg};
use rusqlite::OptionalExtension;
use zkcredit_api::verifier::signal_field;
use zkcredit_api::{ApiError, ErrorCode};
use zkcredit_circuits::eligibility::{PI_NULLIFIER, PI_ORIGINATION_TAG};

/// A tag to record with a nullifier: the tag (decimal) and its epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagRecord {
    /// The origination tag (decimal, non-zero).
    pub tag: String,
    /// `floor(now / EPOCH_SECONDS)` of the proof.
    pub epoch: i64,
}

/// `origination_limit_reached`.
fn tag_used() -> ApiError {
    ApiError::new(
        ErrorCode::OriginationLimitReached,
        "this origination tag is recorded: the borrower's limit of new loans for this epoch is reached",
    )
    .field(signal_field(PI_ORIGINATION_TAG))
}

/// The origination-tag table of each backend.
fn tags_table(pg: bool) -> String {
    if pg {
        format!("{ORIGINATION_PG_SCHEMA}.origination_tags")
    } else {
        "origination_tags".into()
    }
}

/// The scope of the request `nonce` if it is open at `now` (`not_found` otherwise): what
/// both questions a wallet asks before proving check first.
const OPEN_SCOPE: &str = "SELECT scope FROM requests WHERE nonce = $1 AND expiry > $2";

fn no_open_request() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such open request")
}

fn open_scope_sqlite(
    conn: &rusqlite::Connection,
    nonce: &str,
    now: i64,
) -> Result<String, ApiError> {
    conn.query_row(
        &OPEN_SCOPE.replace('$', "?"),
        rusqlite::params![nonce, now],
        |r| r.get(0),
    )
    .optional()
    .map_err(db)?
    .ok_or_else(no_open_request)
}

async fn open_scope_pg(
    c: &deadpool_postgres::Object,
    nonce: &str,
    now: i64,
) -> Result<String, ApiError> {
    c.query_opt(OPEN_SCOPE, &[&nonce, &now])
        .await
        .map_err(pg)?
        .ok_or_else(no_open_request)?
        .try_get(0)
        .map_err(pg)
}

impl VerifierDb {
    /// Whether `nullifier` is recorded in the scope of the request `nonce`, if that request
    /// is open at `now` (`not_found` otherwise).
    pub async fn nullifier_recorded(
        &self,
        nonce: String,
        nullifier: String,
        now: i64,
    ) -> Result<bool, ApiError> {
        const SEEN: &str = "SELECT 1 FROM nullifiers WHERE scope = $1 AND nullifier = $2";
        match self {
            Self::Sqlite(s) => {
                s.with(move |conn| {
                    let scope = open_scope_sqlite(conn, &nonce, now)?;
                    conn.query_row(&SEEN.replace('$', "?"), [scope, nullifier], |_| Ok(()))
                        .optional()
                        .map(|r| r.is_some())
                        .map_err(db)
                })
                .await
            }
            Self::Postgres(p) => {
                bounded(async move {
                    let c = p.client().await?;
                    let scope = open_scope_pg(&c, &nonce, now).await?;
                    let seen = c.query_opt(SEEN, &[&scope, &nullifier]).await.map_err(pg)?;
                    Ok(seen.is_some())
                })
                .await
            }
        }
    }

    /// Whether the origination `tag` (decimal) is recorded, asked while the request `nonce`
    /// is open at `now` (`not_found` otherwise).
    pub async fn tag_recorded(
        &self,
        nonce: String,
        tag: String,
        now: i64,
    ) -> Result<bool, ApiError> {
        match self {
            Self::Sqlite(s) => {
                s.with(move |conn| {
                    open_scope_sqlite(conn, &nonce, now)?;
                    let q = format!("SELECT 1 FROM {} WHERE tag = ?1", tags_table(false));
                    conn.query_row(&q, [tag], |_| Ok(()))
                        .optional()
                        .map(|r| r.is_some())
                        .map_err(db)
                })
                .await
            }
            Self::Postgres(p) => {
                bounded(async move {
                    let c = p.client().await?;
                    open_scope_pg(&c, &nonce, now).await?;
                    let q = format!("SELECT 1 FROM {} WHERE tag = $1", tags_table(true));
                    Ok(c.query_opt(&q, &[&tag]).await.map_err(pg)?.is_some())
                })
                .await
            }
        }
    }

    /// Records `nullifier` in `scope` and consumes the request `nonce`, in one transaction
    /// (module docs): `already_accepted` if this nullifier is recorded for this very
    /// request (a retry), `nullifier_reused` if for another one, `request_already_used` if
    /// the request was answered by another proof; with a `tag`, `origination_limit_reached`
    /// if it is recorded (module docs); then nothing is written.
    pub async fn record(
        &self,
        scope: String,
        nullifier: String,
        nonce: String,
        now: i64,
        tag: Option<TagRecord>,
    ) -> Result<(), ApiError> {
        const INSERT: &str = "INSERT INTO nullifiers (scope, nullifier, request_nonce, recorded_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
        const USE: &str = "UPDATE requests SET used_at = $1 WHERE nonce = $2 AND used_at IS NULL";
        const HOLDER: &str =
            "SELECT request_nonce FROM nullifiers WHERE scope = $1 AND nullifier = $2";
        // The nullifier is recorded: for this very request (a retry of an accepted
        // submission whose answer was lost) or for another one.
        let reused = |holder: Option<String>, nonce: &str| {
            if holder.as_deref() == Some(nonce) {
                ApiError::of(ErrorCode::AlreadyAccepted)
            } else {
                ApiError::new(
                    ErrorCode::NullifierReused,
                    "this person already applied in this scope",
                )
                .field(signal_field(PI_NULLIFIER))
            }
        };
        let used = || {
            ApiError::new(
                ErrorCode::RequestAlreadyUsed,
                "this request was already answered",
            )
        };
        match self {
            Self::Sqlite(s) => {
                s.with(move |conn| {
                    let tx = conn
                        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                        .map_err(db)?;
                    let inserted = tx
                        .execute(
                            &INSERT.replace('$', "?"),
                            rusqlite::params![scope, nullifier, nonce, now],
                        )
                        .map_err(db)?;
                    if inserted == 0 {
                        let holder = tx
                            .query_row(
                                &HOLDER.replace('$', "?"),
                                rusqlite::params![scope, nullifier],
                                |r| r.get(0),
                            )
                            .optional()
                            .map_err(db)?;
                        return Err(reused(holder, &nonce));
                    }
                    if let Some(t) = &tag {
                        let q = format!(
                            "INSERT INTO {} (tag, epoch) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                            tags_table(false)
                        );
                        if tx
                            .execute(&q, rusqlite::params![t.tag, t.epoch])
                            .map_err(db)?
                            == 0
                        {
                            return Err(tag_used());
                        }
                    }
                    let n = tx
                        .execute(&USE.replace('$', "?"), rusqlite::params![now, nonce])
                        .map_err(db)?;
                    if n == 0 {
                        return Err(used());
                    }
                    tx.commit().map_err(db)
                })
                .await
            }
            Self::Postgres(p) => {
                bounded(async move {
                    let mut c = p.client().await?;
                    let tx = crate::store::write_tx(&mut c).await?;
                    let insert = tx.prepare_cached(INSERT).await.map_err(pg)?;
                    let inserted = tx
                        .execute(&insert, &[&scope, &nullifier, &nonce, &now])
                        .await
                        .map_err(pg)?;
                    if inserted == 0 {
                        // A new statement: READ COMMITTED sees the row the winner committed.
                        let holder = tx
                            .query_opt(HOLDER, &[&scope, &nullifier])
                            .await
                            .map_err(pg)?
                            .map(|r| r.try_get(0))
                            .transpose()
                            .map_err(pg)?;
                        return Err(reused(holder, &nonce));
                    }
                    if let Some(t) = &tag {
                        // The primary key decides between lenders too: a concurrent insert
                        // of the same tag waits for the winner's commit, then inserts nothing.
                        let q = format!(
                            "INSERT INTO {} (tag, epoch) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                            tags_table(true)
                        );
                        if tx.execute(&q, &[&t.tag, &t.epoch]).await.map_err(pg)? == 0 {
                            return Err(tag_used());
                        }
                    }
                    let update = tx.prepare_cached(USE).await.map_err(pg)?;
                    if tx.execute(&update, &[&now, &nonce]).await.map_err(pg)? == 0 {
                        return Err(used());
                    }
                    tx.commit().await.map_err(pg)
                })
                .await
            }
        }
    }
}
