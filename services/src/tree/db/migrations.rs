//! The tree's schema migrations, in both dialects (spec §4.4).

use crate::store::Migration;

/// The tree's migrations, in both dialects. Version 1 on SQLite is the schema every earlier
/// release created (`IF NOT EXISTS`, so an existing store is adopted as is).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "provider tree: leaves, journal, meta",
        sqlite: "
CREATE TABLE IF NOT EXISTS leaves (
    idx INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    next_key BLOB NOT NULL,
    rec BLOB NOT NULL,
    salt BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key BLOB NOT NULL,
    rec BLOB
);
CREATE TABLE IF NOT EXISTS meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
",
        postgres: "
CREATE TABLE leaves (
    idx BIGINT PRIMARY KEY,
    key BYTEA NOT NULL,
    next_key BYTEA NOT NULL,
    rec BYTEA NOT NULL,
    salt BYTEA NOT NULL
);
CREATE TABLE changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key BYTEA NOT NULL,
    rec BYTEA
);
CREATE INDEX changes_key ON changes (key, seq);
CREATE TABLE meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
",
    },
    Migration {
        version: 2,
        name: "provider tree on disk: inner nodes, free list, key index (spec 4.4)",
        sqlite: "
CREATE TABLE nodes (
    level INTEGER NOT NULL,
    parent INTEGER NOT NULL,
    c BLOB NOT NULL,
    PRIMARY KEY (level, parent)
) WITHOUT ROWID;
CREATE TABLE free_slots (idx INTEGER PRIMARY KEY);
CREATE INDEX leaves_key ON leaves (key);
CREATE INDEX IF NOT EXISTS changes_key ON changes (key, seq);
",
        postgres: "
CREATE TABLE nodes (
    level BIGINT NOT NULL,
    parent BIGINT NOT NULL,
    c BYTEA NOT NULL,
    PRIMARY KEY (level, parent)
);
CREATE TABLE free_slots (idx BIGINT PRIMARY KEY);
CREATE INDEX leaves_key ON leaves (key);
",
    },
    // No new table: a SQLite store now may hold a `journal_applied` mark and the
    // `_next` / `_old` tables of a publication in parts (spec §4.4, `cleanup`), which an
    // older binary would misread (re-applying marked entries, failing its own rebuild), so
    // the version moves and older binaries refuse the store (on PostgreSQL too, which never
    // holds either: versions are shared by both backends; harmless there).
    Migration {
        version: 3,
        name:
            "publication in parts on SQLite: journal_applied mark, _next and _old tables (spec 4.4)",
        sqlite: "SELECT 1;",
        postgres: "SELECT 1;",
    },
    // SQLite's journal becomes sorted runs without a key index (spec §4.4, `runs`). The
    // entries staged before are cut into runs where their keys go down, their `seq`s skip,
    // or the `journal_applied` mark falls (a run lies wholly on one side of it).
    // PostgreSQL keeps its index.
    Migration {
        version: 4,
        name: "journal as sorted runs on SQLite (spec 4.4)",
        sqlite: "
DROP INDEX IF EXISTS changes_key;
CREATE TABLE runs (first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL);
INSERT INTO runs (first_seq, last_seq)
SELECT MIN(seq), MAX(seq) FROM (
    SELECT seq, SUM(brk) OVER (ORDER BY seq) AS run FROM (
        SELECT seq, CASE
            WHEN LAG(key) OVER w <= key AND LAG(seq) OVER w = seq - 1
                AND seq - 1 <> COALESCE(
                    (SELECT CAST(v AS INTEGER) FROM meta WHERE k = 'journal_applied'), 0)
            THEN 0 ELSE 1 END AS brk
        FROM changes WINDOW w AS (ORDER BY seq)
    )
) GROUP BY run;
",
        postgres: "SELECT 1;",
    },
];
