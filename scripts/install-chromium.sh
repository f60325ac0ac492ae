#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver (packages chromium, chromium-driver:
# /usr/bin/chromium, /usr/bin/chromedriver) for the wallet page's browser test
# (cli/tests/wallet_browser.rs). Idempotent: does nothing when both are there (or when
# ZKCREDIT_CHROMIUM and ZKCREDIT_CHROMEDRIVER name them).
set -euo pipefail
chromium="${ZKCREDIT_CHROMIUM:-/usr/bin/chromium}"
driver="${ZKCREDIT_CHROMEDRIVER:-/usr/bin/chromedriver}"
if [ -x "$chromium" ] && [ -x "$driver" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Chromium and chromedriver are missing and this is not a Debian system: install them and set ZKCREDIT_CHROMIUM and ZKCREDIT_CHROMEDRIVER to their paths" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing chromium and chromium-driver (Debian) for the wallet page's browser test" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || { echo "chromium installed but /usr/bin/chromium or /usr/bin/chromedriver not found" >&2; exit 1; }
