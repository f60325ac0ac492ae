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
        // The wallet says why in the borrower's words, with their own figures (issue 17).
        "you owe 550,000 in total across all lenders; this lender accepts at most 500,000",
        "your credit score is 610; this lender asks for at least 650",
        "Hal's wallet as a web page",
        "already_accepted",
        "Ana borrow(2 ETH): ACCEPTED",
        "demo finished",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(!out.contains("UNEXPECTED"), "{out}");
}
