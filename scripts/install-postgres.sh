#!/usr/bin/env bash
# Installs the PostgreSQL server the verifier-fleet tests start throw-away clusters of
# (Debian's postgresql-15: initdb, pg_ctl, psql). Idempotent: does nothing when a server is
# already there (pg_config --bindir, /usr/lib/postgresql/*/bin, or ZKCREDIT_PG_BINDIR).
set -euo pipefail
have() {
  if [ -n "${ZKCREDIT_PG_BINDIR:-}" ] && [ -x "$ZKCREDIT_PG_BINDIR/initdb" ]; then return 0; fi
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then return 0; fi
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
if have; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL's server is missing and this is not a Debian system: install PostgreSQL 15 (initdb, pg_ctl, psql) and set ZKCREDIT_PG_BINDIR to its bin directory" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "installing postgresql-15 (Debian) for the verifier-fleet tests" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null
have || { echo "postgresql-15 installed but initdb not found" >&2; exit 1; }
