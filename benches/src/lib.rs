//! Criterion benchmarks live in `benches/benches/`: `cargo bench -p zkcredit-benches`.
//! Groups: `poseidon/<arity>`, `imt/insert`, `imt/witness`, `prove/<circuit>`,
//! `verify/<circuit>`. The one-table figures come from `zkcredit bench`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
