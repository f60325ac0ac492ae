//! The publication's recovery rules against a store that fails on purpose: a commit that
//! did not happen, a commit whose acknowledgement was lost, and a store that cannot be read
//! back (spec §4.4). The store is an in-memory [`Journal`] keeping what a real one commits.

use super::*;
use std::collections::BTreeMap;

const DEPTH: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fail {
    No,
    /// The transaction fails before it commits.
    Before,
    /// It commits, but the answer is lost.
    AckLost,
}

struct Fake {
    leaves: BTreeMap<u64, Leaf>,
    root: Option<String>,
    at: u64,
    changes: Vec<(i64, Fr, Option<[Fr; 3]>)>,
    fail: Fail,
    unreadable: bool,
}

fn lost() -> ApiError {
    ApiError::of(ErrorCode::DatabaseUnavailable)
}

impl Journal for Fake {
    fn read_changes(&mut self) -> Result<(Applied, Net), ApiError> {
        let mut applied = Applied::default();
        let mut net = Net::new();
        for (seq, k, v) in &self.changes {
            applied.max = *seq;
            applied.seqs.push(*seq);
            net.insert(*k, *v);
        }
        Ok((applied, net))
    }

    fn commit(
        &mut self,
        full: bool,
        leaves: &mut dyn Iterator<Item = (u64, Option<Leaf>)>,
        root: &Fr,
        now: u64,
        applied: &Applied,
    ) -> Result<(), ApiError> {
        if self.fail == Fail::Before {
            return Err(lost());
        }
        if full {
            self.leaves.clear();
        }
        for (i, l) in leaves {
            match l {
                Some(l) => self.leaves.insert(i, l),
                None => self.leaves.remove(&i),
            };
        }
        self.root = Some(fr_to_dec(root));
        self.at = now;
        self.changes.retain(|(s, _, _)| !applied.seqs.contains(s));
        match self.fail {
            Fail::AckLost => Err(lost()),
            _ => Ok(()),
        }
    }

    fn load(&mut self, depth: usize) -> Result<Loaded, ApiError> {
        if self.unreadable {
            return Err(lost());
        }
        let tree = if self.leaves.is_empty() {
            IndexedMerkleTree::new(depth).map_err(ApiError::internal)?
        } else {
            IndexedMerkleTree::from_leaves(depth, self.leaves.clone())
                .map_err(ApiError::internal)?
        };
        Ok(Loaded {
            tree,
            published_root: self.root.clone(),
            published_at: self.at,
        })
    }
}

fn rec(k: u64) -> [Fr; 3] {
    [Fr::from(k), Fr::from(2 * k), Fr::from(0u64)]
}

/// An empty published tree and a store holding it, with key 7 staged.
fn start(fail: Fail, unreadable: bool) -> (Fake, RwLock<Published>) {
    let tree = IndexedMerkleTree::new(DEPTH).unwrap();
    let mut fake = Fake {
        leaves: BTreeMap::new(),
        root: None,
        at: 0,
        changes: vec![(1, Fr::from(7u64), Some(rec(7)))],
        fail,
        unreadable,
    };
    fake.leaves = tree.occupied_leaves().collect();
    fake.root = Some(fr_to_dec(&tree.root()));
    let state = RwLock::new(Published {
        root: tree.root(),
        tree,
        published_at: 0,
        stale: None,
    });
    (fake, state)
}

fn empty_root() -> Fr {
    IndexedMerkleTree::new(DEPTH).unwrap().root()
}

#[test]
fn a_failed_commit_leaves_the_committed_tree_in_memory() {
    let (mut fake, state) = start(Fail::Before, false);
    assert!(apply_and_persist(&mut fake, &state, DEPTH).is_err());
    {
        let g = state.read().unwrap();
        assert_eq!(g.root, empty_root());
        assert_eq!(
            g.tree.root(),
            empty_root(),
            "the applied change was rolled back"
        );
        assert_eq!(g.tree.get(&Fr::from(7u64)), None);
        assert!(g.stale.is_none());
    }
    fake.fail = Fail::No;
    let rep = apply_and_persist(&mut fake, &state, DEPTH).unwrap();
    assert_eq!(rep.changes_applied, 1);
    let g = state.read().unwrap();
    assert_eq!(g.tree.get(&Fr::from(7u64)), Some(rec(7)));
    assert_eq!(Some(fr_to_dec(&g.root)), fake.root);
}

#[test]
fn a_commit_whose_answer_was_lost_is_taken_from_the_store() {
    let (mut fake, state) = start(Fail::AckLost, false);
    assert!(apply_and_persist(&mut fake, &state, DEPTH).is_err());
    let g = state.read().unwrap();
    assert_ne!(g.root, empty_root(), "the commit happened");
    assert_eq!(Some(fr_to_dec(&g.root)), fake.root);
    assert_eq!(g.published_at, fake.at, "the stored time, not a guess");
    assert_eq!(g.tree.get(&Fr::from(7u64)), Some(rec(7)));
    assert!(fake.changes.is_empty());
    assert!(g.stale.is_none());
}

#[test]
fn an_unreadable_store_marks_the_tree_stale_until_a_publication_reloads_it() {
    let (mut fake, state) = start(Fail::Before, true);
    assert!(apply_and_persist(&mut fake, &state, DEPTH).is_err());
    assert!(
        state.read().unwrap().stale.is_some(),
        "the tree holds an unpublished change: no witness from it"
    );
    // Still unreadable: the next publication fails before touching anything.
    fake.fail = Fail::No;
    assert!(apply_and_persist(&mut fake, &state, DEPTH).is_err());
    assert!(state.read().unwrap().stale.is_some());
    fake.unreadable = false;
    let rep = apply_and_persist(&mut fake, &state, DEPTH).unwrap();
    assert_eq!(rep.changes_applied, 1);
    let g = state.read().unwrap();
    assert!(g.stale.is_none());
    assert_eq!(g.tree.get(&Fr::from(7u64)), Some(rec(7)));
    assert_eq!(Some(fr_to_dec(&g.root)), fake.root);
}
