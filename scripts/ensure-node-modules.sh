#!/usr/bin/env bash
# Installs the locked node modules when they are missing or older than package-lock.json.
# `npm install` rather than `npm ci`: the registry these machines reach lacks some optional
# platform packages of @swc/core (e.g. darwin builds) that the lock file names, and `npm ci`
# refuses a lock with missing optional entries; `npm install` installs the same locked versions
# and skips optional packages that do not exist for this platform.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ ! -d node_modules/tsx ] || [ ! -d node_modules/vitest ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[setup] npm install (locked versions)" >&2
  npm install --no-audit --no-fund >&2
fi
