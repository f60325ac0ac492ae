#!/usr/bin/env bash
# The whole test suite: installs the pinned JavaScript peer toolchain (snarkjs, circomlibjs)
# from js/package-lock.json, then runs every Rust test with optimised code (arkworks in a
# debug build is ~10x slower). Needs only the Rust toolchain, Node.js and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-js.sh
cargo test --release --workspace --locked
