//! Issue 13, "choose the storage engine by measurement": the inner nodes of a 4-ary tree
//! stored as one row per parent — key `(level, parent)`, value the four children's hashes
//! (128 bytes) — in redb 5 or in SQLite (a `WITHOUT ROWID` table, WAL, `synchronous=FULL`
//! as the provider store runs). Values are random bytes, not hashes, so the storage cost is
//! measured alone (the hashing is measured by `poseidon/*` in the criterion benches).
//!
//! One engine per process, so `/usr/bin/time -v` reports its peak memory:
//! `cargo run --release -p zkcredit-benches --example node_store -- redb|sqlite GROUPS DIR`
//! writes GROUPS groups in sorted order in one transaction (a bulk build; 3,333,333 groups
//! is a tree of 10^7 rows), reopens the file, reads 10,000 random groups (p50, p99), then
//! rewrites the 16-level paths of 10,000 random leaves in one transaction (a publication of
//! 10,000 changed rows) and prints one table row.
use rand::{Rng, RngCore, SeedableRng};
use std::path::Path;
use std::time::Instant;

const LEVELS: u8 = 16;

/// Groups per level of a tree whose bottom level has `groups` parents, bottom-up.
fn widths(groups: u64) -> Vec<u64> {
    let mut out = vec![groups];
    while out.len() < LEVELS as usize && out[out.len() - 1] > 1 {
        out.push(out[out.len() - 1].div_ceil(4));
    }
    out
}

/// `(level, parent)` of every group, bottom-up, each level in index order (the order a
/// sorted bulk build writes); generated, not held, so the peak memory is the engine's.
fn layout(groups: u64) -> impl Iterator<Item = (u8, u64)> {
    widths(groups)
        .into_iter()
        .enumerate()
        .flat_map(|(l, n)| (0..n).map(move |p| (l as u8, p)))
}

/// The groups on the path of bottom group `p` (what a witness reads, what an update writes).
fn path(mut p: u64, levels: u8) -> Vec<(u8, u64)> {
    (0..levels)
        .map(|l| {
            let k = (l, p);
            p /= 4;
            k
        })
        .collect()
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

trait Engine {
    fn bulk(&mut self, keys: &mut dyn Iterator<Item = (u8, u64)>, rng: &mut rand::rngs::StdRng);
    fn reopen(&mut self);
    fn get(&self, k: (u8, u64)) -> Option<Vec<u8>>;
    fn update(&mut self, keys: &[(u8, u64)], rng: &mut rand::rngs::StdRng);
}

struct Redb {
    path: std::path::PathBuf,
    db: Option<redb::Database>,
}

const GROUPS: redb::TableDefinition<(u8, u64), &[u8]> = redb::TableDefinition::new("groups");

impl Redb {
    fn open(path: &Path) -> Self {
        let db = redb::Database::builder()
            .set_cache_size(256 << 20)
            .create(path)
            .expect("redb create");
        Self {
            path: path.into(),
            db: Some(db),
        }
    }

    fn write(&mut self, keys: &mut dyn Iterator<Item = (u8, u64)>, rng: &mut rand::rngs::StdRng) {
        let db = self.db.as_ref().expect("open");
        let tx = db.begin_write().expect("write tx");
        {
            let mut t = tx.open_table(GROUPS).expect("table");
            let mut v = [0u8; 128];
            for k in keys {
                rng.fill_bytes(&mut v);
                t.insert(k, &v[..]).expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
}

impl Engine for Redb {
    fn bulk(&mut self, keys: &mut dyn Iterator<Item = (u8, u64)>, rng: &mut rand::rngs::StdRng) {
        self.write(keys, rng);
    }

    fn reopen(&mut self) {
        self.db = None;
        self.db = Some(Redb::open(&self.path).db.expect("reopen"));
    }

    fn get(&self, k: (u8, u64)) -> Option<Vec<u8>> {
        use redb::{ReadableDatabase, ReadableTable};
        let tx = self.db.as_ref()?.begin_read().expect("read tx");
        let t = tx.open_table(GROUPS).expect("table");
        t.get(k).expect("get").map(|v| v.value().to_vec())
    }

    fn update(&mut self, keys: &[(u8, u64)], rng: &mut rand::rngs::StdRng) {
        self.write(&mut keys.iter().copied(), rng);
    }
}

struct Sqlite {
    path: std::path::PathBuf,
    conn: rusqlite::Connection,
}

impl Sqlite {
    fn open(path: &Path) -> Self {
        let conn = rusqlite::Connection::open(path).expect("sqlite open");
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -262144;
             CREATE TABLE IF NOT EXISTS groups (level INTEGER NOT NULL, parent INTEGER NOT NULL,
                 v BLOB NOT NULL, PRIMARY KEY (level, parent)) WITHOUT ROWID;",
        )
        .expect("schema");
        Self {
            path: path.into(),
            conn,
        }
    }

    fn write(&mut self, keys: &mut dyn Iterator<Item = (u8, u64)>, rng: &mut rand::rngs::StdRng) {
        let tx = self.conn.transaction().expect("tx");
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO groups (level, parent, v) VALUES (?1, ?2, ?3)",
                )
                .expect("prepare");
            let mut v = [0u8; 128];
            for (l, p) in keys {
                rng.fill_bytes(&mut v);
                st.execute(rusqlite::params![l as i64, p as i64, &v[..]])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
}

impl Engine for Sqlite {
    fn bulk(&mut self, keys: &mut dyn Iterator<Item = (u8, u64)>, rng: &mut rand::rngs::StdRng) {
        self.write(keys, rng);
    }

    fn reopen(&mut self) {
        *self = Sqlite::open(&self.path);
    }

    fn get(&self, (l, p): (u8, u64)) -> Option<Vec<u8>> {
        let mut st = self
            .conn
            .prepare_cached("SELECT v FROM groups WHERE level = ?1 AND parent = ?2")
            .expect("prepare");
        st.query_row(rusqlite::params![l as i64, p as i64], |r| r.get(0))
            .ok()
    }

    fn update(&mut self, keys: &[(u8, u64)], rng: &mut rand::rngs::StdRng) {
        self.write(&mut keys.iter().copied(), rng);
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let engine = args.get(1).map(String::as_str).unwrap_or("redb");
    let groups: u64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3_333_333);
    let dir =
        std::path::PathBuf::from(args.get(3).map(String::as_str).unwrap_or("/tmp/node_store"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let mut e: Box<dyn Engine> = match engine {
        "redb" => Box::new(Redb::open(&dir.join("nodes.redb"))),
        "sqlite" => Box::new(Sqlite::open(&dir.join("nodes.sqlite"))),
        other => panic!("engine {other:?}: redb or sqlite"),
    };
    let levels = widths(groups).len() as u8;
    let total: u64 = widths(groups).iter().sum();
    let t = Instant::now();
    e.bulk(&mut layout(groups), &mut rng);
    let bulk_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    e.reopen();
    let reopen_ms = t.elapsed().as_secs_f64() * 1e3;
    // A witness reads one group per level: time whole paths.
    let mut reads = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let p = rng.gen_range(0..groups);
        let t = Instant::now();
        for k in path(p, levels) {
            assert!(e.get(k).is_some(), "group {k:?} missing");
        }
        reads.push(t.elapsed().as_secs_f64() * 1e6);
    }
    // A publication of 10,000 changed rows rewrites their paths (shared tops once).
    let mut dirty: Vec<(u8, u64)> = (0..10_000)
        .flat_map(|_| path(rng.gen_range(0..groups), levels))
        .collect();
    dirty.sort_unstable();
    dirty.dedup();
    let t = Instant::now();
    e.update(&dirty, &mut rng);
    let update_s = t.elapsed().as_secs_f64();
    println!(
        "| {engine} | {} | {bulk_s:.1} s | {:.0} MB | {reopen_ms:.1} ms | {:.0} µs | {:.0} µs | {} groups in {update_s:.2} s |",
        total,
        dir_bytes(&dir) as f64 / 1e6,
        pct(&mut reads, 0.5),
        pct(&mut reads, 0.99),
        dirty.len(),
    );
}
