#!/usr/bin/env bash
# Installs the locked node modules when they are missing or older than package-lock.json, with
# `npm ci`: exactly the versions in the lock file, which it never rewrites (a fresh clone's
# install leaves package-lock.json unchanged). Optional platform packages the registry lacks
# (e.g. some @swc/core builds) are skipped by npm ci as they are by npm install.
# A node_modules that is a symlink (a git worktree sharing another checkout's modules) is left
# alone: npm ci would delete the shared folder first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ ! -d node_modules/tsx ] || [ ! -d node_modules/vitest ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if [ -L node_modules ]; then
    echo "[setup] node_modules is a symlink ($(readlink node_modules)): not reinstalling; run npm ci there if modules are missing" >&2
  elif [ -f package-lock.json ]; then
    echo "[setup] npm ci (locked versions)" >&2
    npm ci --no-audit --no-fund >&2
  else
    echo "[setup] npm install" >&2
    npm install --no-audit --no-fund >&2
  fi
fi
