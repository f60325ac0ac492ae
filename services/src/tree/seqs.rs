//! The journal entries one publication read, by `seq` (spec §4.4): on PostgreSQL the
//! publication removes exactly those (concurrent stages commit out of `seq` order, so "every
//! entry up to the largest read" could remove one not yet applied); on SQLite, where the
//! store's one writer connection serialises writes, every entry up to the largest.
//!
//! A publication of 10^8 entries kept every `seq` as an `i64` (800 MB). Here they are a
//! bitmap over the range the journal spanned when the publication began — one bit per
//! entry, 12.5 MB for 10^8 — with the few entries outside it (committed during the
//! publication) kept aside; deletion goes by runs of consecutive entries.

/// Largest bitmap (bits): a journal spanning more `seq` values than this (sparse after many
/// publications with late commits) keeps the entries in a list instead.
const MAX_BITMAP_BITS: i64 = 1 << 32;

/// A set of journal `seq`s.
#[derive(Debug, Default)]
pub(super) struct SeqSet {
    /// Keep the entries (PostgreSQL), or only the largest (SQLite).
    keep: bool,
    lo: i64,
    bits: Vec<u64>,
    outside: Vec<i64>,
    max: Option<i64>,
}

impl SeqSet {
    /// Only the largest `seq` (SQLite).
    pub(super) fn max_only() -> Self {
        Self::default()
    }

    /// Every `seq`, with a bitmap over `span` (the journal's `MIN(seq)`, `MAX(seq)` when the
    /// publication began; `None` when it was empty).
    pub(super) fn keeping(span: Option<(i64, i64)>) -> Self {
        let mut s = Self {
            keep: true,
            ..Self::default()
        };
        if let Some((lo, hi)) = span {
            let width = hi.saturating_sub(lo).saturating_add(1);
            if (1..=MAX_BITMAP_BITS).contains(&width) {
                s.lo = lo;
                s.bits = vec![0; (width as usize).div_ceil(64)];
            }
        }
        s
    }

    /// Notes that entry `seq` was read.
    pub(super) fn insert(&mut self, seq: i64) {
        self.max = self.max.max(Some(seq));
        if !self.keep {
            return;
        }
        let off = seq.checked_sub(self.lo).filter(|o| *o >= 0);
        match off.and_then(|o| usize::try_from(o).ok()) {
            Some(o) if o / 64 < self.bits.len() => self.bits[o / 64] |= 1 << (o % 64),
            _ => self.outside.push(seq),
        }
    }

    /// The largest `seq` read.
    pub(super) fn max(&self) -> Option<i64> {
        self.max
    }

    /// The entries kept, as sorted, disjoint, inclusive runs `(first, last)` of consecutive
    /// `seq`s, adjacent runs merged.
    pub(super) fn runs(&self) -> Vec<(i64, i64)> {
        let mut all: Vec<(i64, i64)> = Vec::new();
        let push = |x: i64, all: &mut Vec<(i64, i64)>| match all.last_mut() {
            Some((_, last)) if *last + 1 == x => *last = x,
            Some((_, last)) if *last >= x => {}
            _ => all.push((x, x)),
        };
        let mut outside = self.outside.clone();
        outside.sort_unstable();
        let mut out = outside.into_iter().peekable();
        for (w, word) in self.bits.iter().enumerate() {
            let mut word = *word;
            while word != 0 {
                let b = word.trailing_zeros() as i64;
                let x = self.lo + (w as i64) * 64 + b;
                while let Some(o) = out.next_if(|o| *o < x) {
                    push(o, &mut all);
                }
                push(x, &mut all);
                word &= word - 1;
            }
        }
        for o in out {
            push(o, &mut all);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The runs cover exactly the entries noted, inside and outside the bitmap.
        #[test]
        fn runs_are_exactly_the_entries(
            span in proptest::option::of((0i64..200, 0i64..200)),
            seqs in proptest::collection::btree_set(-50i64..400, 0..120),
        ) {
            let span = span.map(|(a, b)| (a.min(b), a.max(b)));
            let mut set = SeqSet::keeping(span);
            for s in &seqs {
                set.insert(*s);
            }
            let runs = set.runs();
            let mut covered = std::collections::BTreeSet::new();
            for w in runs.windows(2) {
                prop_assert!(w[0].1 + 1 < w[1].0, "runs sorted, disjoint, merged: {runs:?}");
            }
            for (a, b) in &runs {
                prop_assert!(a <= b);
                covered.extend(*a..=*b);
            }
            prop_assert_eq!(&covered, &seqs);
            prop_assert_eq!(set.max(), seqs.iter().next_back().copied());
        }
    }

    #[test]
    fn a_dense_journal_is_one_run_and_one_bit_per_entry() {
        let mut set = SeqSet::keeping(Some((1_000, 1_000_000)));
        for s in 1_000..=1_000_000 {
            set.insert(s);
        }
        assert_eq!(set.runs(), vec![(1_000, 1_000_000)]);
        assert_eq!(set.bits.len(), (999_001usize).div_ceil(64));
        assert!(set.outside.is_empty());
        // A span too wide for a bitmap keeps a list.
        let mut wide = SeqSet::keeping(Some((0, i64::MAX)));
        wide.insert(5);
        assert!(wide.bits.is_empty());
        assert_eq!(wide.runs(), vec![(5, 5)]);
        let mut m = SeqSet::max_only();
        m.insert(7);
        m.insert(3);
        assert_eq!((m.max(), m.runs()), (Some(7), vec![]));
    }
}
