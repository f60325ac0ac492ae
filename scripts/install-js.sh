#!/usr/bin/env bash
# Installs the pinned JavaScript peer toolchain (snarkjs, circomlibjs) into js/node_modules
# from js/package-lock.json. Needs only Node.js and npm; idempotent.
set -euo pipefail
cd "$(dirname "$0")/../js"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.zkcredit-lock 2>/dev/null; then
  exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
cp package-lock.json node_modules/.zkcredit-lock
