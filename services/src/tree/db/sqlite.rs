//! The tree's queries on the embedded SQLite file.

use super::*;

pub(super) fn sqlite_meta(
    conn: &rusqlite::Connection,
    k: &str,
) -> Result<Option<String>, ApiError> {
    conn.query_row(&lite(META), [k], |r| r.get(0))
        .optional()
        .map_err(db)
}

pub(super) fn sqlite_set_meta(
    conn: &rusqlite::Connection,
    k: &str,
    v: &str,
) -> Result<(), ApiError> {
    conn.execute(&lite(SET_META), [k, v])
        .map(|_| ())
        .map_err(db)
}

pub(super) fn sqlite_stage(
    conn: &mut rusqlite::Connection,
    changes: &[(Fr, Option<[Fr; 3]>)],
) -> Result<(), ApiError> {
    let tx = conn.transaction().map_err(db)?;
    {
        let mut st = tx.prepare(&lite(INSERT_CHANGE)).map_err(db)?;
        for (i, (k, v)) in changes.iter().enumerate() {
            if i == changes.len() / 2 && i > 0 {
                crate::tree::crash_point("stage:middle");
            }
            st.execute(params![
                fr_to_be_bytes(k).to_vec(),
                v.as_ref().map(rec_bytes)
            ])
            .map_err(db)?;
        }
    }
    tx.commit().map_err(db)
}
