//! Making a tree's node store whole at start (spec §4.4): on a store that has none yet, or
//! when `--rebuild-tree` asks, every node and the free list are recomputed from the leaf
//! table; on SQLite in committed parts.

use super::nodes::{TreeErr, Writer, NODES_NEXT};
use super::pages::PAGE;
use super::source::{int, leaf_row, meta, set_meta, write_counts};
use crate::store::{Sql, P};
use std::cell::RefCell;
use zkcredit_api::ApiError;
use zkcredit_circuits::imt::paged::hash_leaf_table;
use zkcredit_circuits::imt::Leaf;

/// Makes the node store whole: on a store that has none yet (created by an earlier release,
/// or new) or when `rebuild` is asked, recomputes every node and the free list from the
/// leaf table (streaming, in index order); a new store gets its sentinel leaf.
///
/// On SQLite (`s` a [`PartedTx`](crate::store::PartedTx)) the groups are written into
/// `nodes_next` in committed parts, as a rebuild's are, and swapped in with the free list,
/// the counts and `tree_format` in the caller's last transaction; the old nodes become
/// `nodes_old`, removed in parts after it ([`super::cleanup`]). In one transaction the WAL
/// held the whole node table (≈ 5 GB at 10^8 rows). A crash before the swap leaves the old
/// node store and a `nodes_next` that the next start removes; after it, the new one.
pub(super) fn prepare(s: &mut dyn Sql, depth: usize, rebuild: bool) -> Result<(), ApiError> {
    if meta(s, "tree_format")?.as_deref() == Some("2") && !rebuild {
        return Ok(());
    }
    let pg = s.is_postgres();
    if pg {
        s.exec("DELETE FROM nodes", &[])?;
        s.exec("DELETE FROM free_slots", &[])?;
    } else {
        // What a crash left (a `nodes_next` among it) goes first.
        super::cleanup::clean_up(s)?;
        s.exec(NODES_NEXT, &[])?;
    }
    let has_sentinel = s
        .row("SELECT idx FROM leaves WHERE idx = 0", &[])?
        .is_some();
    if !has_sentinel {
        if s.row("SELECT idx FROM leaves LIMIT 1", &[])?.is_some() {
            return Err(ApiError::internal(
                "the leaf table has leaves but no sentinel at index 0",
            ));
        }
        let z = [0u8; 32];
        let zr = [0u8; 96];
        s.exec(
            "INSERT INTO leaves (idx, key, next_key, rec, salt) VALUES (0, $1, $1, $2, $1)",
            &[P::B(Some(&z)), P::B(Some(&zr))],
        )?;
    }
    let s = RefCell::new(s);
    let mut after = -1i64;
    let mut page: std::vec::IntoIter<(u64, Leaf)> = Vec::new().into_iter();
    let mut done = false;
    let mut holes: Vec<u64> = Vec::new();
    let mut last: Option<u64> = None;
    let leaves = std::iter::from_fn(|| -> Option<Result<(u64, Leaf), TreeErr>> {
        if let Some(x) = page.next() {
            return Some(Ok(x));
        }
        if done {
            return None;
        }
        let read = s.borrow_mut().rows(
            "SELECT idx, key, next_key, rec, salt FROM leaves WHERE idx > $1 ORDER BY idx LIMIT $2",
            &[P::I(after), P::I(PAGE)],
        );
        let rows = match read {
            Ok(r) => r,
            Err(e) => return Some(Err(e.into())),
        };
        done = (rows.len() as i64) < PAGE;
        let mut got = Vec::with_capacity(rows.len());
        for mut r in rows {
            let rest = r.split_off(1);
            let i = match r.pop().map(|c| int(c, "idx")) {
                Some(Ok(i)) => i,
                Some(Err(e)) => return Some(Err(e.into())),
                None => return Some(Err(ApiError::internal("empty row").into())),
            };
            match leaf_row(rest) {
                Ok(l) => got.push((i, l)),
                Err(e) => return Some(Err(e.into())),
            }
            let from = last.map_or(0, |l| l + 1);
            holes.extend(from..i);
            last = Some(i);
            after = i as i64;
        }
        page = got.into_iter();
        page.next().map(Ok)
    });
    let mut w = Writer::new("leaves", if pg { "nodes" } else { "nodes_next" }, false);
    w.parted = !pg;
    let (_, counts) = hash_leaf_table(depth, leaves, |b| {
        w.put(*s.borrow_mut(), b).map_err(TreeErr)
    })
    .map_err(|e| e.0)?;
    let s = s.into_inner();
    w.flush(s)?;
    if !pg {
        s.commit_part()?;
        super::crash_point("prepare:written");
        for q in [
            "ALTER TABLE nodes RENAME TO nodes_old",
            "ALTER TABLE nodes_next RENAME TO nodes",
            "DELETE FROM free_slots",
        ] {
            s.exec(q, &[])?;
        }
    }
    let free: Vec<P<'_>> = holes.iter().map(|i| P::I(*i as i64)).collect();
    s.insert_many("INSERT INTO free_slots (idx)", "", 1, &free)?;
    write_counts(s, counts)?;
    set_meta(s, "tree_format", "2")?;
    tracing::info!(
        rows = counts.len,
        "recomputed the tree's node store from its leaf table"
    );
    Ok(())
}
