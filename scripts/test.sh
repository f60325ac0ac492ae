#!/usr/bin/env bash
# The whole test suite: installs the pinned JavaScript peer toolchain (snarkjs, circomlibjs)
# from js/package-lock.json and, when missing, Debian's PostgreSQL 15 server (the verifier
# fleet tests start throw-away clusters of it) and Debian's Chromium with chromedriver (the
# wallet page's browser test drives it headless), then runs every Rust test with optimised code
# (arkworks in a debug build is ~10x slower). Needs the Rust toolchain, Node.js and npm, and
# on a machine without PostgreSQL or Chromium, apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-js.sh
bash scripts/install-postgres.sh
bash scripts/install-chromium.sh
cargo test --release --workspace --locked
