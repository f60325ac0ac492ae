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
        for (k, v) in changes {
            st.execute(params![
                fr_to_be_bytes(k).to_vec(),
                v.as_ref().map(rec_bytes)
            ])
            .map_err(db)?;
        }
    }
    tx.commit().map_err(db)
}

pub(super) fn sqlite_load(conn: &rusqlite::Connection, depth: usize) -> Result<Loaded, ApiError> {
    let mut stmt = conn.prepare(SELECT_LEAVES).map_err(|e| {
        ApiError::internal(format!(
            "store's leaf table is unreadable ({e}); a store written before salted leaves \
             (spec §4.4) must be re-imported into a new data directory"
        ))
    })?;
    let mut rows = stmt.query([]).map_err(db)?;
    let mut leaves = Vec::new();
    while let Some(r) = rows.next().map_err(db)? {
        let idx: i64 = r.get(0).map_err(db)?;
        let (k, n, v, s): (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) = (
            r.get(1).map_err(db)?,
            r.get(2).map_err(db)?,
            r.get(3).map_err(db)?,
            r.get(4).map_err(db)?,
        );
        leaves.push((idx as u64, leaf_of(&k, &n, &v, &s)?));
    }
    Ok(Loaded {
        tree: build(depth, leaves)?,
        published_root: sqlite_meta(conn, "published_root")?,
        published_at: parse_at(sqlite_meta(conn, "published_at")?),
    })
}

/// The SQLite connection as a [`Journal`]: writes are serialised by the file's lock, so
/// the applied entries are "every entry up to the last one read".
pub(super) struct SqliteJournal<'a>(pub(super) &'a mut rusqlite::Connection);

impl Journal for SqliteJournal<'_> {
    fn read_changes(&mut self) -> Result<(Applied, Net), ApiError> {
        let mut stmt = self.0.prepare(SELECT_CHANGES).map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        let (mut applied, mut out) = (Applied::default(), BTreeMap::new());
        while let Some(r) = rows.next().map_err(db)? {
            applied.max = r.get(0).map_err(db)?;
            let key: Vec<u8> = r.get(1).map_err(db)?;
            let rec: Option<Vec<u8>> = r.get(2).map_err(db)?;
            out.insert(fr_blob(&key)?, rec.as_deref().map(rec_blob).transpose()?);
        }
        Ok((applied, out))
    }

    fn commit(
        &mut self,
        full: bool,
        leaves: &mut dyn Iterator<Item = (u64, Option<Leaf>)>,
        root: &Fr,
        now: u64,
        applied: &Applied,
    ) -> Result<(), ApiError> {
        let tx = self.0.transaction().map_err(db)?;
        if full {
            tx.execute("DELETE FROM leaves", []).map_err(db)?;
        }
        for (i, leaf) in leaves {
            match leaf {
                Some(l) => tx
                    .prepare_cached(
                        "INSERT INTO leaves (idx, key, next_key, rec, salt) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT(idx) DO UPDATE SET key = ?2, next_key = ?3, rec = ?4, salt = ?5",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            i as i64,
                            fr_to_be_bytes(&l.key).to_vec(),
                            fr_to_be_bytes(&l.next_key).to_vec(),
                            rec_bytes(&l.values),
                            fr_to_be_bytes(&l.salt).to_vec()
                        ])
                    })
                    .map_err(db)?,
                None => tx
                    .prepare_cached("DELETE FROM leaves WHERE idx = ?1")
                    .and_then(|mut st| st.execute([i as i64]))
                    .map_err(db)?,
            };
        }
        sqlite_set_meta(&tx, "published_root", &fr_to_dec(root))?;
        sqlite_set_meta(&tx, "published_at", &now.to_string())?;
        sqlite_set_meta(&tx, "registry_pending", "1")?;
        tx.execute("DELETE FROM changes WHERE seq <= ?1", [applied.max])
            .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn load(&mut self, depth: usize) -> Result<Loaded, ApiError> {
        sqlite_load(self.0, depth)
    }
}
