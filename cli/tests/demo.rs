//! The README's main command: `zkcredit demo` runs the whole story over HTTP and exits 0
//! (the demo itself fails on any unexpected decision).

mod common;

#[test]
fn demo_runs_the_whole_story() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cache = tempfile::tempdir().unwrap();
    let o = common::zk(&["demo", "--cache", cache.path().to_str().unwrap()], &root);
    let out = common::text(&o);
    assert!(o.status.success(), "{out}");
    for needle in [
        "ACCEPTED",
        "§6.3",
        "§6.4 too many active loans",
        "§6.4 outstanding",
        "§6.4 arrears",
        "§6.5",
        "already_accepted",
        "Ana borrow(2 ETH): ACCEPTED",
        "demo finished",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(!out.contains("UNEXPECTED"), "{out}");
}
