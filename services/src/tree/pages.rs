//! Streaming reads for a rebuild (spec §4.4): the old leaves and the journal, each in key
//! order and a page at a time, so a rebuild holds one page of each, whatever the tree's size.

use super::runs::RunMerge;
use super::seqs::SeqSet;
use super::source::leaf_row;
use super::store::{fr_blob, rec_blob};
use crate::store::{Sql, P};
use zkcredit_api::ApiError;
use zkcredit_circuits::field::fr_to_be_bytes;
use zkcredit_circuits::imt::Leaf;
use zkcredit_circuits::Fr;

/// Rows per page when a rebuild reads the old leaves or the journal, and per batch when it
/// writes.
pub(super) const PAGE: i64 = 5_000;

/// The old leaves in key order, the sentinel excluded, read a page at a time.
pub(super) struct KeyPages {
    pub(super) table: &'static str,
    pub(super) after: Vec<u8>,
    pub(super) page: std::vec::IntoIter<(Fr, Leaf)>,
    pub(super) done: bool,
}

impl KeyPages {
    pub(super) fn next(&mut self, s: &mut dyn Sql) -> Result<Option<(Fr, Leaf)>, ApiError> {
        if let Some(x) = self.page.next() {
            return Ok(Some(x));
        }
        if self.done {
            return Ok(None);
        }
        let rows = s.rows(
            &format!(
                "SELECT key, next_key, rec, salt FROM {} WHERE key > $1 ORDER BY key LIMIT $2",
                self.table
            ),
            &[P::B(Some(&self.after)), P::I(PAGE)],
        )?;
        self.done = (rows.len() as i64) < PAGE;
        let page: Vec<(Fr, Leaf)> = rows
            .into_iter()
            .map(|r| leaf_row(r).map(|l| (l.key, l)))
            .collect::<Result<_, _>>()?;
        if let Some((k, _)) = page.last() {
            self.after = fr_to_be_bytes(k).to_vec();
        }
        self.page = page.into_iter();
        Ok(self.page.next())
    }
}

/// One key's net change: its last record, `None` for a delete.
pub(super) type NetChange = (Fr, Option<[Fr; 3]>);

/// The journal's net effect in key order (the last entry of each key), read a page at a
/// time, noting the `seq` of every entry read.
pub(super) struct JournalPages {
    after: (Vec<u8>, i64),
    page: std::collections::VecDeque<(i64, Fr, Option<[Fr; 3]>)>,
    done: bool,
    peeked: Option<NetChange>,
    /// The `seq`s read (every one on PostgreSQL, which removes exactly those; else only the
    /// largest).
    pub(super) seqs: SeqSet,
    pub(super) keys: usize,
    /// SQLite's journal, merged from its sorted runs (`runs`).
    runs: Option<RunMerge>,
}

impl JournalPages {
    pub(super) fn new(seqs: SeqSet) -> Self {
        Self {
            seqs,
            after: (Vec::new(), 0),
            page: Default::default(),
            done: false,
            peeked: None,
            keys: 0,
            runs: None,
        }
    }

    fn read(&mut self, seq: i64) {
        self.seqs.insert(seq);
    }

    fn refill(&mut self, s: &mut dyn Sql) -> Result<(), ApiError> {
        if !self.page.is_empty() || self.done {
            return Ok(());
        }
        if !s.is_postgres() {
            let merge = self.runs.get_or_insert_with(RunMerge::new);
            for _ in 0..PAGE {
                let Some((seq, key, rec)) = merge.next(s)? else {
                    self.done = true;
                    break;
                };
                self.page.push_back((
                    seq,
                    fr_blob(&key)?,
                    rec.as_deref().map(rec_blob).transpose()?,
                ));
            }
            return Ok(());
        }
        let rows = s.rows(
            "SELECT seq, key, rec FROM changes WHERE (key, seq) > ($1, $2) ORDER BY key, seq LIMIT $3",
            &[P::B(Some(&self.after.0)), P::I(self.after.1), P::I(PAGE)],
        )?;
        self.done = (rows.len() as i64) < PAGE;
        for r in rows {
            let [seq, key, rec] = crate::store::cells::<3>(r)?;
            let (seq, key) = (seq.int("seq")?, key.bytes("key")?);
            let rec = rec.opt_bytes("rec")?;
            let k = fr_blob(&key)?;
            self.page
                .push_back((seq, k, rec.as_deref().map(rec_blob).transpose()?));
            self.after = (key, seq);
        }
        Ok(())
    }

    /// The next key's net change (its last entry).
    pub(super) fn next(&mut self, s: &mut dyn Sql) -> Result<Option<NetChange>, ApiError> {
        if let Some(p) = self.peeked.take() {
            return Ok(Some(p));
        }
        self.refill(s)?;
        let Some((seq, key, mut rec)) = self.page.pop_front() else {
            return Ok(None);
        };
        self.read(seq);
        loop {
            self.refill(s)?;
            match self.page.front() {
                Some((_, k, _)) if *k == key => {
                    let (seq, _, r) = self.page.pop_front().expect("front exists");
                    self.read(seq);
                    rec = r;
                }
                _ => break,
            }
        }
        self.keys += 1;
        Ok(Some((key, rec)))
    }

    pub(super) fn peek(&mut self, s: &mut dyn Sql) -> Result<Option<NetChange>, ApiError> {
        if self.peeked.is_none() {
            self.peeked = self.next(s)?;
        }
        Ok(self.peeked)
    }
}
